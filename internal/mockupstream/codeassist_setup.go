package mockupstream

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/tidwall/gjson"
)

// Code Assist's account set-up, as the Gemini CLI goes through it before
// its first request: POST v1internal:loadCodeAssist tells the account's
// tier and project, POST v1internal:onboardUser joins a tier and answers a
// long-running operation, GET v1internal/operations/{id} polls it until
// "done" with the project. A free-tier account gets a project Google
// manages, which the user cannot name.

// CodeAssistAccount programs the Google account behind Code Assist
// requests (one per server).
type CodeAssistAccount struct {
	// Tier is the tier loadCodeAssist offers as the default to an account
	// not yet onboarded. Default "free-tier".
	Tier string
	// Project is the managed project a free-tier onboarding creates.
	// Default "mock-managed-project".
	Project string
	// Onboarded makes loadCodeAssist answer as for an account already set
	// up: currentTier, and for the free tier the managed project.
	Onboarded bool
	// PendingPolls is how many looks at the onboarding operation answer
	// "done": false before it is done (the real one takes seconds).
	PendingPolls int
}

// codeAssistState is the programmed account and what happened to it.
type codeAssistState struct {
	acct     CodeAssistAccount
	ops      map[string]int // pending looks left, per operation
	nOps     int
	onboards int
}

// SetCodeAssistAccount programs the account Code Assist set-up calls see,
// forgetting onboardings in progress.
func (s *Server) SetCodeAssistAccount(a CodeAssistAccount) {
	if a.Tier == "" {
		a.Tier = "free-tier"
	}
	if a.Project == "" {
		a.Project = "mock-managed-project"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codeAssist = &codeAssistState{acct: a, ops: map[string]int{}}
}

// CodeAssistOnboardings returns how many onboardUser calls were made.
func (s *Server) CodeAssistOnboardings() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.codeAssist == nil {
		return 0
	}
	return s.codeAssist.onboards
}

// codeAssistLocked returns the account state, the default one if none was
// programmed. Callers hold s.mu.
func (s *Server) codeAssistLocked() *codeAssistState {
	if s.codeAssist == nil {
		s.codeAssist = &codeAssistState{acct: CodeAssistAccount{Tier: "free-tier", Project: "mock-managed-project"}, ops: map[string]int{}}
	}
	return s.codeAssist
}

// tierObject is a tier as loadCodeAssist describes it.
func tierObject(id string, isDefault, onboarded bool) map[string]any {
	names := map[string]string{"free-tier": "Gemini Code Assist for individuals", "standard-tier": "Gemini Code Assist Standard", "legacy-tier": "Gemini Code Assist"}
	return map[string]any{
		"id": id, "name": names[id], "isDefault": isDefault,
		"userDefinedCloudaicompanionProject": id != "free-tier",
		"hasOnboardedPreviously":             onboarded,
	}
}

// codeAssistLoad answers loadCodeAssist.
func codeAssistLoad(c *call) {
	if !c.requireJSON() {
		return
	}
	if !gjson.GetBytes(c.body, "metadata").IsObject() {
		c.fail(http.StatusBadRequest, "loadCodeAssist needs metadata")
		return
	}
	c.s.mu.Lock()
	acct := c.s.codeAssistLocked().acct
	c.s.mu.Unlock()
	if !acct.Onboarded {
		c.writeJSON(map[string]any{"allowedTiers": []any{tierObject(acct.Tier, true, false)}})
		return
	}
	ans := map[string]any{"currentTier": tierObject(acct.Tier, true, true), "allowedTiers": []any{tierObject(acct.Tier, true, true)}}
	if acct.Tier == "free-tier" {
		ans["cloudaicompanionProject"] = acct.Project
	} else if p := gjson.GetBytes(c.body, "cloudaicompanionProject").String(); p != "" {
		ans["cloudaicompanionProject"] = p
	}
	c.writeJSON(ans)
}

// codeAssistOnboard answers onboardUser with a long-running operation.
func codeAssistOnboard(c *call) {
	if !c.requireJSON() {
		return
	}
	tier := gjson.GetBytes(c.body, "tierId").String()
	project := gjson.GetBytes(c.body, "cloudaicompanionProject").String()
	c.s.mu.Lock()
	st := c.s.codeAssistLocked()
	st.onboards++
	switch {
	case tier != st.acct.Tier:
		c.s.mu.Unlock()
		c.fail(http.StatusBadRequest, fmt.Sprintf("tier %q is not offered to this account", tier))
		return
	case tier == "free-tier" && project != "":
		c.s.mu.Unlock()
		c.fail(http.StatusBadRequest, "the free tier uses a Google-managed project; cloudaicompanionProject must be empty")
		return
	}
	st.nOps++
	name := fmt.Sprintf("operations/onboard-%d", st.nOps)
	st.ops[name] = st.acct.PendingPolls
	if st.acct.PendingPolls == 0 {
		st.acct.Onboarded = true
	}
	acct := st.acct
	c.s.mu.Unlock()
	if acct.PendingPolls > 0 {
		c.writeJSON(map[string]any{"name": name, "done": false})
		return
	}
	c.writeJSON(onboardDone(name, acct, project))
}

// codeAssistOperation answers a look at an onboarding operation.
func codeAssistOperation(c *call) {
	name := c.rt.model // the operation's name, see routeOf
	c.s.mu.Lock()
	st := c.s.codeAssistLocked()
	left, ok := st.ops[name]
	switch {
	case ok && left > 0:
		st.ops[name] = left - 1
	case ok:
		st.acct.Onboarded = true
	}
	acct := st.acct
	c.s.mu.Unlock()
	switch {
	case !ok:
		c.fail(http.StatusNotFound, "operation "+name+" not found")
	case left > 0:
		c.writeJSON(map[string]any{"name": name, "done": false})
	default:
		c.writeJSON(onboardDone(name, acct, ""))
	}
}

// onboardDone is a finished onboarding: the managed project of a free-tier
// account, else the project the user named.
func onboardDone(name string, acct CodeAssistAccount, named string) map[string]any {
	resp := map[string]any{"@type": "type.googleapis.com/google.internal.cloud.code.v1internal.OnboardUserResponse"}
	project := named
	if acct.Tier == "free-tier" {
		project = acct.Project
	}
	if project != "" {
		resp["cloudaicompanionProject"] = map[string]any{"id": project, "name": project}
	}
	return map[string]any{"name": name, "done": true, "response": resp}
}

// codeAssistCountTokens answers v1internal:countTokens: {"request":
// {"model": "models/<m>", "contents": […]}} → {"totalTokens": n}, without
// an envelope.
func codeAssistCountTokens(c *call) {
	if !c.requireJSON() {
		return
	}
	req := gjson.GetBytes(c.body, "request")
	if !strings.HasPrefix(req.Get("model").String(), "models/") || !req.Get("contents").IsArray() {
		c.fail(http.StatusBadRequest, `countTokens needs request.model ("models/…") and request.contents`)
		return
	}
	c.writeJSON(map[string]int{"totalTokens": tokensOf(len(req.Get("contents").Raw))})
}
