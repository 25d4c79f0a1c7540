// Package authfile reads and writes the credential files of an auth
// directory in CLIProxyAPI's format, so an existing ~/.cli-proxy-api works
// unchanged: the codec ([AuthFile], [ParseAuthFile], which keeps every
// field it does not know), the [Store] interface and its directory-backed
// [FileStore] (atomic 0600 writes, conflict detection, a polling watcher),
// the file a sign-in writes ([FromLogin], [SaveLogin]), and [Dir], which
// keeps one directory's files turned into credentials for the handlers
// that use it, with one OAuth token source per file and refreshed tokens
// written back.
//
// It uses package oauth for tokens, never the other way round, and has no
// dependency on Caddy.
package authfile
