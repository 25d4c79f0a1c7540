package authfile

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
)

// Dir keeps the credentials of one auth directory current for every
// handler that uses it: it watches the files, holds one token source per
// OAuth file (so a refresh happens once, whatever the number of handlers
// and requests), and writes refreshed tokens back. It lives and dies with
// the pool state that opened it.
type Dir struct {
	store     Store
	refresher *oauth.Refresher
	health    *auth.Health
	logger    *zap.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	done      chan struct{}
	// cluster, when the pool's state is shared, refreshes each token
	// once across the instances and brings the tokens others refreshed.
	cluster atomic.Pointer[Cluster]

	mu          sync.Mutex
	files       []*AuthFile
	sources     map[string]*fileToken // by file name
	subscribers map[any]func()
	// skipped are the files the last Credentials could not serve, with
	// the reason, by file name; each is warned about once while it stays
	skipped map[string]string
	// projects are the Code Assist projects found for Gemini CLI files
	// that name none, by file name, until the file says it itself;
	// onboarding marks the files whose project is being looked for
	projects   map[string]string
	onboarding map[string]bool
	background sync.WaitGroup
}

// fileToken is the token source of one file, with the refresh token it
// holds: an edit that brings another refresh token (a new login) is
// installed into the source.
type fileToken struct {
	source  *oauth.TokenSource
	refresh string
	access  string // tells edits apart for files without a refresh token
}

// Cluster is what shares a directory's tokens with other instances: it
// refreshes each token once across them (Coordinate) and hands over the
// tokens others refreshed (OnToken).
type Cluster interface {
	Coordinate(ctx context.Context, name string, current oauth.Token, refresh func(context.Context) (oauth.Token, error)) (oauth.Token, error)
	OnToken(fn func(name string, t oauth.Token))
}

// OpenDir reads dir once and starts watching it. Close stops it.
func OpenDir(dir string, refresher *oauth.Refresher, health *auth.Health, logger *zap.Logger) (*Dir, error) {
	store, err := NewFileStore(dir)
	if err != nil {
		return nil, fmt.Errorf("opening auth_dir: %w", err)
	}
	return OpenStore(store, refresher, health, logger)
}

// OpenStore is OpenDir over any Store (a cluster's, a test's): it lists
// the store once and watches it. Close stops it.
func OpenStore(store Store, refresher *oauth.Refresher, health *auth.Health, logger *zap.Logger) (*Dir, error) {
	ctx, cancel := context.WithCancel(context.Background())
	a := &Dir{
		store: store, refresher: refresher, health: health, logger: logger,
		ctx: ctx, cancel: cancel, done: make(chan struct{}),
		sources:     make(map[string]*fileToken),
		subscribers: make(map[any]func()),
		projects:    make(map[string]string),
		onboarding:  make(map[string]bool),
	}
	files, errs, err := store.List(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("reading auth_dir: %w", err)
	}
	a.update(files, errs)
	go func() {
		defer close(a.done)
		_ = store.Watch(ctx, func(files []*AuthFile, errs []error) {
			if a.update(files, errs) {
				a.notify()
			}
		})
	}()
	return a, nil
}

// Close stops the watcher and every background refresh.
//
// Sources are stopped outside a.mu: Stop waits for a refresh under way,
// whose OnRefresh (persist) takes a.mu. They stop before the watcher's
// context ends, and persist saves with a context of its own, so a token
// rotated during shutdown still reaches its file.
func (a *Dir) Close() {
	a.mu.Lock()
	sources := a.sources
	a.sources = make(map[string]*fileToken)
	a.mu.Unlock()
	for _, ft := range sources {
		ft.source.Stop()
	}
	a.cancel()
	<-a.done
	a.background.Wait()
}

// update takes a new list of files and reports whether it differs from
// the last. A malformed file is logged and skipped; the others serve on.
func (a *Dir) update(files []*AuthFile, errs []error) bool {
	for _, err := range errs {
		a.logger.Error("skipping auth file", zap.Error(err))
	}
	var gone []*fileToken
	defer func() {
		// outside a.mu, as in close
		for _, ft := range gone {
			ft.source.Stop()
		}
	}()
	a.mu.Lock()
	defer a.mu.Unlock()
	changed := len(files) != len(a.files)
	for i := 0; !changed && i < len(files); i++ {
		changed = files[i] != a.files[i]
	}
	a.files = files
	keep := make(map[string]bool, len(files))
	for _, f := range files {
		keep[f.Name] = true
	}
	for name, ft := range a.sources {
		if !keep[name] {
			gone = append(gone, ft)
			delete(a.sources, name)
		}
	}
	for name := range a.projects {
		if !keep[name] {
			delete(a.projects, name)
		}
	}
	return changed
}

// Subscribe registers fn, under key, to run when the files change;
// Unsubscribe ends it.
func (a *Dir) Subscribe(key any, fn func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.subscribers[key] = fn
}

// Unsubscribe ends what Subscribe began.
func (a *Dir) Unsubscribe(key any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.subscribers, key)
}

func (a *Dir) notify() {
	a.mu.Lock()
	fns := make([]func(), 0, len(a.subscribers))
	for _, fn := range a.subscribers {
		fns = append(fns, fn)
	}
	a.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Credentials turns the current files into credentials: one per file, or
// for a Gemini Code Assist file with several projects, one per project,
// grouped under the file so round robin spreads over accounts first.
func (a *Dir) Credentials() []*auth.Credential {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*auth.Credential
	was := a.skipped
	a.skipped = make(map[string]string)
	for _, f := range a.files {
		out = append(out, a.credentialsOf(f)...)
	}
	for name, reason := range a.skipped {
		if _, warned := was[name]; !warned {
			a.logger.Warn("skipping auth file", zap.String("file", name), zap.String("reason", reason))
		}
	}
	return out
}

// Skipped returns the files the gateway does not serve, by file name,
// with the reason, as of the last Credentials.
func (a *Dir) Skipped() map[string]string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.skipped)
}

func (a *Dir) credentialsOf(f *AuthFile) []*auth.Credential {
	base := auth.Credential{
		Name:           strings.TrimSuffix(f.Name, ".json"),
		Priority:       f.Priority,
		Weight:         1,
		ExcludedModels: f.ExcludedModels,
		Disabled:       f.Disabled,
		Email:          f.Email,
		Source:         f.Name,
		Websockets:     f.Websockets,
		DisableCooling: f.DisableCooling,
		Label:          f.Label,
		Note:           f.Note,
	}
	if f.Weight != nil {
		base.Weight = *f.Weight
	}
	if f.RequestRetry != nil {
		// CLIProxyAPI reads a negative count as none
		base.RequestRetry = min(max(*f.RequestRetry, 0), auth.MaxRequestRetry)
	}
	if f.Prefix != "" {
		p, err := auth.ParsePrefix(f.Prefix)
		if err != nil {
			a.logger.Error("skipping auth file", zap.String("file", f.Name), zap.Error(err))
			return nil
		}
		base.Prefix = p
	}
	if f.BaseURL != "" {
		u, err := auth.ParseBaseURL(f.BaseURL)
		if err != nil {
			a.logger.Error("skipping auth file", zap.String("file", f.Name), zap.Error(err))
			return nil
		}
		base.BaseURL = u
	}
	if f.ProxyURL != "" {
		u, err := auth.ParseProxyURL(f.ProxyURL)
		if err != nil {
			a.logger.Error("skipping auth file", zap.String("file", f.Name), zap.Error(err))
			return nil
		}
		base.ProxyURL = u
	}
	var err error
	if base.OAuthClients, err = auth.ParseOAuthClients(f.OAuthClients); err != nil {
		a.logger.Error("skipping auth file", zap.String("file", f.Name), zap.Error(err))
		return nil
	}
	if f.AuthHeader != "" {
		if base.AuthHeader, err = auth.ParseAuthHeader(f.AuthHeader); err != nil {
			a.logger.Error("skipping auth file", zap.String("file", f.Name), zap.Error(err))
			return nil
		}
	}
	if len(f.Headers) > 0 {
		base.Headers = make(map[string][]string, len(f.Headers))
		for k, v := range f.Headers {
			base.Headers[http.CanonicalHeaderKey(k)] = []string{v}
		}
	}
	var provider oauth.OAuthProvider
	var ts *oauth.TokenSource
	switch f.Type {
	case FileTypeClaude:
		base.Provider = auth.Claude
		provider = oauth.OAuthClaude
	case FileTypeCodex:
		base.Provider = auth.Codex
		provider = oauth.OAuthCodex
		base.AccountID = f.AccountID
		if base.AccountID == "" {
			base.AccountID = oauth.AccountIDFromIDToken(f.IDToken)
		}
	case FileTypeGeminiCLI:
		base.Provider = auth.GeminiCLI
		provider = oauth.OAuthGoogle
	case FileTypeGemini:
		// CLIProxyAPI writes Google OAuth logins for Gemini CLI with
		// type "gemini" too; an API key makes it the Gemini API
		base.Provider = auth.Gemini
		if f.APIKey == "" {
			base.Provider = auth.GeminiCLI
			provider = oauth.OAuthGoogle
		}
	default:
		a.skipped[f.Name] = fmt.Sprintf("type %q is not served", f.Type)
		return nil
	}
	if f.APIKey != "" && f.AccessToken == "" {
		base.APIKey = f.APIKey
	} else if f.AccessToken != "" || f.RefreshToken != "" {
		ts = a.tokenSource(f, provider, base.ProxyURL)
		base.OAuth = reportingSource{ts}
	} else {
		a.skipped[f.Name] = "no api_key, access_token or refresh_token"
		return nil
	}
	projects := f.ProjectIDs
	if base.Provider == auth.GeminiCLI && ts != nil && len(projects) == 0 {
		found := a.projects[f.Name]
		if found == "" {
			// Code Assist refuses a request without a project
			a.onboard(f.Name, ts, base.BaseURL, base.ProxyURL)
			return nil
		}
		projects = []string{found}
	}
	if base.Provider != auth.GeminiCLI || len(projects) <= 1 {
		c := base
		if len(projects) == 1 {
			c.ProjectID = projects[0]
		}
		return []*auth.Credential{&c}
	}
	out := make([]*auth.Credential, 0, len(projects))
	// one credential per project, all sharing the account's token
	for _, project := range projects {
		c := base
		c.Name = base.Name + "/" + project
		c.ProjectID = project
		c.Group = base.Name
		out = append(out, &c)
	}
	return out
}

// reportingSource is a file's token source as a credential holds it: it
// also tells the credential's snapshot its refresh state.
type reportingSource struct{ *oauth.TokenSource }

// RefreshState is the source's Status, in the snapshot's terms.
func (r reportingSource) RefreshState() auth.RefreshState {
	return auth.RefreshState(r.Status())
}

var _ auth.RefreshReporter = reportingSource{}

// tokenSource returns the file's token source, building it when the file
// is new or brings another refresh token. Callers hold a.mu.
func (a *Dir) tokenSource(f *AuthFile, provider oauth.OAuthProvider, proxy *url.URL) *oauth.TokenSource {
	token := oauth.Token{
		AccessToken:  f.AccessToken,
		RefreshToken: f.RefreshToken,
		IDToken:      f.IDToken,
		Expiry:       f.Expired,
	}
	if ft := a.sources[f.Name]; ft != nil {
		if ft.refresh != f.RefreshToken || (f.RefreshToken == "" && ft.access != f.AccessToken) {
			// a new login written over the file: its tokens win, and
			// the old tokens' revocation and blocks are forgotten
			ft.source.Update(token)
			ft.refresh, ft.access = f.RefreshToken, f.AccessToken
			a.health.ForgetSource(f.Name)
			// the project found for the old login may not be this one's
			delete(a.projects, f.Name)
		}
		return ft.source
	}
	name := f.Name
	ts := oauth.NewTokenSource(provider, token, a.refresher.Via(proxy), oauth.TokenSourceOptions{
		OnRefresh:   func(t oauth.Token) { a.persist(name, t) },
		OnRevoked:   func(reason string) { a.revoked(name, reason) },
		OnFailure:   func(err error, failures int) { a.refreshFailed(name, err, failures) },
		Coordinator: fileCoordinator{a: a, name: name},
	})
	ts.StartBackground(a.ctx)
	a.sources[name] = &fileToken{source: ts, refresh: f.RefreshToken, access: f.AccessToken}
	return ts
}

// onboard looks for the Code Assist project of the Gemini CLI file name,
// which names none, in the background, as the Gemini CLI does before its
// first request (loadCodeAssist, then onboardUser until done; a free-tier
// account gets a project Google manages). The project found serves at once
// and is written into the file. Until then the file serves nothing; a
// failure is logged and tried again later. Callers hold a.mu.
func (a *Dir) onboard(name string, ts *oauth.TokenSource, base, proxy *url.URL) {
	if a.onboarding[name] {
		return
	}
	a.onboarding[name] = true
	setup := oauth.CodeAssistSetup{Client: a.refresher.Via(proxy).Client}
	if base != nil {
		setup.BaseURL = base.String()
	}
	a.logger.Info("auth file names no project_id; asking Gemini Code Assist for the account's project", zap.String("file", name))
	a.background.Add(1)
	go func() {
		defer a.background.Done()
		a.findProject(name, ts, setup)
	}()
}

// findProject runs the Code Assist set-up of the file name until it gives
// a project, the file gets one, goes away, or the directory closes.
func (a *Dir) findProject(name string, ts *oauth.TokenSource, setup oauth.CodeAssistSetup) {
	defer func() {
		a.mu.Lock()
		delete(a.onboarding, name)
		a.mu.Unlock()
	}()
	wait := time.Minute
	for {
		ctx, cancel := context.WithTimeout(a.ctx, 5*time.Minute)
		project, err := "", error(nil)
		var access string
		if access, err = ts.Access(ctx); err == nil {
			project, err = setup.Project(ctx, access, "")
		}
		cancel()
		if a.ctx.Err() != nil {
			return
		}
		if err == nil {
			a.mu.Lock()
			a.projects[name] = project
			a.mu.Unlock()
			a.logger.Info("found the Code Assist project of an auth file", zap.String("file", name), zap.String("project", project))
			a.saveProject(name, project)
			a.notify()
			return
		}
		a.logger.Error("finding the Code Assist project of an auth file; it serves nothing until it has one",
			zap.String("file", name), zap.Error(err), zap.Duration("retry_in", wait))
		t := time.NewTimer(wait)
		select {
		case <-a.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Minute)
		a.mu.Lock()
		still := false
		for _, f := range a.files {
			still = still || (f.Name == name && len(f.ProjectIDs) == 0)
		}
		a.mu.Unlock()
		if !still {
			return
		}
	}
}

// saveProject writes the project found for a Gemini CLI file into it as
// project_id, keeping every other field.
func (a *Dir) saveProject(name, project string) {
	a.mu.Lock()
	var current *AuthFile
	for _, f := range a.files {
		if f.Name == name {
			current = f
		}
	}
	a.mu.Unlock()
	if current == nil || len(current.ProjectIDs) > 0 {
		return
	}
	updated := *current
	updated.ProjectIDs = []string{project}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.store.Save(ctx, &updated); err != nil {
		a.logger.Error("writing the Code Assist project to its auth file", zap.String("file", name), zap.Error(err))
	}
}

// revoked takes the credentials of a file whose refresh token is dead out
// of service and says so where an operator looks: until the file gets a
// new login, no request is sent with it.
func (a *Dir) revoked(name, reason string) {
	// out of service first, so that whoever reads the log finds it so
	a.health.RevokeSource(name, reason, time.Now())
	a.logger.Error("oauth refresh token refused for good; the credential is disabled until its file gets a new login",
		zap.String("file", name), zap.String("reason", reason))
}

// refreshFailed says where an operator looks that a file's token could not
// be refreshed for a reason other than a dead refresh token (the endpoint
// unreachable, a 5xx, a challenge page): the token source backs off and
// tries again, its state (failures, last error) shows in the management
// API, and from the second failure in a row each one is a warning, so one
// that keeps failing is heard of before the access token runs out.
func (a *Dir) refreshFailed(name string, err error, failures int) {
	level := zapcore.InfoLevel
	if failures > 1 {
		level = zapcore.WarnLevel
	}
	if ce := a.logger.Check(level, "oauth token refresh failed; retrying with backoff"); ce != nil {
		ce.Write(zap.String("file", name), zap.Int("failures_in_a_row", failures), zap.Error(err))
	}
}

// persist writes a refreshed token back to its file, keeping every other
// field (the gateway's and the operator's) as it is.
func (a *Dir) persist(name string, t oauth.Token) {
	a.mu.Lock()
	var current *AuthFile
	for _, f := range a.files {
		if f.Name == name {
			current = f
		}
	}
	if ft := a.sources[name]; ft != nil {
		// our own write must not look like a new login
		ft.refresh, ft.access = t.RefreshToken, t.AccessToken
	}
	a.mu.Unlock()
	if current == nil {
		return
	}
	updated := *current
	updated.AccessToken = t.AccessToken
	if t.RefreshToken != "" {
		updated.RefreshToken = t.RefreshToken
	}
	if t.IDToken != "" {
		updated.IDToken = t.IDToken
	}
	updated.Expired = t.Expiry
	updated.LastRefresh = time.Now().UTC()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := a.store.Save(ctx, &updated); err != nil {
		a.logger.Error("writing refreshed token to auth file", zap.String("file", name), zap.Error(err))
	}
}

// Share makes cl, when not nil, the cluster the directory's tokens are
// refreshed through, and the source of the tokens other instances
// refreshed.
func (a *Dir) Share(cl Cluster) {
	if cl == nil {
		return
	}
	a.cluster.Store(&cl)
	cl.OnToken(a.adopt)
}

// Unshare ends what Share(cl) began, unless another cluster took its
// place since.
func (a *Dir) Unshare(cl Cluster) {
	if cur := a.cluster.Load(); cur != nil && *cur == cl {
		a.cluster.CompareAndSwap(cur, nil)
	}
}

// Done is closed once the directory is closed and its watcher stopped.
func (a *Dir) Done() <-chan struct{} { return a.done }

// Store is the store the directory reads and writes.
func (a *Dir) Store() Store { return a.store }

// adopt installs the token another instance refreshed for the file name
// and writes it to the file, so this instance holds the rotated refresh
// token too.
func (a *Dir) adopt(name string, t oauth.Token) {
	a.mu.Lock()
	ft := a.sources[name]
	a.mu.Unlock()
	if ft == nil || ft.source.Token().AccessToken == t.AccessToken {
		return
	}
	ft.source.Update(t)
	a.persist(name, t)
}

// fileCoordinator refreshes one file's token through the cluster, if the
// pool has one by the time the refresh is due.
type fileCoordinator struct {
	a    *Dir
	name string
}

func (f fileCoordinator) Coordinate(ctx context.Context, current oauth.Token, refresh func(context.Context) (oauth.Token, error)) (oauth.Token, error) {
	if cl := f.a.cluster.Load(); cl != nil {
		return (*cl).Coordinate(ctx, f.name, current, refresh)
	}
	return refresh(ctx)
}
