package management

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func getPage(t *testing.T, method, rel string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, "/cliproxy/"+rel, nil)
	for k, v := range header {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	require.True(t, IsPage(rel), rel)
	ServePage(w, r, rel)
	return w
}

func TestPageIsServedWithAStrictPolicy(t *testing.T) {
	w := getPage(t, http.MethodGet, "ui/", nil)
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
	body := w.Body.String()
	assert.Contains(t, body, `<script type="module" src="app.js"></script>`)

	csp := w.Header().Get("Content-Security-Policy")
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(body)
	require.NotNil(t, style)
	sum := sha256.Sum256([]byte(style[1]))
	assert.Equal(t, "default-src 'none'; script-src 'self'; style-src 'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'; "+
		"img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'", csp)
	assert.NotContains(t, csp, "unsafe")
	assert.Equal(t, "nosniff", w.Header().Get("X-Content-Type-Options"))
	assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))
	assert.Equal(t, "same-origin", w.Header().Get("Referrer-Policy"), "the admin endpoint needs the Referer of the page's requests")

	js := getPage(t, http.MethodGet, "ui/app.js", nil)
	require.Equal(t, http.StatusOK, js.Code)
	assert.Equal(t, "text/javascript; charset=utf-8", js.Header().Get("Content-Type"), "a module script needs a JavaScript type")
	assert.Equal(t, csp, js.Header().Get("Content-Security-Policy"))

	head := getPage(t, http.MethodHead, "ui/index.html", nil)
	assert.Equal(t, http.StatusOK, head.Code)
	assert.Zero(t, head.Body.Len())

	etag := js.Header().Get("ETag")
	require.NotEmpty(t, etag)
	assert.Equal(t, http.StatusNotModified, getPage(t, http.MethodGet, "ui/app.js", http.Header{"If-None-Match": {etag}}).Code)
}

func TestPageRedirectsAndRefusals(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/cliproxy/ui?pool=team-a", nil)
	w := httptest.NewRecorder()
	ServePage(w, r, "ui")
	assert.Equal(t, http.StatusMovedPermanently, w.Code)
	assert.Equal(t, "ui/?pool=team-a", w.Header().Get("Location"), "relative, so a prefix a proxy strips stays")

	post := getPage(t, http.MethodPost, "ui/", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, post.Code)
	assert.Contains(t, post.Body.String(), CodeMethodNotAllowed)
	missing := getPage(t, http.MethodGet, "ui/nope.js", nil)
	assert.Equal(t, http.StatusNotFound, missing.Code)
	assert.Contains(t, missing.Body.String(), CodeNotFound)

	assert.False(t, IsPage("uix"))
	assert.False(t, IsPage("credentials"))
	assert.True(t, IsPage("ui"))
}

// The page works on Caddy's admin endpoint and offline only while it
// loads nothing a browser fetches in no-cors mode and names no other host;
// the policy holds only while it has no inline script or style attribute.
func TestPageLoadsNothingFromElsewhere(t *testing.T) {
	importRE := regexp.MustCompile(`(?m)^import .* from "\./([a-z]+\.js)";$`)
	urlRE := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)
	require.NotEmpty(t, pages)
	for name, p := range pages {
		body := string(p.body)
		for _, u := range urlRE.FindAllString(body, -1) {
			assert.Equal(t, "http://www.w3.org", u, "%s names another host", name)
		}
		for _, m := range importRE.FindAllStringSubmatch(body, -1) {
			assert.Contains(t, pages, m[1], "%s imports a module that is not embedded", name)
		}
		assert.NotContains(t, body, "innerHTML", "%s: names and sessions come from clients; they go in as text", name)
	}
	index := string(pages["index.html"].body)
	for _, bad := range []string{`<link rel="stylesheet"`, "<img", "<iframe", ` style="`, "@import", "url("} {
		assert.NotContains(t, index, bad)
	}
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAllString(index, -1)
	assert.Equal(t, []string{`<script type="module" src="app.js">`}, scripts, "one module script, no inline or classic script")
	assert.Equal(t, 1, strings.Count(index, "<style>"))
}

func TestGuardCheckPage(t *testing.T) {
	g, _ := newGuard(t, "the-key", "", false)
	assert.Nil(t, g.CheckPage(loopback, true), "the page needs no key")
	assert.Equal(t, CodeRemoteRefused, code(g.CheckPage(remote, false)))

	open, _ := newGuard(t, "the-key", "", true)
	assert.Nil(t, open.CheckPage(remote, false), "allow_remote serves the page to remote clients too")
	for range 5 {
		open.Check(remote, "wrong")
	}
	assert.Equal(t, CodeLockedOut, code(open.CheckPage(remote, false)), "a locked-out address gets no page")
	assert.Nil(t, open.CheckPage(netip.MustParseAddr("198.51.100.4"), false), "another address does")
}
