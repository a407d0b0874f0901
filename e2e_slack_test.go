package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
)

// The same flow over Socket Mode: commands and clicks arrive as envelopes,
// and the reply to a command is the ack's payload.
func TestSocketMode(t *testing.T) {
	h := newHarness(t, harnessOptions{socket: true})
	r := h.command(alice, "prod-db read 30m INC-55 over the socket")
	if r.ResponseType != "ephemeral" {
		t.Fatalf("ack payload response_type = %q (body %s)", r.ResponseType, r.Body)
	}
	id := idRE.FindString(r.Text)
	if id == "" {
		t.Fatalf("no request ID in the ack payload %s", r.Body)
	}
	h.approvalMessage(id)
	h.click(alice, approvals, id, "approve") // refused: own request
	h.waitFor("the explanation", func() bool { return h.ephemeralIn(alice, approvals) != "" })
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)
	if !active(h.introspect(tok)) {
		t.Fatal("token from a Socket Mode approval is inactive")
	}
	h.command(alice, "help")
	acks := h.slack.Acks()
	if len(acks) < 4 {
		t.Fatalf("%d acks, want one per envelope (4)", len(acks))
	}
	for _, a := range acks {
		if a.Latency > 3*time.Second {
			t.Errorf("%s envelope acked after %s", a.Type, a.Latency)
		}
	}
	// HTTP endpoints refuse unsigned requests in Socket Mode too.
	resp, err := http.Post(h.base+"/slack/commands", "application/x-www-form-urlencoded", strings.NewReader("text=help"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("unsigned command in Socket Mode: HTTP %d", resp.StatusCode)
	}
}

// The token appears in the requester's DM and nowhere else: no other Slack
// call, no log line, no byte of the database files.
func TestTokenAppearsOnlyInTheRequestersDM(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	h.env["GATEPASS_LOG_LEVEL"] = "debug"
	h.restart()
	id := h.request(alice, "prod-db read 30m INC-1 leak check")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)
	bg := idRE.FindString(h.command(alice, "break-glass prod-db read 30m INC-2 leak check").Text)
	bgTok := h.token(alice, bg)
	h.introspect(tok)
	h.command(alice, "list")
	h.command(alice, "revoke "+id)
	h.waitFor("the revocation announcement", func() bool { _, ok := h.message(announce, "INC-1"); return ok })
	h.stop()

	for _, secret := range []string{tok, bgTok} {
		inDM := 0
		for _, c := range h.slack.Calls() {
			if !strings.Contains(c.Body, secret) {
				continue
			}
			if c.Method == "chat.postMessage" && c.Params.Get("channel") == alice {
				inDM++
				continue
			}
			t.Errorf("token in a %s call to %s", c.Method, c.Params.Get("channel"))
		}
		if inDM != 1 {
			t.Errorf("token sent in %d DMs, want exactly 1", inDM)
		}
		if strings.Contains(h.logs.String(), secret) {
			t.Error("token in the logs")
		}
		files, _ := filepath.Glob(filepath.Join(h.dir, "gatepass.db*"))
		if len(files) == 0 {
			t.Fatal("no database files to check")
		}
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte(secret[6:])) {
				t.Errorf("token in clear in %s", filepath.Base(f))
			}
		}
	}
	if !strings.Contains(h.logs.String(), "level=DEBUG") && !strings.Contains(h.logs.String(), "level=INFO") {
		t.Error("the logs checked are empty")
	}
}

// Rate limits and server errors on chat.postMessage are retried with
// backoff, honouring Retry-After.
func TestSlackRateLimitsAndErrorsAreRetried(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	cases := []struct {
		name       string
		status     int
		retryAfter time.Duration
		times      int
	}{
		{"429 with Retry-After", http.StatusTooManyRequests, time.Second, 1},
		{"503 twice", http.StatusServiceUnavailable, 0, 2},
		{"500", http.StatusInternalServerError, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h.slack.FailNext("chat.postMessage", c.times, c.status, c.retryAfter)
			start := time.Now()
			id := h.request(alice, "prod-db read 30m INC-3 "+strings.ReplaceAll(c.name, " ", "-"))
			h.approvalMessage(id)
			var statuses []int
			var at []time.Time
			for _, call := range h.slack.CallsTo("chat.postMessage") {
				if call.At.After(start) {
					statuses = append(statuses, call.Status)
					at = append(at, call.At)
				}
			}
			if len(statuses) != c.times+1 || statuses[c.times] != http.StatusOK {
				t.Fatalf("chat.postMessage statuses %v: want %d failures then 200", statuses, c.times)
			}
			if gap := at[1].Sub(at[0]); gap < c.retryAfter {
				t.Errorf("retried after %s, before Retry-After %s", gap, c.retryAfter)
			}
		})
	}
}

// A Slack outage holds up neither revocation nor expiry: both take effect
// at once, and their notices follow when Slack is back.
func TestSlackOutageNeverDelaysRevocationOrExpiry(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	idA := h.request(alice, "prod-db read 30m INC-4 outage")
	idB := h.request(alice, "prod-db read 2s INC-5 outage")
	h.approvalMessage(idA)
	h.approvalMessage(idB)
	h.click(bob, approvals, idA, "approve")
	h.click(bob, approvals, idB, "approve")
	tokA, tokB := h.token(alice, idA), h.token(alice, idB)

	h.slack.SetLatency(5 * time.Second) // Slack hangs
	start := time.Now()
	r := h.command(alice, "revoke "+idA)
	if took := time.Since(start); took > time.Second {
		t.Errorf("revoke answered after %s with Slack hanging", took)
	}
	mustContain(t, "revoke reply", r.Text, "Revoked")
	if active(h.introspect(tokA)) {
		t.Fatal("revoked token active while Slack hangs")
	}
	h.waitFor("the 2 s grant to pass exp", func() bool { return !active(h.introspect(tokB)) })
	h.slack.SetLatency(0)
	h.waitFor("the expiry notice once Slack answers again", func() bool {
		m, ok := h.message(announce, "INC-5")
		return ok && strings.Contains(m.Text, "expired")
	})
	h.waitFor("the revocation notice once Slack answers again", func() bool {
		_, ok := h.message(announce, "INC-4")
		return ok
	})
}

// A request left unanswered past pending_timeout expires: its message loses
// its buttons and says so, and the requester is told.
func TestPendingRequestTimesOut(t *testing.T) {
	h := newHarness(t, harnessOptions{policy: strings.Replace(testPolicy, "pending_timeout: 30m", "pending_timeout: 2s", 1)})
	id := h.request(alice, "prod-db read 30m INC-6 nobody home")
	h.approvalMessage(id)
	h.waitFor("the timed-out approval message", func() bool {
		m, _ := h.message(approvals, id)
		return !hasButtons(m) && strings.Contains(fakeslack.PlainText(m), "Expired")
	})
	h.waitFor("the requester's notice", func() bool {
		for _, m := range h.slack.DM(alice) {
			if strings.Contains(m.Text, "expired") && strings.Contains(m.Text, "INC-6") {
				return true
			}
		}
		return false
	})
	// A click that was on its way (the message still had its buttons when
	// bob clicked) arrives after the timeout.
	stale, _ := h.message(approvals, id)
	r, err := h.slack.Click(h.ctx(), bob, fakeslack.Message{Channel: approvals, TS: stale.TS, Blocks: json.RawMessage(`[{"type":"actions","elements":[{"type":"button","action_id":"approve","value":"` + id + `","text":{"type":"plain_text","text":"Approve"}}]}]`)}, "approve")
	if err != nil || r.Status != http.StatusOK {
		t.Fatalf("late click: %v %d", err, r.Status)
	}
	h.waitFor("the late click's explanation", func() bool { return strings.Contains(h.ephemeralIn(bob, approvals), "expired") })
}

// A command under way when gatepass is told to stop is still answered over
// Socket Mode before the connection closes.
func TestSocketModeAnswersInFlightCommandsOnShutdown(t *testing.T) {
	h := newHarness(t, harnessOptions{socket: true})
	id := h.request(alice, "prod-db read 30m INC-56 shutdown")
	h.slack.SetLatency(time.Second) // dave's user group takes a second to resolve
	type result struct {
		r   fakeslack.Reply
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := h.slack.SlashCommand(context.Background(), dave, "revoke "+id)
		done <- result{r, err}
	}()
	time.Sleep(300 * time.Millisecond)
	h.stop()
	res := <-done
	if res.err != nil || !strings.Contains(res.r.Text, "Withdrew") {
		t.Fatalf("in-flight command at shutdown: %v, %q", res.err, res.r.Text)
	}
}
