package access_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/caddy-cliproxy/cliproxy/access"
)

// Build a key set from a keys file and the config, look up the key a
// request presents, and strip every client credential before the request
// goes on.
func ExampleKeySet() {
	// "<name> <key>" or "<name> sha256:<hex>" per line, as client_keys_file
	fromFile, err := access.ParseKeysFile(strings.NewReader(`# the team
alice sk-alice-0123456789
bob sha256:1b8c0b1c3b2b6b1ee3a6a2a6ef3d0f6a8e5ab8c9f0a19e3c0e0a7f4e6a0cbd31
`))
	if err != nil {
		panic(err)
	}
	keys, err := access.NewKeySet(append(fromFile, access.Entry{Name: "ci", Key: "sk-ci-9876543210"}))
	if err != nil {
		panic(err)
	}
	fmt.Println(keys.Names())

	r := httptest.NewRequest("POST", "/v1/messages", nil)
	r.Header.Set("X-Api-Key", "sk-alice-0123456789")
	r.Header.Set("Anthropic-Version", "2023-06-01")
	member, ok := keys.Lookup(access.ClientKey(r))
	fmt.Println(member, ok)

	access.StripClientCredentials(r)
	fmt.Printf("x-api-key %q, anthropic-version %q\n", r.Header.Get("X-Api-Key"), r.Header.Get("Anthropic-Version"))

	r = httptest.NewRequest("POST", "/v1/chat/completions", nil)
	r.Header.Set("Authorization", "Bearer sk-wrong")
	_, ok = keys.Lookup(access.ClientKey(r))
	fmt.Println("wrong key admitted:", ok)
	// Output:
	// [alice bob ci]
	// alice true
	// x-api-key "", anthropic-version "2023-06-01"
	// wrong key admitted: false
}
