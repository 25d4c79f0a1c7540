// Command caddy is Caddy with the standard modules and cliproxy, built
// without xcaddy: go build ./cmd/caddy
package main

import (
	caddycmd "github.com/caddyserver/caddy/v2/cmd"
	_ "github.com/caddyserver/caddy/v2/modules/standard"

	_ "github.com/caddy-cliproxy/cliproxy"
)

func main() {
	caddycmd.Main()
}
