package authfile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

// LoginFileType returns the credential file type a sign-in with p writes:
// claude, codex or gemini-cli.
func LoginFileType(p oauth.OAuthProvider) string {
	switch p {
	case oauth.OAuthClaude:
		return FileTypeClaude
	case oauth.OAuthCodex:
		return FileTypeCodex
	case oauth.OAuthGoogle:
		return FileTypeGeminiCLI
	}
	return string(p)
}

// LoginFileName returns the auth-dir file name for an account of fileType:
// "<type>-<ident>.json", ident reduced to letters, digits and "@._+-" (any
// other character becomes "_", ".." becomes "_."), so that any e-mail
// address or account id gives a name [FileStore] accepts. An empty ident
// gives "<type>-account.json".
func LoginFileName(fileType, ident string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(ident) {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == '@', r == '.', r == '_', r == '+', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	id := b.String()
	for strings.Contains(id, "..") {
		id = strings.ReplaceAll(id, "..", "_.")
	}
	id = strings.Trim(id, ".")
	if len(id) > 160 {
		id = id[:160]
	}
	if id == "" {
		id = "account"
	}
	return fileType + "-" + id + ".json"
}

// FromLogin returns the credential file for tokens the flow f obtained, in
// CLIProxyAPI's format: type, email, the tokens, expired, last_refresh (now),
// account_id (Codex) and project_id (Google; the Code Assist projects, which
// this sign-in does not discover). It is named by [LoginFileName] after the
// e-mail address, else the account id, else the first project.
func FromLogin(f *oauth.LoginFlow, tok oauth.Token, info oauth.LoginInfo, projectIDs []string) *AuthFile {
	fileType := LoginFileType(f.Provider)
	af := &AuthFile{
		Type:         fileType,
		Email:        info.Email,
		AccessToken:  tok.AccessToken,
		RefreshToken: tok.RefreshToken,
		IDToken:      tok.IDToken,
		Expired:      tok.Expiry,
		LastRefresh:  f.Now().UTC().Truncate(time.Second),
	}
	if !af.Expired.IsZero() {
		af.Expired = af.Expired.UTC().Truncate(time.Second)
	}
	if f.Provider == oauth.OAuthCodex {
		af.AccountID = info.AccountID
	}
	if f.Provider == oauth.OAuthGoogle {
		for _, p := range projectIDs {
			if p = strings.TrimSpace(p); p != "" {
				af.ProjectIDs = append(af.ProjectIDs, p)
			}
		}
	}
	ident := info.Email
	if ident == "" {
		ident = info.AccountID
	}
	if ident == "" && len(af.ProjectIDs) > 0 {
		ident = af.ProjectIDs[0]
	}
	af.Name = LoginFileName(fileType, ident)
	return af
}

// SaveLogin writes the file of a new sign-in into the store. When a file of
// that name exists (the same account signed in before), only what the
// sign-in knows is written over it — type, email, tokens, expiry,
// last_refresh, and account_id and project_id when the sign-in has them — so
// the operator's settings (priority, weight, headers, proxy_url, disabled,
// …) stay. created reports whether the file is new. A file of that name
// holding an API key is not overwritten.
func SaveLogin(ctx context.Context, s Store, nf *AuthFile) (created bool, err error) {
	files, _, err := s.List(ctx)
	if err != nil {
		return false, err
	}
	for _, old := range files {
		if old.Name != nf.Name {
			continue
		}
		if old.APIKey != "" {
			return false, fmt.Errorf("auth file %q holds an API key; not overwriting it with a sign-in (move it away first)", old.Name)
		}
		old.Type = nf.Type
		if nf.Email != "" {
			old.Email = nf.Email
		}
		old.AccessToken = nf.AccessToken
		old.RefreshToken = nf.RefreshToken
		old.IDToken = nf.IDToken
		old.Expired = nf.Expired
		old.LastRefresh = nf.LastRefresh
		if nf.AccountID != "" {
			old.AccountID = nf.AccountID
		}
		if len(nf.ProjectIDs) > 0 {
			old.ProjectIDs = nf.ProjectIDs
		}
		_, err := s.Save(ctx, old)
		return false, err
	}
	_, err = s.Save(ctx, nf)
	return err == nil, err
}
