// Package oauth holds the OAuth side of the subscription accounts a
// cliproxy pool serves from: the tokens ([Token]), their refresh at the
// providers' token endpoints ([Refresher], one request per refresh token
// at a time through [TokenSource], which also refreshes ahead of expiry in
// the background and tells a revoked refresh token from a passing
// failure), and the sign-in flow of the official command-line tools
// ([LoginFlow], with PKCE and a loopback [CallbackListener]).
//
// It knows nothing of files or pools: package authfile stores what it
// obtains, and the auth package's credentials hold a [TokenSource] as
// their token provider. It has no dependency on Caddy.
package oauth
