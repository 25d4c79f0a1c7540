#!/usr/bin/env bash
# Starts the gateway with Caddyfile.example.
#
# With real keys in the environment (CLIPROXY_CLIENT_KEY, ANTHROPIC_API_KEY,
# ANTHROPIC_API_KEY_SPARE, OPENAI_API_KEY, GEMINI_API_KEY) it serves them.
# Without ANTHROPIC_API_KEY it runs a demo: the bundled mock upstream on
# 127.0.0.1:9100 stands in for every provider, and the client key is
# sk-demo-local. Nothing outside this machine is needed either way.
set -euo pipefail
cd "$(dirname "$0")/.."

mkdir -p .cache
go build -o .cache/caddy ./cmd/caddy

if [ -z "${ANTHROPIC_API_KEY:-}" ]; then
	mock_addr=${MOCK_ADDR:-127.0.0.1:9100}
	go build -o .cache/mockupstream ./internal/cmd/mockupstream
	.cache/mockupstream -listen "$mock_addr" &
	mock_pid=$!
	trap 'kill $mock_pid 2>/dev/null || true' EXIT
	export CLIPROXY_CLIENT_KEY=${CLIPROXY_CLIENT_KEY:-sk-demo-local}
	export CLIPROXY_AUTH_DIR=${CLIPROXY_AUTH_DIR:-.cache/auth-dir}
	export ANTHROPIC_API_KEY=mock-anthropic-key-1 ANTHROPIC_API_KEY_SPARE=mock-anthropic-key-2
	export OPENAI_API_KEY=mock-openai-key GEMINI_API_KEY=mock-gemini-key
	export ANTHROPIC_BASE_URL=http://$mock_addr OPENAI_BASE_URL=http://$mock_addr/v1 GEMINI_BASE_URL=http://$mock_addr
	echo "demo mode: mock upstream on $mock_addr; client key: $CLIPROXY_CLIENT_KEY" >&2
	echo "try: curl -s localhost:8080/v1/messages -H 'x-api-key: $CLIPROXY_CLIENT_KEY' -d '{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'" >&2
	.cache/caddy run --config Caddyfile.example --adapter caddyfile
	exit $?
fi
exec .cache/caddy run --config Caddyfile.example --adapter caddyfile
