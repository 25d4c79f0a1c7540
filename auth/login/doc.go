// Package login signs an account in from a terminal, as
// "caddy cliproxy login <claude|codex|gemini>" does: it runs the
// provider's sign-in flow (oauth.LoginFlow), catches the browser's
// callback or reads what the user pastes, asks Gemini Code Assist for the
// account's project when none was named, and writes the credential file
// into an auth directory with package authfile. It prints no token. It has
// no dependency on Caddy; the root package registers the command.
package login
