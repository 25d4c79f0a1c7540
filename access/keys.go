package access

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
)

// Entry is one client key as configured: a member's name and either the key
// itself or its SHA-256 hash.
type Entry struct {
	// Name is the principal the key authenticates, shown in logs and
	// metrics instead of the key.
	Name string
	// Key is the secret, when configured in clear.
	Key string
	// SHA256 is the hex SHA-256 of the secret, when configured hashed.
	SHA256 string
}

type storedKey struct {
	name string
	hash [sha256.Size]byte
}

// KeySet is an immutable set of client keys.
type KeySet struct {
	keys []storedKey
}

// NewKeySet builds a key set from entries. Every entry needs a name and a
// key or a well-formed hash; two entries with the same key are an error,
// since one principal would shadow the other.
func NewKeySet(entries []Entry) (*KeySet, error) {
	ks := &KeySet{keys: make([]storedKey, 0, len(entries))}
	seen := make(map[[sha256.Size]byte]string, len(entries))
	for i, e := range entries {
		if e.Name == "" {
			return nil, fmt.Errorf("client key %d: missing name", i+1)
		}
		var sk storedKey
		sk.name = e.Name
		switch {
		case e.Key != "" && e.SHA256 != "":
			return nil, fmt.Errorf("client key %q: both a key and a hash given", e.Name)
		case e.Key != "":
			sk.hash = sha256.Sum256([]byte(e.Key))
		case e.SHA256 != "":
			raw, err := hex.DecodeString(e.SHA256)
			if err != nil || len(raw) != sha256.Size {
				return nil, fmt.Errorf("client key %q: sha256 must be 64 hex digits", e.Name)
			}
			copy(sk.hash[:], raw)
		default:
			return nil, fmt.Errorf("client key %q: empty key", e.Name)
		}
		if other, dup := seen[sk.hash]; dup {
			return nil, fmt.Errorf("client key %q: same key as %q", e.Name, other)
		}
		seen[sk.hash] = e.Name
		ks.keys = append(ks.keys, sk)
	}
	return ks, nil
}

// Len is the number of keys in the set.
func (ks *KeySet) Len() int { return len(ks.keys) }

// Names returns the principals of the set, in the order configured.
func (ks *KeySet) Names() []string {
	out := make([]string, len(ks.keys))
	for i, k := range ks.keys {
		out[i] = k.name
	}
	return out
}

// Lookup returns the principal whose key is key. Every stored hash is
// compared, in constant time, whatever matches, so the time taken tells
// nothing about which key or how much of it was right.
func (ks *KeySet) Lookup(key string) (name string, ok bool) {
	if key == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(key))
	match := -1
	for i := range ks.keys {
		if subtle.ConstantTimeCompare(sum[:], ks.keys[i].hash[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return "", false
	}
	return ks.keys[match].name, true
}

// ParseKeysFile reads client keys, one per line as "<name> <key>" or
// "<name> sha256:<hex>". Blank lines and lines starting with '#' are
// skipped. Errors name the line, never the key.
func ParseKeysFile(r io.Reader) ([]Entry, error) {
	var entries []Entry
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: want \"<name> <key>\" or \"<name> sha256:<hex>\"", line)
		}
		e := Entry{Name: fields[0]}
		if hash, ok := strings.CutPrefix(fields[1], "sha256:"); ok {
			e.SHA256 = hash
		} else {
			e.Key = fields[1]
		}
		entries = append(entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading client keys: %w", err)
	}
	return entries, nil
}
