package main

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
	"github.com/gatepass/gatepass/tokens"
)

// The whole main path: request, approval message, approval, token by DM,
// introspection, list, revocation.
func TestRequestApproveUseRevoke(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	reply := h.command(alice, "prod-db read 30m INC-123 slow queries")
	if reply.ResponseType != "ephemeral" {
		t.Errorf("reply response_type = %q, want ephemeral", reply.ResponseType)
	}
	id := idRE.FindString(reply.Text)
	if id == "" {
		t.Fatalf("no request ID in %q", reply.Text)
	}

	m := h.approvalMessage(id)
	mustContain(t, "approval message", fakeslack.PlainText(m), "<@"+alice+">", "prod-db", "read", "30m", "INC-123", "slow queries")
	var texts []string
	for _, b := range fakeslack.Buttons(m) {
		texts = append(texts, b.Text)
	}
	if strings.Join(texts, ",") != "Approve,Deny" {
		t.Fatalf("approval buttons = %v, want Approve, Deny", texts)
	}

	before := time.Now().Unix()
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)
	if !tokens.Valid(tok) {
		t.Fatalf("token %q is not well formed", tok)
	}
	h.waitFor("the approval message to show the decision", func() bool {
		m, _ := h.message(approvals, id)
		return !hasButtons(m) && strings.Contains(fakeslack.PlainText(m), "Approved by <@"+bob+">")
	})

	got := h.introspect(tok)
	want := map[string]any{"active": true, "scope": "prod-db:read", "resource": "prod-db", "level": "read",
		"sub": alice, "ticket": "INC-123", "request_id": id, "break_glass": false, "token_type": "Bearer"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("introspect %s = %v, want %v", k, got[k], v)
		}
	}
	iat, exp := int64(got["iat"].(float64)), int64(got["exp"].(float64))
	if exp-iat != 1800 || iat < before-1 || iat > time.Now().Unix() {
		t.Errorf("iat %d, exp %d: want exp = iat + 1800 around now (%d)", iat, exp, before)
	}

	list := h.command(alice, "list")
	mustContain(t, "list", list.Text, id, "prod-db", "active")

	// Another user cannot revoke alice's grant.
	refused := h.command(mallory, "revoke "+id)
	mustContain(t, "mallory's revoke", refused.Text, "Only")
	if !active(h.introspect(tok)) {
		t.Fatal("a refused revoke ended the grant")
	}

	h.command(alice, "revoke "+id)
	if active(h.introspect(tok)) {
		t.Fatal("token still active after revoke")
	}
	h.waitFor("the revocation announcement", func() bool {
		m, ok := h.message(announce, "INC-123")
		return ok && strings.Contains(m.Text, "revoked")
	})
	if list := h.command(alice, "list"); strings.Contains(list.Text, id) {
		t.Errorf("list still shows the revoked grant: %s", list.Text)
	}
	// No "expired" notice follows a revocation, even once exp passes.
	for _, m := range append(h.slack.Messages(announce), h.slack.DM(alice)...) {
		if strings.Contains(m.Text, "expired") {
			t.Errorf("an expiry notice followed the revocation: %s", m.Text)
		}
	}
}

func TestDeny(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.request(alice, "prod-db read 1h INC-7 dashboards")
	h.approvalMessage(id)
	h.click(carol, approvals, id, "deny")
	h.waitFor("the denial DM", func() bool {
		for _, m := range h.slack.DM(alice) {
			if strings.Contains(m.Text, "denied") && strings.Contains(m.Text, "INC-7") {
				return true
			}
		}
		return false
	})
	m, _ := h.message(approvals, id)
	h.waitFor("the approval message to show the denial", func() bool {
		m, _ = h.message(approvals, id)
		return !hasButtons(m)
	})
	mustContain(t, "denied approval message", fakeslack.PlainText(m), "Denied by <@"+carol+">")
	for _, dm := range h.slack.DM(alice) {
		if tokenRE.MatchString(dm.Text) {
			t.Fatal("a denied request sent a token")
		}
	}
}

func TestOnlyOtherApproversDecide(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.request(alice, "prod-db read 30m INC-9")
	h.approvalMessage(id)
	for _, who := range []string{alice, mallory} {
		h.click(who, approvals, id, "approve")
		h.waitFor("an ephemeral explanation for "+who, func() bool {
			for _, e := range h.slack.Ephemerals(who) {
				if e.Channel == approvals {
					return true
				}
			}
			return false
		})
	}
	mustContain(t, "self-approval explanation", h.ephemeralIn(alice, approvals), "your own request")
	mustContain(t, "outsider explanation", h.ephemeralIn(mallory, approvals), "Only approvers")
	m, _ := h.message(approvals, id)
	if !hasButtons(m) || m.Updates != 0 {
		t.Fatalf("refused clicks changed the approval message: %d updates", m.Updates)
	}
	if list := h.command(alice, "list"); !strings.Contains(list.Text, "pending") {
		t.Fatalf("request no longer pending after refused clicks: %s", list.Text)
	}
	// An approver through a user group may decide.
	h.click(dave, approvals, id, "approve")
	h.token(alice, id)
}

func TestTwoApprovalsFromDistinctApprovers(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.request(alice, "prod-db write 15m INC-42 migration")
	h.approvalMessage(id)

	h.click(bob, approvals, id, "approve")
	h.waitFor("1 of 2 on the approval message", func() bool {
		m, _ := h.message(approvals, id)
		return strings.Contains(fakeslack.PlainText(m), "1 of 2") && hasButtons(m)
	})
	h.click(bob, approvals, id, "approve") // the same approver counts once
	h.waitFor("bob's explanation", func() bool { return h.ephemeralIn(bob, approvals) != "" })
	mustContain(t, "second click by bob", h.ephemeralIn(bob, approvals), "already approved")
	m, _ := h.message(approvals, id)
	if !hasButtons(m) || !strings.Contains(fakeslack.PlainText(m), "1 of 2") {
		t.Fatalf("a repeated approval moved the request on: %s", fakeslack.PlainText(m))
	}
	for _, dm := range h.slack.DM(alice) {
		if tokenRE.MatchString(dm.Text) {
			t.Fatal("token sent after one of two approvals")
		}
	}

	h.click(carol, approvals, id, "approve")
	tok := h.token(alice, id)
	if got := h.introspect(tok); got["scope"] != "prod-db:write" {
		t.Fatalf("introspect = %v", got)
	}
	h.waitFor("the decided message", func() bool {
		m, _ := h.message(approvals, id)
		return !hasButtons(m) && strings.Contains(fakeslack.PlainText(m), "<@"+bob+">, <@"+carol+">")
	})
}

func TestOneDenyEndsARequestWithApprovals(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.request(alice, "prod-db write 15m INC-43")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	h.waitFor("1 of 2", func() bool {
		m, _ := h.message(approvals, id)
		return strings.Contains(fakeslack.PlainText(m), "1 of 2")
	})
	h.click(carol, approvals, id, "deny")
	h.waitFor("the denied message", func() bool {
		m, _ := h.message(approvals, id)
		return !hasButtons(m) && strings.Contains(fakeslack.PlainText(m), "Denied by <@"+carol+">")
	})
}

func TestConcurrentApprovalsIssueOneToken(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.request(alice, "prod-db read 30m INC-16 race")
	m := h.approvalMessage(id)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := []string{bob, carol, dave}[i%3]
			r, err := h.slack.Click(context.Background(), who, m, "approve")
			if err != nil || r.Status != http.StatusOK {
				t.Errorf("click %d: %v, HTTP %d", i, err, r.Status)
			}
		}()
	}
	wg.Wait()
	h.token(alice, id)
	h.waitFor("the decided message", func() bool {
		m, _ := h.message(approvals, id)
		return !hasButtons(m)
	})
	time.Sleep(300 * time.Millisecond) // let any (wrong) second delivery show itself
	tokensSent := 0
	for _, dm := range h.slack.DM(alice) {
		if tokenRE.MatchString(dm.Text) {
			tokensSent++
		}
	}
	if tokensSent != 1 {
		t.Fatalf("16 concurrent approvals sent %d tokens, want 1", tokensSent)
	}
}

func TestRefusedRequestsReachNoOne(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	cases := []struct{ text, says string }{
		{"nosuch read 30m INC-1", "Unknown resource"},
		{"prod-db admin 30m INC-1", "no level"},
		{"prod-db read 5h INC-1", "too long"},
		{"prod-db write 2h INC-1", "too long"},
		{"prod-db read 0s INC-1", "not a duration"},
		{"prod-db read 30m inc1", "does not match"},
		{"break-glass billing read 30m INC-1 on fire", "not allowed"},
		{"break-glass prod-db read 30m INC-1", "reason"},
		{"billing read 30m X", ""}, // billing has no ticket pattern: accepted
	}
	for _, c := range cases {
		t.Run(c.text, func(t *testing.T) {
			before := h.postCalls()
			r := h.command(alice, c.text)
			if c.says == "" {
				if !idRE.MatchString(r.Text) {
					t.Fatalf("expected an accepted request, got %q", r.Text)
				}
				return
			}
			if r.ResponseType != "ephemeral" {
				t.Errorf("response_type = %q", r.ResponseType)
			}
			mustContain(t, "reply", r.Text, c.says)
			time.Sleep(50 * time.Millisecond)
			if h.postCalls() != before {
				t.Errorf("a refused request was posted to Slack")
			}
		})
	}
}

func TestHelpAndNonsenseGetUsageAndStoreNothing(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, text := range []string{"", "help", "prod-db", "revoke", "list me", "prod-db read soon INC-1", "\x00\x01"} {
		r := h.command(alice, text)
		if r.ResponseType != "ephemeral" {
			t.Errorf("%q: response_type %q", text, r.ResponseType)
		}
		mustContain(t, "reply to "+text, r.Text, "/access", "break-glass", "revoke", "list")
	}
	// /access alone also opens the request form.
	if n := len(h.slack.CallsTo("views.open")); n != 1 {
		t.Errorf("views.open called %d times for /access with no text, want once", n)
	}
	if list := h.command(alice, "list"); !strings.Contains(list.Text, "no pending requests") {
		t.Errorf("usage replies stored something: %s", list.Text)
	}
	if h.postCalls() != 0 {
		t.Errorf("usage replies posted %d messages", h.postCalls())
	}
}

func TestBreakGlass(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	r := h.command(alice, "break-glass prod-db write 20m INC-911 primary is down")
	mustContain(t, "break-glass reply", r.Text, "Break-glass access granted")
	id := idRE.FindString(r.Text)
	tok := h.token(alice, id)
	got := h.introspect(tok)
	if !active(got) || got["break_glass"] != true || got["scope"] != "prod-db:write" {
		t.Fatalf("introspect = %v", got)
	}
	// Alerts in both channels, each mentioning the approvers, with Mark
	// Reviewed and Revoke buttons.
	for _, ch := range []string{approvals, announce} {
		var m fakeslack.Message
		h.waitFor("the alert in "+ch, func() bool {
			var ok bool
			m, ok = h.message(ch, id)
			return ok
		})
		mustContain(t, "alert", fakeslack.PlainText(m), "BREAK-GLASS", "<@"+alice+">", "INC-911", "primary is down", "<@"+bob+">", "<!subteam^S0ONCALL>")
		bs := fakeslack.Buttons(m)
		if len(bs) != 2 || !strings.Contains(bs[0].Text, "Review") || bs[1].Text != "Revoke" {
			t.Fatalf("alert buttons = %+v", bs)
		}
	}
	h.click(alice, approvals, id, "review") // not by the requester
	h.waitFor("alice's explanation", func() bool { return h.ephemeralIn(alice, approvals) != "" })
	mustContain(t, "requester's review", h.ephemeralIn(alice, approvals), "your own")
	h.click(bob, approvals, id, "review")
	for _, ch := range []string{approvals, announce} {
		h.waitFor("the reviewed alert in "+ch, func() bool {
			m, _ := h.message(ch, id)
			bs := fakeslack.Buttons(m)
			return len(bs) == 1 && bs[0].Text == "Revoke" && strings.Contains(fakeslack.PlainText(m), "Reviewed by <@"+bob+">")
		})
	}
}

func TestGrantExpiresOnTheSecondAndIsAnnounced(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.request(alice, "prod-db read 2s INC-77 quick look")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)
	got := h.introspect(tok)
	if !active(got) {
		t.Fatalf("fresh grant inactive: %v", got)
	}
	exp := time.Unix(int64(got["exp"].(float64)), 0)
	time.Sleep(time.Until(exp))
	if active(h.introspect(tok)) {
		t.Fatal("token active after exp")
	}
	deadline := exp.Add(2 * time.Second)
	h.waitFor("the expiry announcement", func() bool {
		m, ok := h.message(announce, "INC-77")
		return ok && strings.Contains(m.Text, "expired")
	})
	h.waitFor("the expiry DM", func() bool {
		for _, m := range h.slack.DM(alice) {
			if strings.Contains(m.Text, "expired") && strings.Contains(m.Text, "INC-77") {
				return true
			}
		}
		return false
	})
	if late := time.Since(deadline); late > 0 {
		t.Errorf("expiry announced %s later than 2 s after exp", late)
	}
}

func TestRestartCatchesUpOnExpiries(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	id := h.request(alice, "prod-db read 2s INC-88")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)
	h.stop()
	time.Sleep(2500 * time.Millisecond) // the grant expires while gatepass is down
	if m, ok := h.message(announce, "INC-88"); ok {
		t.Fatalf("expiry announced while down?! %s", m.Text)
	}
	h.start()
	if active(h.introspect(tok)) {
		t.Fatal("token active after restart past exp")
	}
	h.waitFor("the expiry announcement after restart", func() bool {
		m, ok := h.message(announce, "INC-88")
		return ok && strings.Contains(m.Text, "expired")
	})
}

func TestSignaturesAreRequired(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	body := "command=%2Faccess&text=prod-db+read+30m+INC-1&user_id=U0ALICE"
	post := func(path, body string, ts int64, sig string) int {
		req, _ := http.NewRequest(http.MethodPost, h.base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", strconvI(ts))
		req.Header.Set("X-Slack-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	now := time.Now().Unix()
	cases := []struct {
		name string
		ts   int64
		sig  string
	}{
		{"bad signature", now, fakeslack.Sign("wrong-secret", now, []byte(body))},
		{"no signature", now, ""},
		{"six minutes old", now - 360, fakeslack.Sign(testSecret, now-360, []byte(body))},
		{"six minutes ahead", now + 360, fakeslack.Sign(testSecret, now+360, []byte(body))},
	}
	for _, c := range cases {
		for _, path := range []string{"/slack/commands", "/slack/interactions", "/slack/events"} {
			if code := post(path, body, c.ts, c.sig); code != http.StatusUnauthorized {
				t.Errorf("%s to %s: HTTP %d, want 401", c.name, path, code)
			}
		}
	}
	if code := post("/slack/commands", body, now, fakeslack.Sign(testSecret, now, []byte(body))); code != http.StatusOK {
		t.Fatalf("good signature: HTTP %d", code)
	}
	// Only the well-signed request was stored.
	list := h.command(alice, "list")
	if n := len(idRE.FindAllString(list.Text, -1)); n != 1 {
		t.Fatalf("list shows %d requests, want 1:\n%s", n, list.Text)
	}
}

func TestURLVerification(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	r, err := h.slack.URLVerification(h.ctx(), "challenge-xyz")
	if err != nil || r.Status != http.StatusOK || !strings.Contains(string(r.Body), "challenge-xyz") {
		t.Fatalf("url_verification: %v, HTTP %d %s", err, r.Status, r.Body)
	}
}
