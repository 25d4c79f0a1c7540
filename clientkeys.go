package cliproxy

import (
	"fmt"
	"os"
	"strconv"

	"github.com/caddyserver/caddy/v2"

	"github.com/caddy-cliproxy/cliproxy/access"
)

// buildKeySet gathers the client keys from the config and the keys file.
func (h *Handler) buildKeySet(repl *caddy.Replacer) (*access.KeySet, error) {
	entries := make([]access.Entry, 0, len(h.ClientKeys))
	for i, k := range h.ClientKeys {
		name := k.Name
		if name == "" {
			name = "member-" + strconv.Itoa(i+1)
		}
		e := access.Entry{Name: name, SHA256: k.SHA256}
		if k.Key != "" {
			e.Key = repl.ReplaceKnown(k.Key, "")
			if e.Key == "" {
				return nil, fmt.Errorf("client key %q is empty after resolving placeholders", name)
			}
		}
		entries = append(entries, e)
	}
	if h.ClientKeysFile != "" {
		f, err := os.Open(h.ClientKeysFile)
		if err != nil {
			return nil, fmt.Errorf("opening client_keys_file: %w", err)
		}
		defer f.Close()
		fromFile, err := access.ParseKeysFile(f)
		if err != nil {
			return nil, fmt.Errorf("client_keys_file %s: %w", h.ClientKeysFile, err)
		}
		entries = append(entries, fromFile...)
	}
	if len(entries) == 0 && len(h.ClientIdentities) == 0 {
		return nil, fmt.Errorf("at least one client_key, a client_keys_file or a client_identity is required")
	}
	ks, err := access.NewKeySet(entries)
	if err != nil {
		return nil, err
	}
	return ks, nil
}
