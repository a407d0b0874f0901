package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Approvers look back: /access history by resource, by user and paged, and
// /access audit for everything tied to one ticket; others are refused.
func TestHistoryAndAuditForApprovers(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	var ids []string
	for _, text := range []string{"prod-db read 30m INC-31 first", "billing read 30m INC-31 second", "prod-db write 30m INC-32 third"} {
		id := h.request(alice, text)
		h.approvalMessage(id)
		ids = append(ids, id)
	}
	h.click(bob, approvals, ids[0], "approve")
	h.token(alice, ids[0])
	h.command(alice, "cancel "+ids[2])
	h.waitFor("the cancellation's announcement", func() bool { return len(h.slack.Messages(announce)) > 0 })
	posts := h.postCalls()

	if r := h.command(alice, "history"); !strings.Contains(r.Text, "Only approvers") {
		t.Fatalf("history for a requester: %s", r.Text)
	}
	r := h.command(bob, "history prod-db")
	mustContain(t, "history of prod-db", r.Text, ids[0], ids[2], "cancelled", "active")
	if strings.Contains(r.Text, ids[1]) {
		t.Errorf("history of prod-db lists a billing request:\n%s", r.Text)
	}
	r = h.command(bob, "history <@U0ALICE|alice>")
	mustContain(t, "history of alice", r.Text, ids[0], ids[1], ids[2])
	if r := h.command(bob, "history prod-db 2"); !strings.Contains(r.Text, "No page 2") {
		t.Errorf("page 2 of a short history: %s", r.Text)
	}
	// dave approves prod-db (through a group) but not billing.
	r = h.command(dave, "audit INC-31")
	mustContain(t, "audit of INC-31", r.Text, "INC-31", "request.created", "request.approved", "grant.issued")
	if strings.Contains(r.Text, ids[1][:8]) {
		t.Errorf("dave sees billing's trail:\n%s", r.Text)
	}
	if r := h.command(mallory, "audit INC-31"); !strings.Contains(r.Text, "Only approvers") {
		t.Errorf("audit for a non-approver: %s", r.Text)
	}
	if n := h.postCalls(); n != posts {
		t.Errorf("queries posted %d messages", n-posts)
	}
}

// Slack sends event types gatepass does not handle: they are answered 200
// (Slack counts anything else as a failure) and ignored.
func TestUnknownEventsAreAnswered200(t *testing.T) {
	h := newHarness(t, harnessOptions{})
	for _, ev := range []string{
		`{"type":"event_callback","event_id":"Ev1","event":{"type":"reaction_added","user":"U0BOB"}}`,
		`{"type":"event_callback","event_id":"Ev2","event":{"type":"some_future_event"}}`,
		`{"type":"app_rate_limited","minute_rate_limited":1518467820}`,
	} {
		r, err := h.slack.SendEvent(h.ctx(), json.RawMessage(ev))
		if err != nil || r.Status != 200 {
			t.Errorf("event %s: %v HTTP %d", ev, err, r.Status)
		}
	}
}

// gatepass check without a policy file says how to make one, and does not
// blame a variable that was never set.
func TestCheckWithoutPolicyFile(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	defer os.Chdir(wd)
	os.Chdir(dir)
	var out bytes.Buffer
	err := run(context.Background(), []string{"check"}, func(string) string { return "" }, strings.NewReader(""), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cp gatepass.example.yml gatepass.yml") || strings.Contains(err.Error(), "GATEPASS_CONFIG:") {
		t.Fatalf("check without gatepass.yml: %v", err)
	}
	err = run(context.Background(), []string{"check"}, func(k string) string {
		if k == "GATEPASS_CONFIG" {
			return filepath.Join(dir, "nope.yml")
		}
		return ""
	}, strings.NewReader(""), &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "GATEPASS_CONFIG") {
		t.Fatalf("check with GATEPASS_CONFIG naming a missing file: %v", err)
	}
}
