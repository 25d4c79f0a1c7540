package access_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/access"
)

const (
	aliceKey = "cpx-alice-0123456789abcdef"
	bobKey   = "cpx-bob-fedcba9876543210"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestNewKeySet(t *testing.T) {
	tests := []struct {
		name    string
		entries []access.Entry
		wantLen int
		wantErr string // "" for success
	}{
		{"empty", nil, 0, ""},
		{"clear keys", []access.Entry{{Name: "alice", Key: aliceKey}, {Name: "bob", Key: bobKey}}, 2, ""},
		{"sha256 key", []access.Entry{{Name: "alice", SHA256: sha(aliceKey)}}, 1, ""},
		{"sha256 upper-case hex", []access.Entry{{Name: "alice", SHA256: strings.ToUpper(sha(aliceKey))}}, 1, ""},
		{"clear and hashed mixed", []access.Entry{{Name: "alice", Key: aliceKey}, {Name: "bob", SHA256: sha(bobKey)}}, 2, ""},
		{"same name, two keys", []access.Entry{{Name: "alice", Key: aliceKey}, {Name: "alice", Key: bobKey}}, 2, ""},
		{"missing name", []access.Entry{{Name: "alice", Key: aliceKey}, {Key: bobKey}}, 0, "client key 2: missing name"},
		{"missing key", []access.Entry{{Name: "alice"}}, 0, `"alice": empty key`},
		{"key and hash", []access.Entry{{Name: "alice", Key: aliceKey, SHA256: sha(aliceKey)}}, 0, "both a key and a hash"},
		{"bad hex", []access.Entry{{Name: "alice", SHA256: "zz" + sha(aliceKey)[2:]}}, 0, "64 hex digits"},
		{"short hash", []access.Entry{{Name: "alice", SHA256: sha(aliceKey)[:62]}}, 0, "64 hex digits"},
		{"long hash", []access.Entry{{Name: "alice", SHA256: sha(aliceKey) + "00"}}, 0, "64 hex digits"},
		{"duplicate clear key", []access.Entry{{Name: "alice", Key: aliceKey}, {Name: "bob", Key: aliceKey}}, 0, `"bob": same key as "alice"`},
		{"duplicate key, clear and hashed", []access.Entry{{Name: "alice", Key: aliceKey}, {Name: "bob", SHA256: sha(aliceKey)}}, 0, `"bob": same key as "alice"`},
		{"duplicate hash, different case", []access.Entry{{Name: "alice", SHA256: sha(aliceKey)}, {Name: "bob", SHA256: strings.ToUpper(sha(aliceKey))}}, 0, "same key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ks, err := access.NewKeySet(tt.entries)
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Nil(t, ks)
				assert.Contains(t, err.Error(), tt.wantErr)
				for _, e := range tt.entries {
					if e.Key != "" {
						assert.NotContains(t, err.Error(), e.Key, "an error names the key")
					}
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.wantLen, ks.Len())
		})
	}
}

func TestLookup(t *testing.T) {
	ks, err := access.NewKeySet([]access.Entry{
		{Name: "alice", Key: aliceKey},
		{Name: "bob", SHA256: sha(bobKey)},
		{Name: "carol", Key: "cpx-carol"},
		{Name: "carol", Key: "cpx-carol-laptop"},
	})
	require.NoError(t, err)

	tests := []struct {
		name     string
		key      string
		wantName string
		wantOK   bool
	}{
		{"clear key", aliceKey, "alice", true},
		{"hashed key matches its clear text", bobKey, "bob", true},
		{"second key of a name", "cpx-carol-laptop", "carol", true},
		{"first key of a name", "cpx-carol", "carol", true},
		{"wrong key", "cpx-mallory", "", false},
		{"empty key", "", "", false},
		{"prefix of a key", aliceKey[:len(aliceKey)-1], "", false},
		{"key with extra byte", aliceKey + "x", "", false},
		{"key with different case", strings.ToUpper(aliceKey), "", false},
		{"the hash itself is not a key", sha(bobKey), "", false},
		{"key with surrounding space", " " + aliceKey, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, ok := ks.Lookup(tt.key)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.wantName, name)
		})
	}
}

func TestLookupEmptySet(t *testing.T) {
	ks, err := access.NewKeySet(nil)
	require.NoError(t, err)
	_, ok := ks.Lookup(aliceKey)
	assert.False(t, ok)
	_, ok = ks.Lookup("")
	assert.False(t, ok)
}

func TestParseKeysFile(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    []access.Entry
		wantErr string // "" for success
		secret  string // text an error must never contain
	}{
		{
			name: "keys, comments and blank lines",
			file: "# team keys\n\nalice " + aliceKey + "\n   \n  # indented comment\n\tbob   sha256:" + sha(bobKey) + "  \n",
			want: []access.Entry{{Name: "alice", Key: aliceKey}, {Name: "bob", SHA256: sha(bobKey)}},
		},
		{name: "empty file", file: "", want: nil},
		{name: "only comments", file: "# nothing\n#alice key\n", want: nil},
		{
			name: "CRLF line ends", file: "alice " + aliceKey + "\r\nbob " + bobKey + "\r\n",
			want: []access.Entry{{Name: "alice", Key: aliceKey}, {Name: "bob", Key: bobKey}},
		},
		{name: "no final newline", file: "alice " + aliceKey, want: []access.Entry{{Name: "alice", Key: aliceKey}}},
		{
			name: "sha256 prefix is not part of the key", file: "bob sha256:" + sha(bobKey),
			want: []access.Entry{{Name: "bob", SHA256: sha(bobKey)}},
		},
		{
			name: "key only", file: "# header\nalice " + aliceKey + "\n" + bobKey + "\n",
			wantErr: "line 3", secret: bobKey,
		},
		{
			name: "three fields", file: "alice " + aliceKey + "\n\nbob " + bobKey + " extra\n",
			wantErr: "line 3", secret: bobKey,
		},
		{
			name: "trailing comment on a key line", file: "alice " + aliceKey + " # laptop\n",
			wantErr: "line 1", secret: aliceKey,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := access.ParseKeysFile(strings.NewReader(tt.file))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.NotContains(t, err.Error(), tt.secret, "the error shows the key")
				assert.Nil(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseKeysFileFeedsKeySet(t *testing.T) {
	entries, err := access.ParseKeysFile(strings.NewReader("alice " + aliceKey + "\nbob sha256:" + sha(bobKey) + "\n"))
	require.NoError(t, err)
	ks, err := access.NewKeySet(entries)
	require.NoError(t, err)
	name, ok := ks.Lookup(bobKey)
	assert.True(t, ok)
	assert.Equal(t, "bob", name)
	name, ok = ks.Lookup(aliceKey)
	assert.True(t, ok)
	assert.Equal(t, "alice", name)
}
