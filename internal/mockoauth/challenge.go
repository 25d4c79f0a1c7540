package mockoauth

import (
	"io"
	"net/http"
	"sync/atomic"
)

// Challenge imitates a token host behind a Cloudflare managed challenge, as
// console.anthropic.com/v1/oauth/token answers programmatic clients since
// 2026: every request gets 403, "cf-mitigated: challenge" and the HTML
// "Just a moment..." page, which only a browser running its script gets
// past. Nothing is exchanged. Safe for concurrent use.
type Challenge struct {
	hits atomic.Int64
}

// challengePage is the shape of Cloudflare's interstitial (its script and
// tokens left out).
const challengePage = `<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>` +
	`<meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta name="robots" content="noindex,nofollow">` +
	`</head><body><div class="main-wrapper" role="main"><div class="main-content">` +
	`<noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies to continue</span></div></noscript>` +
	`</div></div><script>(function(){window._cf_chl_opt={cType: 'managed'};` +
	`var a=document.createElement('script');a.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1';` +
	`document.getElementsByTagName('head')[0].appendChild(a);}());</script></body></html>`

// ServeHTTP answers with the challenge.
func (c *Challenge) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.hits.Add(1)
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 1<<20))
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=UTF-8")
	h.Set("Cf-Mitigated", "challenge")
	h.Set("Cache-Control", "private, max-age=0, no-store, no-cache, must-revalidate")
	h.Set("Server", "cloudflare")
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, challengePage)
}

// Hits returns how many requests were answered.
func (c *Challenge) Hits() int { return int(c.hits.Load()) }
