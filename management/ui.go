package management

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"net/netip"
	"path"
	"regexp"
	"strings"
	"time"
)

// The dashboard is a page of plain JS modules with its CSS inline and its
// charts drawn as SVG by script, embedded in the binary: no build step, no
// request to another host, and it works offline. It is written for Caddy's
// admin endpoint too, which refuses the classic subresources of a page
// (<script src>, <link rel=stylesheet>, <img>: the browser fetches those
// in no-cors mode) but serves module scripts and fetch.
//
//go:embed ui
var uiFS embed.FS

// pageDir is the dashboard's directory, relative to the mount point.
const pageDir = "ui"

// page is one embedded file, ready to serve.
type page struct {
	body        []byte
	contentType string
	etag        string
}

var (
	pages map[string]page
	// pageCSP is the dashboard's Content-Security-Policy: its own scripts
	// only, the inline style by hash, API calls to its own origin only.
	pageCSP string
)

func init() {
	pages = make(map[string]page)
	err := fs.WalkDir(uiFS, pageDir, func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := uiFS.ReadFile(name)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("%s: no content type for its extension", name)
		}
		sum := sha256.Sum256(body)
		pages[strings.TrimPrefix(name, pageDir+"/")] = page{
			body:        body,
			contentType: ct,
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
		return nil
	})
	if err != nil {
		panic(fmt.Sprintf("loading the embedded dashboard: %v", err))
	}
	pageCSP = contentSecurityPolicy(pages["index.html"].body)
}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
}

var styleBlock = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// contentSecurityPolicy allows the inline <style> blocks of index by their
// hash, so neither an injected style nor any inline script runs.
func contentSecurityPolicy(index []byte) string {
	var hashes []string
	for _, m := range styleBlock.FindAllSubmatch(index, -1) {
		sum := sha256.Sum256(m[1])
		hashes = append(hashes, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src " + strings.Join(hashes, " "),
		"img-src data:",
		"connect-src 'self'",
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
	}, "; ")
}

// IsPage reports whether rel, an endpoint relative to the mount point, is
// one of the dashboard's files (ui, ui/ or ui/<file>).
func IsPage(rel string) bool {
	rel = strings.TrimPrefix(rel, "/")
	return rel == pageDir || strings.HasPrefix(rel, pageDir+"/")
}

// ServePage answers a request for the dashboard's file rel (see IsPage).
// The files hold no secret; the page asks the API for everything, with
// the key the operator types in where the mount needs one.
func ServePage(w http.ResponseWriter, r *http.Request, rel string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		WriteError(w, methodNotAllowed(http.MethodGet))
		return
	}
	name, _ := strings.CutPrefix(strings.TrimPrefix(rel, "/"), pageDir)
	if name == "" {
		// the page's relative links resolve against the directory; a
		// relative Location keeps whatever prefix a proxy in front strips
		loc := pageDir + "/"
		if r.URL.RawQuery != "" {
			loc += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", loc)
		w.WriteHeader(http.StatusMovedPermanently)
		return
	}
	name = strings.TrimPrefix(name, "/")
	if name == "" {
		name = "index.html"
	}
	p, ok := pages[name]
	if !ok {
		WriteError(w, notFound(r))
		return
	}
	h := w.Header()
	h.Set("Content-Type", p.contentType)
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// the admin endpoint admits a script request by the Referer when the
	// browser sends no Origin: keep it on same-origin requests
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", p.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(p.body))
}

// CheckPage decides whether the site mount serves the dashboard's files to
// client: to whoever may present a key there (local unless remote access
// is allowed, and not locked out). The files need no key: the page asks
// for it.
func (g *Guard) CheckPage(client netip.Addr, local bool) *Error {
	// without a secret, the guard's only refusals that are not for the
	// missing key are the ones that apply to the page
	if err := g.CheckFrom(client, local, ""); err != nil && err.Code != CodeUnauthorized {
		return err
	}
	return nil
}
