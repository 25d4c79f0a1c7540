package oauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// CodeAssistURL is the Gemini Code Assist API the Gemini CLI talks to; its
// methods are POST <url>/v1internal:<method>, its long-running operations
// GET <url>/v1internal/<operation name>.
const CodeAssistURL = "https://cloudcode-pa.googleapis.com"

// The Code Assist user tiers (loadCodeAssist's tier ids).
const (
	// TierFree gets a Google-managed project, which the user cannot name:
	// onboardUser is called without one and answers with it.
	TierFree = "free-tier"
	// TierLegacy is what the Gemini CLI assumes when no tier is offered;
	// it needs the user's own project.
	TierLegacy = "legacy-tier"
	// TierStandard (Gemini Code Assist Standard/Enterprise) needs the
	// user's own Google Cloud project.
	TierStandard = "standard-tier"
)

// CodeAssistSetup finds, and on the first use creates, the Code Assist
// project of a Google account, as the Gemini CLI does before its first
// request (packages/core/src/code_assist/setup.ts):
//
//  1. POST loadCodeAssist {"cloudaicompanionProject": <project>,
//     "metadata": {"ideType": "IDE_UNSPECIFIED", "platform":
//     "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI", "duetProject":
//     <project>}}. An account already onboarded answers with
//     "currentTier" and, for a managed project, "cloudaicompanionProject"
//     (the project id): done.
//  2. Otherwise the tier to join is the one of "allowedTiers" marked
//     "isDefault" (else legacy-tier), and POST onboardUser {"tierId": …,
//     "metadata": …}, with "cloudaicompanionProject" unless the tier is
//     free-tier, answers a long-running operation {"name", "done"}.
//  3. GET the operation until "done"; its "response" carries
//     "cloudaicompanionProject": {"id", "name"}.
//
// The zero value talks to CodeAssistURL with http.DefaultClient.
type CodeAssistSetup struct {
	// Client makes the requests; nil means http.DefaultClient.
	Client *http.Client
	// BaseURL replaces CodeAssistURL (a test, an egress gateway).
	BaseURL string
	// FirstPoll is the wait before the first look at a pending operation;
	// it doubles up to the 5 s the Gemini CLI polls at. Default 1s.
	FirstPoll time.Duration
}

// codeAssistPollMax is the Gemini CLI's interval between two looks at a
// pending onboarding.
const codeAssistPollMax = 5 * time.Second

// maxCodeAssistAnswer bounds how much of an answer is read.
const maxCodeAssistAnswer = 1 << 20

// Project returns the Code Assist project of the account whose access
// token is given: project itself once Code Assist accepts it, or, when
// project is "", the one Code Assist manages for a free-tier account. An
// account whose tier needs a project of the user's own, or that may not
// use Code Assist, is an error saying so. No error carries the token.
func (s CodeAssistSetup) Project(ctx context.Context, accessToken, project string) (string, error) {
	meta := map[string]string{"ideType": "IDE_UNSPECIFIED", "platform": "PLATFORM_UNSPECIFIED", "pluginType": "GEMINI"}
	load := map[string]any{"metadata": meta}
	if project != "" {
		meta["duetProject"] = project
		load["cloudaicompanionProject"] = project
	}
	res, err := s.call(ctx, http.MethodPost, "/v1internal:loadCodeAssist", accessToken, load)
	if err != nil {
		return "", err
	}
	if gjson.GetBytes(res, "currentTier").Exists() {
		if id := projectID(gjson.GetBytes(res, "cloudaicompanionProject")); id != "" {
			return id, nil
		}
		if project != "" {
			return project, nil
		}
		return "", noProject(res, gjson.GetBytes(res, "currentTier.id").String())
	}

	tier := TierLegacy
	for _, t := range gjson.GetBytes(res, "allowedTiers").Array() {
		if t.Get("isDefault").Bool() {
			tier = t.Get("id").String()
			break
		}
	}
	onboard := map[string]any{"tierId": tier, "metadata": meta}
	if tier != TierFree && project != "" {
		onboard["cloudaicompanionProject"] = project
	}
	op, err := s.call(ctx, http.MethodPost, "/v1internal:onboardUser", accessToken, onboard)
	if err != nil {
		return "", err
	}
	wait := s.FirstPoll
	if wait <= 0 {
		wait = time.Second
	}
	for !gjson.GetBytes(op, "done").Bool() {
		name := gjson.GetBytes(op, "name").String()
		if !validOperationName(name) {
			return "", errors.New("code assist onboarding: a pending operation without a usable name")
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("code assist onboarding: waiting for %s: %w", name, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, codeAssistPollMax)
		if op, err = s.call(ctx, http.MethodGet, "/v1internal/"+name, accessToken, nil); err != nil {
			return "", err
		}
	}
	if e := gjson.GetBytes(op, "error"); e.Exists() {
		return "", fmt.Errorf("code assist onboarding failed: %s", sanitize(e.Get("message").String(), accessToken, 200))
	}
	if id := projectID(gjson.GetBytes(op, "response.cloudaicompanionProject")); id != "" {
		return id, nil
	}
	if project != "" {
		return project, nil
	}
	return "", noProject(res, tier)
}

// projectID reads a project as loadCodeAssist gives it (the id) or as an
// onboarding operation does ({"id", "name"}).
func projectID(v gjson.Result) string {
	if v.IsObject() {
		v = v.Get("id")
	}
	return strings.TrimSpace(v.String())
}

// validOperationName accepts what Code Assist names its operations
// ("operations/…"): no way out of the v1internal path.
func validOperationName(name string) bool {
	if name == "" || len(name) > 512 || strings.Contains(name, "..") || strings.ContainsAny(name, "?#\\ ") {
		return false
	}
	return !strings.HasPrefix(name, "/")
}

// noProject explains why loadCodeAssist's answer res gave no project.
func noProject(res []byte, tier string) error {
	var reasons []string
	for _, t := range gjson.GetBytes(res, "ineligibleTiers").Array() {
		if m := sanitize(t.Get("reasonMessage").String(), "", 200); m != "" {
			reasons = append(reasons, m)
		}
	}
	if len(reasons) > 0 {
		return fmt.Errorf("code assist: this account may not use Code Assist without a project of its own: %s", strings.Join(reasons, "; "))
	}
	return fmt.Errorf("code assist: the account's tier (%s) needs a Google Cloud project of the user's own: name it with --project (or project_id in the auth file)", tier)
}

// call sends one request to the Code Assist API and returns the answer of
// a 2xx, or an error with the status and Google's message.
func (s CodeAssistSetup) call(ctx context.Context, method, path, accessToken string, body any) ([]byte, error) {
	base := strings.TrimSuffix(s.BaseURL, "/")
	if base == "" {
		base = CodeAssistURL
	}
	var rd io.Reader = http.NoBody
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(raw)
	}
	what := strings.TrimPrefix(strings.TrimPrefix(path, "/v1internal:"), "/v1internal/")
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("code assist %s: %w", what, err)
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		// a *url.Error names the method and URL, never a header
		return nil, fmt.Errorf("code assist %s: %w", what, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxCodeAssistAnswer))
	if err != nil {
		return nil, fmt.Errorf("code assist %s: reading the answer: %w", what, err)
	}
	if resp.StatusCode/100 != 2 {
		msg := sanitize(gjson.GetBytes(raw, "error.message").String(), accessToken, 200)
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		return nil, fmt.Errorf("code assist %s: status %d: %s", what, resp.StatusCode, msg)
	}
	if !gjson.ValidBytes(raw) {
		return nil, fmt.Errorf("code assist %s: the answer is not JSON", what)
	}
	return raw, nil
}
