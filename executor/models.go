package executor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"
	"go.uber.org/zap"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// The model listing is answered from the pool, not by one upstream: the
// models the asking member could be served now, whichever credential would
// serve them.
const (
	// modelsTTL is how long an upstream's own list is used before it is
	// fetched again.
	modelsTTL = 10 * time.Minute
	// modelsRetry is how soon a failed fetch is tried again; meanwhile the
	// last list that was fetched stands.
	modelsRetry = time.Minute
	// modelsFetchTimeout bounds one upstream listing fetch.
	modelsFetchTimeout = 10 * time.Second
	// maxModelsBody bounds an upstream's listing.
	maxModelsBody = 8 << 20
)

// modelInfo is what the gateway knows of one model, enough to describe it
// in each client's shape.
type modelInfo struct {
	ID          string
	DisplayName string
	Created     time.Time
	OwnedBy     string
	// Gemini is the model object of a Gemini upstream, given to Gemini
	// clients as it came.
	Gemini json.RawMessage
}

// modelLists caches each credential's upstream list, by credential name,
// so a pool rebuilt from changed auth files keeps them.
type modelLists struct {
	mu      sync.Mutex
	entries map[string]*modelListEntry
}

type modelListEntry struct {
	mu     sync.Mutex // one fetch at a time
	models []modelInfo
	next   time.Time // when to fetch again
}

func (l *modelLists) entry(name string) *modelListEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.entries == nil {
		l.entries = make(map[string]*modelListEntry)
	}
	e := l.entries[name]
	if e == nil {
		e = new(modelListEntry)
		l.entries[name] = e
	}
	return e
}

// listsUpstream reports whether the gateway asks c's upstream for its
// models: c has no list of its own or one with patterns, and its provider
// has a listing endpoint (the Codex backend and Code Assist have none).
func listsUpstream(c *auth.Credential) bool {
	switch c.Provider {
	case auth.Codex, auth.GeminiCLI:
		return false
	}
	if len(c.Models) == 0 {
		return true
	}
	return slices.ContainsFunc(c.Models, func(m string) bool { return strings.Contains(m, "*") })
}

// serveModels answers GET /v1/models, /v1/models/<id>, /v1beta/models and
// /v1beta/models/<id> from the pool, for principal.
func (e *Executor) serveModels(w http.ResponseWriter, r *http.Request, route Route, principal string) error {
	v := e.cur.Load()
	models := e.poolModels(r.Context(), v, route.Family, principal)
	if id := route.Model; id != "" {
		for _, m := range models {
			if m.ID == id {
				return writeJSON(w, describeModel(route.Family, m))
			}
		}
		return WriteError(w, route.Family, &ClientError{
			Status:  http.StatusNotFound,
			Code:    CodeModelNotSupported,
			Message: fmt.Sprintf("no credential of this gateway serves model %q for %s clients", id, route.Family),
		})
	}
	return writeJSON(w, listModels(route.Family, models))
}

// poolModels is the union of the models that the credentials of family
// principal may use serve, without excluded models and without those no
// credential can serve now, ordered by id.
func (e *Executor) poolModels(ctx context.Context, v *view, family Family, principal string) []modelInfo {
	var creds []*auth.Credential
	for _, c := range v.byFamily[family] {
		if c.AllowsClient(principal) && !c.Disabled {
			creds = append(creds, c)
		}
	}
	fetched := make([][]modelInfo, len(creds))
	var wg sync.WaitGroup
	for i, c := range creds {
		if listsUpstream(c) {
			wg.Go(func() { fetched[i] = e.upstreamModels(ctx, v, c) })
		}
	}
	wg.Wait()

	byID := map[string]modelInfo{}
	for i, c := range creds {
		offer := func(m modelInfo) {
			if m.ID == "" || !c.AllowsModel(m.ID) {
				return
			}
			upstream := m.ID
			if m = listedAs(c, m); !servesAs(v, c, m.ID, upstream) {
				return // a name under another credential's prefix
			}
			if reason, _ := v.pool.BlockedBy(c, m.ID); reason != "" {
				return // disabled, revoked or cooling for this model
			}
			if have, ok := byID[m.ID]; !ok || (have.Gemini == nil && m.Gemini != nil) {
				byID[m.ID] = m
			}
		}
		for _, id := range c.Models {
			if !strings.Contains(id, "*") {
				offer(modelInfo{ID: id, OwnedBy: string(c.Provider)})
			}
		}
		for _, m := range fetched[i] {
			offer(m)
		}
	}
	out := make([]modelInfo, 0, len(byID))
	for _, m := range byID {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b modelInfo) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// servesAs reports whether a request for id is served by c as the
// upstream's model upstream.
func servesAs(v *view, c *auth.Credential, id, upstream string) bool {
	up, ok := v.upstreamModel(c, id)
	return ok && up == upstream
}

// upstreamModels returns c's upstream list, fetched with c at most every
// modelsTTL; a failed fetch leaves the last list in place.
func (e *Executor) upstreamModels(ctx context.Context, v *view, c *auth.Credential) []modelInfo {
	ent := e.models.entry(c.Name)
	ent.mu.Lock()
	defer ent.mu.Unlock()
	now := v.pool.Now()
	if now.Before(ent.next) {
		return ent.models
	}
	models, err := e.fetchModels(ctx, v, c)
	if err != nil {
		e.opts.Logger.Debug("fetching the upstream model list failed; keeping the last one",
			zap.String("credential", c.Name), zap.Error(err))
		if ctx.Err() == nil {
			ent.next = now.Add(modelsRetry)
		}
		return ent.models
	}
	ent.models, ent.next = models, now.Add(modelsTTL)
	return models
}

// fetchModels asks c's upstream for its models, with c's secret.
func (e *Executor) fetchModels(ctx context.Context, v *view, c *auth.Credential) ([]modelInfo, error) {
	transport := e.opts.Transport
	ep := v.endpoints[c]
	if ep.tls {
		transport = e.opts.TLSTransport
	}
	if transport == nil {
		return nil, fmt.Errorf("no transport for upstream listings")
	}
	path, query := "/v1/models", "limit=1000"
	if c.Provider == auth.Gemini {
		path, query = "/v1beta/models", "pageSize=1000"
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), modelsFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(withCredential(ctx, &attemptCredential{cred: c}), http.MethodGet, ep.url("http", path)+"?"+query, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := noRedirects(transport).Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxModelsBody))
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("upstream answered %d", res.StatusCode)
	}
	return parseModels(c.Provider, body)
}

// parseModels reads a listing in the provider's shape.
func parseModels(p auth.Provider, body []byte) ([]modelInfo, error) {
	if !gjson.ValidBytes(body) {
		return nil, fmt.Errorf("listing is not JSON")
	}
	var out []modelInfo
	if p == auth.Gemini {
		list := gjson.GetBytes(body, "models")
		if !list.IsArray() {
			return nil, fmt.Errorf("listing has no models array")
		}
		for _, m := range list.Array() {
			out = append(out, modelInfo{
				ID:          strings.TrimPrefix(m.Get("name").String(), "models/"),
				DisplayName: m.Get("displayName").String(),
				OwnedBy:     "google",
				Gemini:      json.RawMessage(m.Raw),
			})
		}
		return out, nil
	}
	list := gjson.GetBytes(body, "data")
	if !list.IsArray() {
		return nil, fmt.Errorf("listing has no data array")
	}
	for _, m := range list.Array() {
		info := modelInfo{ID: m.Get("id").String(), DisplayName: m.Get("display_name").String(), OwnedBy: m.Get("owned_by").String()}
		if t, err := time.Parse(time.RFC3339, m.Get("created_at").String()); err == nil {
			info.Created = t
		} else if n := m.Get("created").Int(); n > 0 {
			info.Created = time.Unix(n, 0)
		}
		if info.OwnedBy == "" {
			info.OwnedBy = string(p)
		}
		out = append(out, info)
	}
	return out, nil
}

// listModels is the listing in family's shape.
func listModels(family Family, models []modelInfo) any {
	objs := make([]any, 0, len(models))
	for _, m := range models {
		objs = append(objs, describeModel(family, m))
	}
	switch family {
	case FamilyAnthropic:
		var first, last *string
		if len(models) > 0 {
			first, last = &models[0].ID, &models[len(models)-1].ID
		}
		return struct {
			Data    []any   `json:"data"`
			HasMore bool    `json:"has_more"`
			FirstID *string `json:"first_id"`
			LastID  *string `json:"last_id"`
		}{objs, false, first, last}
	case FamilyGemini:
		return struct {
			Models []any `json:"models"`
		}{objs}
	}
	return struct {
		Object string `json:"object"`
		Data   []any  `json:"data"`
	}{"list", objs}
}

// describeModel is one model in family's shape.
func describeModel(family Family, m modelInfo) any {
	name := m.DisplayName
	if name == "" {
		name = m.ID
	}
	switch family {
	case FamilyAnthropic:
		created := m.Created
		if created.IsZero() {
			created = time.Unix(0, 0)
		}
		return map[string]any{"type": "model", "id": m.ID, "display_name": name, "created_at": created.UTC().Format(time.RFC3339)}
	case FamilyGemini:
		if m.Gemini != nil {
			return m.Gemini
		}
		return map[string]any{
			"name": "models/" + m.ID, "displayName": name,
			"supportedGenerationMethods": []string{"generateContent", "countTokens"},
		}
	}
	var created int64
	if !m.Created.IsZero() {
		created = m.Created.Unix()
	}
	return map[string]any{"id": m.ID, "object": "model", "created": created, "owned_by": m.OwnedBy}
}

func writeJSON(w http.ResponseWriter, v any) error {
	out, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(out)
	return err
}
