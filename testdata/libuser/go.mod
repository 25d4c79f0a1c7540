// A Go program outside cliproxy's module that uses its plain packages as a
// library; integration/library_test.go builds it and checks that it links
// no Caddy.
module example.com/libuser

go 1.26.8

require (
	github.com/caddy-cliproxy/cliproxy v0.0.0
	go.uber.org/zap v1.28.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/sys v0.48.0 // indirect
)

replace github.com/caddy-cliproxy/cliproxy => ../..
