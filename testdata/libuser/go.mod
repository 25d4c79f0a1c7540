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
	github.com/tidwall/btree v1.1.0 // indirect
	github.com/tidwall/gjson v1.20.0 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
	github.com/tidwall/redcon v1.6.4 // indirect
	go.uber.org/multierr v1.11.0 // indirect
)

replace github.com/caddy-cliproxy/cliproxy => ../..
