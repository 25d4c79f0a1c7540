package executor

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/tidwall/gjson"

	"github.com/caddy-cliproxy/cliproxy/auth"
	"github.com/caddy-cliproxy/cliproxy/reqlog"
	"github.com/caddy-cliproxy/cliproxy/selector"
)

// turnKind is how one attempt of a turn ended.
type turnKind uint8

const (
	// turnDone: the client got the turn's answer (or its own error).
	turnDone turnKind = iota
	// turnRefused: the upstream refused the turn before any output, in a
	// way another credential may not; the turn is replayed.
	turnRefused
	// turnReopen: the upstream connection reached its age cap; the turn
	// is replayed on a new connection of the same credential.
	turnReopen
	// turnEnded: the session is over (the client left, or the upstream
	// broke off after output reached the client).
	turnEnded
)

type turnResult struct {
	kind    turnKind
	outcome auth.Outcome // of a refusal
	frame   []byte       // the refusal's event, if it sent one
}

// turn serves one response.create, failing over to another credential
// while nothing of the answer reached the client. It reports whether the
// session goes on.
func (s *wsSession) turn(msg []byte) bool {
	model, err := bodyModel(msg)
	if err != nil {
		return s.toClient(wsErrorEvent(&ClientError{Status: http.StatusBadRequest, Code: CodeInvalidRequest, Message: err.Error()}))
	}
	if !validModel(model) {
		return s.toClient(wsErrorEvent(&ClientError{
			Status:  http.StatusBadRequest,
			Code:    CodeInvalidRequest,
			Message: fmt.Sprintf("model names are at most %d printable bytes", maxModelLength),
		}))
	}
	rn := s.newRun(model, msg)
	defer rn.finishTurn()
	eligible := s.v.eligible(s.route, model, s.principal)
	if len(eligible) == 0 && s.v.refusesClient(s.route, model, s.principal) {
		return s.answerError(rn, noCredentialForClient(s.route, model))
	}
	if len(eligible) == 0 {
		return s.answerError(rn, &ClientError{
			Status:  http.StatusNotFound,
			Code:    CodeModelNotSupported,
			Message: fmt.Sprintf("no credential of this gateway serves model %q for %s clients", model, s.route.Family),
		})
	}
	prev := gjson.GetBytes(msg, "previous_response_id").String()
	key := s.route.Family.String() + ":" + model
	limit := s.e.attemptsFor(len(eligible))
	tried := make([]*auth.Credential, 0, limit)
	// the last refusal, answered in the gateway's own words when no
	// credential is left: an upstream's error may name its account
	var refusal int
	var retryAt time.Time
	connErr, waited, reopened := false, false, false
	// again is the credential a transient failure is retried on
	// (request_retry), retried how often it was so far
	var again *selector.Decision
	retried := 0
	for rn.attempts < limit {
		d, kept := s.keep(rn, eligible, tried)
		if !kept && again != nil {
			s.dropUpstream()
			d, again = *again, nil
		} else if !kept {
			retried = 0
			s.dropUpstream()
			avail := rn.available(eligible, tried)
			if len(avail) == 0 {
				if waited || !rn.waitForRecovery(eligible, tried) {
					break
				}
				waited = true
				continue
			}
			if s.home != nil && containsCred(avail, s.home) {
				// a new connection stays with the credential of the last
				// one, which holds the conversation's responses
				d = selector.Decision{Credential: s.home, Bind: true}
			} else if d = rn.pick(key, avail, tried); d.Credential == nil {
				break
			}
			if !s.v.pool.Claim(d.Credential, model) {
				tried = append(tried, d.Credential)
				continue
			}
		}
		c := d.Credential
		rn.attempts++
		attemptStart := time.Now()
		if owner, ok := s.created[prev]; ok && owner != c {
			// the response lives with the credential that made it; the
			// client resends the whole conversation on this answer
			rn.status, rn.served = http.StatusBadRequest, c
			return s.answerFrame(rn, previousResponseNotFound(prev))
		}
		if !kept {
			up, outcome, err := s.open(c)
			if err != nil && s.retryTurn(rn, c, outcome, err, &retried) {
				rn.observeTurnAttempt(c, outcome.Status, attemptStart, turnNote{err: "websocket upstream refused the connection, retrying (request_retry)"})
				again = &d
				limit++
				continue
			}
			if err != nil {
				until := rn.fail(c, outcome)
				rn.observeTurnAttempt(c, outcome.Status, attemptStart, turnNote{err: "websocket upstream refused the connection"})
				rn.logAttempt(c, outcome.Status, err, "websocket upstream refused the connection, failing over")
				tried = append(tried, c)
				refusal, retryAt, connErr = outcome.Status, rn.retryAt(until, outcome), outcome.Status == 0
				continue
			}
			s.up, s.upSince, s.home = up, time.Now(), c
		}
		rn.publish(c)
		up := s.up
		res := s.relay(rn, d, msg)
		switch res.kind {
		case turnDone:
			rn.observeTurnAttempt(c, rn.status, attemptStart, turnNote{token: up.sentToken()})
			return true
		case turnEnded:
			status := rn.status
			if rn.broke {
				status = http.StatusOK // what the upstream answered before it broke off
			}
			rn.observeTurnAttempt(c, status, attemptStart, turnNote{token: up.sentToken()})
			return false
		case turnReopen:
			s.dropUpstream()
			rn.attempts--
			if reopened {
				// a fresh connection said so too: not a cap but a refusal
				tried = append(tried, c)
			}
			reopened = true
		case turnRefused:
			if s.retryTurn(rn, c, res.outcome, nil, &retried) {
				rn.observeTurnAttempt(c, res.outcome.Status, attemptStart, turnNote{
					err: "refused before any output, retrying (request_retry)", frame: res.frame, token: up.sentToken(),
				})
				s.dropUpstream()
				again = &d
				limit++
				continue
			}
			until := rn.fail(c, res.outcome)
			rn.observeTurnAttempt(c, res.outcome.Status, attemptStart, turnNote{
				err: "refused before any output, failing over", frame: res.frame, token: up.sentToken(),
			})
			rn.logAttempt(c, res.outcome.Status, nil, "websocket turn refused, failing over")
			s.dropUpstream()
			tried = append(tried, c)
			refusal, retryAt, connErr = res.outcome.Status, rn.retryAt(until, res.outcome), res.outcome.Status == 0
		}
	}
	switch {
	case refusal != 0:
		return s.answerError(rn, rn.exhaustedError(tried, refusal, retryAt))
	case connErr:
		return s.answerError(rn, &ClientError{
			Status:  http.StatusBadGateway,
			Code:    CodeUpstreamUnreachable,
			Message: fmt.Sprintf("the %s upstream for model %q could not be reached", providersOf(eligible), model),
		})
	}
	return s.answerError(rn, rn.unavailableError(eligible))
}

// retryTurn reports whether a turn that c failed with outcome (err, for a
// connection that did not open) goes to c again, as its request_retry
// allows for a transient failure, after the backoff; retried counts the
// retries on c.
func (s *wsSession) retryTurn(rn *run, c *auth.Credential, outcome auth.Outcome, err error, retried *int) bool {
	if *retried >= c.RequestRetry || !transientOutcome(outcome, err) {
		return false
	}
	rn.logAttempt(c, outcome.Status, err, "transient websocket failure, retrying on the same credential (request_retry)")
	if !rn.sleep(rn.retryWait(*retried)) {
		return false
	}
	*retried++
	return true
}

// answerError ends a turn with the gateway's own error.
func (s *wsSession) answerError(rn *run, ce *ClientError) bool {
	rn.status, rn.gateway = ce.Status, ce
	return s.answerFrame(rn, wsErrorEvent(ce))
}

// answerFrame sends the client the error event that ends its turn, kept
// for the request log.
func (s *wsSession) answerFrame(rn *run, frame []byte) bool {
	if rn.e.capturer != nil {
		rn.turnOut = frame
	}
	return s.toClient(frame)
}

// relay sends the turn to the current upstream and passes its events to
// the client, holding back those that come before any output so that a
// refusal can still be replayed elsewhere.
func (s *wsSession) relay(rn *run, d selector.Decision, msg []byte) turnResult {
	c, up := d.Credential, s.up
	if err := up.send(s.ctx, rn.upstreamTurn(c, msg)); err != nil {
		return turnResult{kind: turnRefused, outcome: auth.Outcome{Message: "websocket upstream gone"}}
	}
	var held [][]byte
	started := false
	for {
		select {
		case m := <-s.fromClient:
			if m.err != nil {
				s.clientGone(m.err)
				return turnResult{kind: turnEnded}
			}
			if isTurn(m.data) {
				s.queued = append(s.queued, m.data)
			} else {
				_ = up.send(s.ctx, m.data) // a failure shows as the upstream's end
			}
		case m := <-up.events():
			if m.err != nil {
				if !started {
					if s.upExpired {
						return turnResult{kind: turnReopen}
					}
					// a connection error: the transient cooldown
					return turnResult{kind: turnRefused, outcome: auth.Outcome{Message: "websocket upstream dropped the turn"}}
				}
				// the answer broke off after it reached the client
				rn.brokeOff(m.err)
				code, reason := closeOf(m.err)
				s.dropUpstream()
				s.closeClient(code, reason)
				return turnResult{kind: turnEnded}
			}
			typ := gjson.GetBytes(m.data, "type").String()
			if !started {
				if typ == "error" || typ == "response.failed" {
					if eventCode(m.data) == "websocket_connection_limit_reached" {
						s.upExpired = true
						return turnResult{kind: turnReopen}
					}
					status := eventStatus(m.data)
					if failsOver(status) {
						return turnResult{kind: turnRefused, frame: m.data, outcome: auth.Outcome{
							Status:  status,
							Hint:    auth.ParseHint(m.header, errorBody(m.data), s.v.pool.Now()),
							Message: "websocket turn refused",
						}}
					}
					// the client's own fault: every credential would say
					// the same, and it cools nothing
					rn.status, rn.served = status, c
					for _, h := range held {
						s.toClient(h)
					}
					return s.done(s.answerFrame(rn, m.data))
				}
				if typ == "response.created" || typ == "response.in_progress" || typ == "response.queued" {
					held = append(held, m.data)
					continue
				}
				started = true
				rn.recordCommitted(c, d, http.StatusOK)
				rn.status, rn.served, rn.firstByte = http.StatusOK, c, time.Since(rn.start)
				rn.usage = newUsageReader(FamilyOpenAI, "responses", false)
				for _, h := range held {
					s.note(c, h)
					if !s.toClient(h) {
						return turnResult{kind: turnEnded}
					}
				}
				held = nil
			}
			s.note(c, m.data)
			switch typ {
			case "response.completed", "response.incomplete", "response.failed":
				_, _ = rn.usage.Write(m.data)
				return s.done(s.toClient(m.data))
			case "error":
				if eventCode(m.data) == "websocket_connection_limit_reached" {
					s.upExpired = true
				}
				return s.done(s.toClient(m.data))
			}
			if !s.toClient(m.data) {
				return turnResult{kind: turnEnded}
			}
		}
	}
}

// done is the end of a turn whose last message was sent (ok) or not.
func (s *wsSession) done(ok bool) turnResult {
	if ok {
		return turnResult{kind: turnDone}
	}
	return turnResult{kind: turnEnded}
}

// eventCode is the error code of an error or response.failed event.
func eventCode(msg []byte) string {
	e := gjson.GetBytes(msg, "error")
	if !e.Exists() {
		e = gjson.GetBytes(msg, "response.error")
	}
	return e.Get("code").String()
}

// eventStatus is the HTTP status an error event stands for: its own
// status, else what its error object says.
func eventStatus(msg []byte) int {
	if st := gjson.GetBytes(msg, "status"); st.Type == gjson.Number && st.Int() >= 400 && st.Int() < 600 {
		return int(st.Int())
	}
	e := gjson.GetBytes(msg, "error")
	if !e.Exists() {
		e = gjson.GetBytes(msg, "response.error")
	}
	if st := errorStatus(e); st != 0 {
		return st
	}
	return http.StatusBadRequest
}

// errorBody is the part of an error event the hint parser reads: an
// object with the error under "error".
func errorBody(msg []byte) []byte {
	if r := gjson.GetBytes(msg, "response"); r.IsObject() && r.Get("error").Exists() {
		return []byte(r.Raw)
	}
	return msg
}

// previousResponseNotFound is the error the OpenAI API answers a
// previous_response_id it does not know with.
func previousResponseNotFound(id string) []byte {
	msg := fmt.Sprintf("Previous response with id '%s' not found.", id)
	b, _ := json.Marshal(map[string]any{
		"type": "error", "status": http.StatusBadRequest,
		"error": map[string]any{
			"type": "invalid_request_error", "code": "previous_response_not_found",
			"message": msg, "param": "previous_response_id",
		},
	})
	return b
}

// turnNote is what the request log keeps of a turn's attempt beside its
// status and times.
type turnNote struct {
	err   string // why it got no answer, or what the gateway did with it
	frame []byte // the refusal the client never saw
	token string // the OAuth token the attempt sent, to scrub
}

// observeTurnAttempt reports one attempt of a WebSocket turn on c that
// ended with status (0: no answer), for the same metrics as an HTTP
// attempt, and for the request log. The first byte is the turn's first
// output event, when c served it.
func (rn *run) observeTurnAttempt(c *auth.Credential, status int, start time.Time, note turnNote) {
	var ttfb time.Duration
	if rn.served == c && rn.firstByte > 0 {
		ttfb = max(0, rn.firstByte-start.Sub(rn.start))
	}
	took := time.Since(start)
	rn.reportAttempt(c, status, ttfb, took)
	if rn.e.capturer == nil {
		return
	}
	rn.tries = append(rn.tries, reqlog.Attempt{
		Credential: c.Name, Provider: string(c.Provider), Status: status,
		Error: note.err, Body: note.frame, Start: start, FirstByte: ttfb, Duration: took,
	})
	rn.secrets = append(rn.secrets, c.APIKey, note.token)
}
