package pool

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/authfile"
	"github.com/caddy-cliproxy/cliproxy/management"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// The pool state is what the management API manages, on the admin
// endpoint and on a site alike: every member of the pool serves from it.

// Credentials implements management.Backend: the credentials of every
// member of the pool (the newest member's where names repeat, as during a
// reload), ordered by name.
func (s *State) Credentials() []management.Credential {
	seen := make(map[string]bool)
	var out []management.Credential
	for _, m := range s.current() {
		for _, snap := range m.Pool().Snapshot() {
			if seen[snap.Name] {
				continue
			}
			seen[snap.Name] = true
			out = append(out, management.Credential{CredentialSnapshot: snap, Override: s.override(snap.Name)})
		}
	}
	out = append(out, s.skippedFiles(seen)...)
	slices.SortFunc(out, func(a, b management.Credential) int { return strings.Compare(a.Name, b.Name) })
	if out == nil {
		out = []management.Credential{}
	}
	return out
}

// skippedFiles lists the auth files the pool's directories hold but do
// not serve (a type the gateway does not serve, no key), each as a
// credential with status skipped and the reason, so an operator sees why
// a file they dropped in serves nothing.
func (s *State) skippedFiles(seen map[string]bool) []management.Credential {
	s.mu.Lock()
	dirs := make([]*authfile.Dir, 0, len(s.authDirs))
	for _, d := range s.authDirs {
		dirs = append(dirs, d)
	}
	s.mu.Unlock()
	var out []management.Credential
	for _, d := range dirs {
		for file, reason := range d.Skipped() {
			name := strings.TrimSuffix(file, ".json")
			if seen[name] {
				continue
			}
			seen[name] = true
			out = append(out, management.Credential{CredentialSnapshot: auth.CredentialSnapshot{
				Name: name, Source: file, Status: auth.StatusSkipped, Skipped: reason, Unavailable: true,
				Quota: &auth.QuotaSnapshot{}, ModelList: []auth.ModelAvailability{},
			}})
		}
	}
	return out
}

func (s *State) override(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.disabled[name]
	switch {
	case !ok:
		return ""
	case d:
		return management.OverrideDisabled
	}
	return management.OverrideEnabled
}

// has reports whether a member of the pool has a credential called name.
func (s *State) has(name string) bool {
	for _, m := range s.current() {
		if m.Pool().Get(name) != nil {
			return true
		}
	}
	return false
}

// SetDisabled implements management.Backend. The override outlives config
// reloads and auth file edits, until the next enable or disable.
func (s *State) SetDisabled(name string, disabled bool) error {
	if !s.has(name) {
		return management.CredentialNotFound(name)
	}
	s.mu.Lock()
	s.disabled[name] = disabled
	s.mu.Unlock()
	verb := "enabled"
	if disabled {
		verb = "disabled"
	}
	for _, m := range s.current() {
		m.Changed(fmt.Sprintf("credential %s by an operator", verb))
	}
	return nil
}

// Reset implements management.Backend.
func (s *State) Reset(name, model string) (int, error) {
	found, n := false, 0
	for _, m := range s.current() {
		pool := m.Pool()
		if c := pool.Get(name); c != nil {
			found = true
			n += pool.Reset(c, model)
		}
	}
	if !found {
		return 0, management.CredentialNotFound(name)
	}
	return n, nil
}

// store is the file store of the pool's auth directory.
func (s *State) store() (authfile.Store, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch len(s.authDirs) {
	case 0:
		return nil, management.NoAuthDir("this pool has no auth_dir to write auth files to")
	case 1:
		for _, a := range s.authDirs {
			return a.Store(), nil
		}
	}
	return nil, management.NoAuthDir("the handlers of this pool use several auth directories; give each its own pool to manage their files")
}

// SaveAuthFile implements management.Backend through the auth
// directory's file store (0600, atomic); its watcher loads the file.
func (s *State) SaveAuthFile(ctx context.Context, f *authfile.AuthFile) (bool, error) {
	st, err := s.store()
	if err != nil {
		return false, err
	}
	had, err := st.Has(ctx, f.Name)
	if err != nil {
		return false, fmt.Errorf("writing auth file: %w", err)
	}
	if _, err := st.Save(ctx, f); err != nil {
		return false, fmt.Errorf("writing auth file: %w", err)
	}
	return !had, nil
}

// DeleteAuthFile implements management.Backend.
func (s *State) DeleteAuthFile(ctx context.Context, name string) error {
	st, err := s.store()
	if err != nil {
		return err
	}
	if had, err := st.Has(ctx, name); err != nil || !had {
		return management.AuthFileNotFound(name)
	}
	if err := st.Delete(ctx, name); err != nil {
		return fmt.Errorf("deleting auth file: %w", err)
	}
	return nil
}

// Bindings implements management.Backend.
func (s *State) Bindings() management.SessionBindings {
	if l := s.shared.Load(); l != nil {
		return l.bindings
	}
	return s.Sessions
}

// Strategy implements management.Backend.
func (s *State) Strategy() (current, configured string) {
	configured = selector.RoundRobin
	if ms := s.current(); len(ms) > 0 {
		configured = ms[0].Strategy
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.strategyOverride != "" {
		return s.strategyOverride, configured
	}
	return configured, configured
}

// SetStrategy implements management.Backend: every member of the pool
// switches at once; a later config reload keeps the choice unless it
// changes the configured strategy.
func (s *State) SetStrategy(canonical string) error {
	sel, err := s.strategy(canonical)
	if err != nil {
		return err
	}
	members := s.current()
	configured := selector.RoundRobin
	if len(members) > 0 {
		configured = members[0].Strategy
	}
	s.mu.Lock()
	if canonical == configured {
		s.strategyOverride, s.strategyBase = "", ""
	} else {
		s.strategyOverride, s.strategyBase = canonical, configured
	}
	s.mu.Unlock()
	for _, m := range members {
		m.Selector.Set(sel)
	}
	return nil
}

// Affinity implements management.Backend: the settings of the newest
// member, as Strategy reports its strategy.
func (s *State) Affinity() management.Affinity {
	if ms := s.current(); len(ms) > 0 {
		return ms[0].Affinity
	}
	return management.Affinity{}
}

// Usage implements management.Backend.
func (s *State) Usage() *management.UsageStats { return s.usage }

// Interface guard
var _ management.Backend = (*State)(nil)

// PopUsage implements management.Backend: the records a RESP LPOP pops.
func (s *State) PopUsage(ctx context.Context, n int) ([]json.RawMessage, error) {
	recs, err := s.Telemetry.Pop(ctx, n)
	if err != nil {
		return nil, err
	}
	out := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		out[i] = r
	}
	return out, nil
}
