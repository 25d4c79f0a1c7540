package oauth_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth/oauth"
	"github.com/caddy-cliproxy/cliproxy/internal/mockupstream"
)

func codeAssistMock(t *testing.T, acct mockupstream.CodeAssistAccount) (*mockupstream.Server, oauth.CodeAssistSetup) {
	t.Helper()
	m := mockupstream.New()
	m.SetCodeAssistAccount(acct)
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	return m, oauth.CodeAssistSetup{Client: srv.Client(), BaseURL: srv.URL, FirstPoll: 10 * time.Millisecond}
}

// TestCodeAssistSetupFreeTier: a free-tier account without a project is
// onboarded as the Gemini CLI does it, waiting for the pending operation,
// and ends with the project Google manages for it; once onboarded,
// loadCodeAssist alone gives it.
func TestCodeAssistSetupFreeTier(t *testing.T) {
	m, setup := codeAssistMock(t, mockupstream.CodeAssistAccount{Project: "wise-river-h7k2p", PendingPolls: 2})
	project, err := setup.Project(context.Background(), "ya29.access", "")
	require.NoError(t, err)
	assert.Equal(t, "wise-river-h7k2p", project)

	var paths []string
	for _, r := range m.Requests() {
		paths = append(paths, r.Method+" "+r.Path)
		assert.Equal(t, "Bearer ya29.access", r.Header.Get("Authorization"))
	}
	assert.Equal(t, []string{
		"POST /v1internal:loadCodeAssist",
		"POST /v1internal:onboardUser",
		"GET /v1internal/operations/onboard-1",
		"GET /v1internal/operations/onboard-1",
		"GET /v1internal/operations/onboard-1",
	}, paths)
	reqs := m.Requests()
	load := reqs[0].Body
	assert.Equal(t, "GEMINI", gjson.GetBytes(load, "metadata.pluginType").String())
	assert.Equal(t, "IDE_UNSPECIFIED", gjson.GetBytes(load, "metadata.ideType").String())
	assert.False(t, gjson.GetBytes(load, "cloudaicompanionProject").Exists())
	onboard := reqs[1].Body
	assert.Equal(t, "free-tier", gjson.GetBytes(onboard, "tierId").String())
	assert.False(t, gjson.GetBytes(onboard, "cloudaicompanionProject").Exists(), "the free tier names no project")

	again, err := setup.Project(context.Background(), "ya29.access", "")
	require.NoError(t, err)
	assert.Equal(t, "wise-river-h7k2p", again)
	assert.Equal(t, 1, m.CodeAssistOnboardings(), "an onboarded account is not onboarded again")
}

// TestCodeAssistSetupNeedsProject: a standard-tier account gets no managed
// project; without one of the user's own the error says to name one, and
// with one, onboarding passes it on.
func TestCodeAssistSetupNeedsProject(t *testing.T) {
	_, setup := codeAssistMock(t, mockupstream.CodeAssistAccount{Tier: "standard-tier"})
	_, err := setup.Project(context.Background(), "ya29.access", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "standard-tier")
	assert.Contains(t, err.Error(), "--project")
	assert.NotContains(t, err.Error(), "ya29.access")

	m, setup := codeAssistMock(t, mockupstream.CodeAssistAccount{Tier: "standard-tier"})
	project, err := setup.Project(context.Background(), "ya29.access", "my-gcp-project")
	require.NoError(t, err)
	assert.Equal(t, "my-gcp-project", project)
	reqs := m.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "my-gcp-project", gjson.GetBytes(reqs[1].Body, "cloudaicompanionProject").String())
	assert.Equal(t, "my-gcp-project", gjson.GetBytes(reqs[1].Body, "metadata.duetProject").String())
}

// TestCodeAssistSetupRefusals: an endpoint's refusal is reported with its
// status and message, never the token, and a waiting caller can give up.
func TestCodeAssistSetupRefusals(t *testing.T) {
	m, setup := codeAssistMock(t, mockupstream.CodeAssistAccount{})
	m.SetFault("ya29.denied", mockupstream.Fault{Status: http.StatusForbidden})
	_, err := setup.Project(context.Background(), "ya29.denied", "")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "code assist loadCodeAssist: status 403")
	assert.NotContains(t, err.Error(), "ya29.denied")

	_, setup = codeAssistMock(t, mockupstream.CodeAssistAccount{PendingPolls: 1000})
	setup.FirstPoll = time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = setup.Project(ctx, "ya29.access", "")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}
