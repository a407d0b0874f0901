package bot

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatepass/gatepass/fakeslack"
	"github.com/gatepass/gatepass/storage"
	"github.com/gatepass/gatepass/workflow"
	"github.com/slack-go/slack"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const testPolicy = `
approver_channel: C0APPROVALS
announce_channel: C0ANNOUNCE
resources:
  prod-db:
    description: Production database
    approvers: [U0BOB, S0ONCALL]
    ticket_pattern: '^[A-Z]+-[0-9]+$'
    break_glass: true
    levels:
      read:  {max_duration: 4h, approvals: 1}
      write: {max_duration: 1h, approvals: 2}
`

type nopNotifier struct{}

func (nopNotifier) Notify(context.Context, workflow.Notice) ([]workflow.MessageRef, error) {
	return nil, nil
}

func (nopNotifier) Announce(context.Context, string, []workflow.Notice) error { return nil }

// newTestBot returns a Bot over a real service and store, talking to a
// fakeslack Web API.
func newTestBot(t testing.TB) (*Bot, *fakeslack.Server, *workflow.Policy) {
	t.Helper()
	p, _, err := workflow.ParsePolicy("policy", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	fs := fakeslack.New(fakeslack.Options{Groups: map[string][]string{"S0ONCALL": {"U0DAVE"}}})
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	api := slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/"))
	svc, err := workflow.New(workflow.Config{Policy: p, Store: store, Notifier: nopNotifier{}, Directory: NewDirectory(api, time.Minute, nil), Clock: workflow.SystemClock{}})
	if err != nil {
		t.Fatal(err)
	}
	return New(svc, api, nil), fs, p
}

// FuzzCommandReply: whatever is typed, the bot answers, and text it cannot
// parse gets the usage.
func FuzzCommandReply(f *testing.F) {
	for _, s := range []string{"", "help", "list x", "revoke", "prod-db", "prod-db read", "prod-db read 1x INC-1", "break-glass prod-db", "\x00"} {
		f.Add(s)
	}
	b, _, _ := newTestBot(f)
	f.Fuzz(func(t *testing.T, text string) {
		if _, err := ParseCommand(text); err == nil {
			return // parsed commands are the workflow's business, tested elsewhere
		}
		r := b.Command(context.Background(), slack.SlashCommand{Command: "/access", Text: text, UserID: "U0ALICE"})
		if r.ResponseType != "ephemeral" || !strings.Contains(r.Text, "*Usage of /access*") {
			t.Fatalf("reply to %q lacks usage: %+v", text, r)
		}
	})
}

func TestUsageListsThePolicy(t *testing.T) {
	b, _, _ := newTestBot(t)
	r := b.Command(context.Background(), slack.SlashCommand{Command: "/access", Text: "help", UserID: "U0ALICE"})
	for _, s := range []string{"/access <resource> <level> <duration> <ticket>", "break-glass", "revoke <request-id>", "list", "`prod-db` (Production database)", "read up to 4h, 1 approval", "write up to 1h, 2 approvals", "break-glass allowed", "tickets match"} {
		if !strings.Contains(r.Text, s) {
			t.Errorf("usage lacks %q:\n%s", s, r.Text)
		}
	}
}

func TestVerified(t *testing.T) {
	const secret = "s3cret"
	reached := 0
	h := Verified(secret, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		if err := r.ParseForm(); err != nil || r.PostForm.Get("text") != "help" {
			t.Errorf("the handler did not get the body back: %v %v", err, r.PostForm)
		}
	}))
	body := "text=help"
	now := time.Now().Unix()
	cases := []struct {
		name   string
		method string
		ts     int64
		sig    string
		want   int
	}{
		{"good", http.MethodPost, now, fakeslack.Sign(secret, now, []byte(body)), 200},
		{"other secret", http.MethodPost, now, fakeslack.Sign("other", now, []byte(body)), 401},
		{"missing", http.MethodPost, now, "", 401},
		{"not hex", http.MethodPost, now, "v0=zz", 401},
		{"five minutes and a bit old", http.MethodPost, now - 301, fakeslack.Sign(secret, now-301, []byte(body)), 401},
		{"from the future", http.MethodPost, now + 301, fakeslack.Sign(secret, now+301, []byte(body)), 401},
		{"signed GET", http.MethodGet, now, fakeslack.Sign(secret, now, []byte(body)), 405},
		{"unsigned GET", http.MethodGet, now, "", 401},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, "/slack/commands", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(c.ts, 10))
		req.Header.Set("X-Slack-Signature", c.sig)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != c.want {
			t.Errorf("%s: HTTP %d, want %d", c.name, w.Code, c.want)
		}
	}
	if reached != 1 {
		t.Errorf("handler reached %d times, want once", reached)
	}
	// Without a secret (Socket Mode only) nothing gets through.
	req := httptest.NewRequest(http.MethodPost, "/slack/commands", strings.NewReader(body))
	req.Header.Set("X-Slack-Request-Timestamp", strconv.FormatInt(now, 10))
	req.Header.Set("X-Slack-Signature", fakeslack.Sign("", now, []byte(body)))
	w := httptest.NewRecorder()
	Verified("", h).ServeHTTP(w, req)
	if w.Code != http.StatusUnauthorized {
		t.Errorf("empty secret: HTTP %d", w.Code)
	}
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func sample(mod func(*workflow.Request)) workflow.Request {
	r := workflow.Request{
		ID: "8f14e45f-ceea-4e7a-9e2b-1c4f5b7a9d01", Requester: "U0ALICE", Resource: "prod-db", Level: "write",
		Duration: 30 * time.Minute, Ticket: "INC-123", Reason: "slow queries", ApprovalsRequired: 2,
		State: workflow.StatePending, CreatedAt: t0, PendingUntil: t0.Add(30 * time.Minute),
	}
	if mod != nil {
		mod(&r)
	}
	return r
}

func granted(r *workflow.Request) {
	r.Approvals = []workflow.Approval{{Approver: "U0BOB", At: t0.Add(time.Minute)}, {Approver: "U0DAVE", At: t0.Add(2 * time.Minute)}}
	r.State, r.DecidedBy, r.DecidedAt = workflow.StateActive, "U0DAVE", t0.Add(2*time.Minute)
	r.Grant = &workflow.Grant{IssuedAt: t0.Add(2 * time.Minute), ExpiresAt: t0.Add(32 * time.Minute)}
}

// goldenPolicy links tickets, to show them as links in the golden files.
const goldenPolicy = testPolicy + `
ticket_url: "https://tracker.example/browse/{ticket}"
`

func goldenRenderer(t *testing.T) Renderer {
	t.Helper()
	p, _, err := workflow.ParsePolicy("policy", []byte(goldenPolicy))
	if err != nil {
		t.Fatal(err)
	}
	return Renderer{Policy: p}
}

// TestRenderGolden pins the Block Kit of every message state; run with
// -update to rewrite testdata after an intended change.
func TestRenderGolden(t *testing.T) {
	rd := goldenRenderer(t)
	plain := Renderer{}
	ApprovalMessage := rd.ApprovalMessage
	AlertMessage := rd.AlertMessage
	text := func(s string) (string, []slack.Block) { return s, nil }
	ext := func(state workflow.ExtensionState, approvals ...string) func(*workflow.Request) {
		return func(r *workflow.Request) {
			granted(r)
			r.Extension = &workflow.Extension{Seq: 1, Duration: time.Hour, DurationText: "1h", State: state, RequestedAt: t0.Add(20 * time.Minute), PendingUntil: t0.Add(50 * time.Minute)}
			for _, a := range approvals {
				r.Extension.Approvals = append(r.Extension.Approvals, workflow.Approval{Approver: a, At: t0.Add(25 * time.Minute)})
			}
			if state == workflow.ExtensionApproved {
				r.Grant.ExpiresAt = r.Grant.ExpiresAt.Add(time.Hour)
				r.Extension.DecidedBy = approvals[len(approvals)-1]
			}
			if state == workflow.ExtensionDenied {
				r.Extension.DecidedBy = "U0BOB"
			}
		}
	}
	cases := map[string]func() (string, []slack.Block){
		"approval_plain_ticket": func() (string, []slack.Block) { r := sample(nil); return plain.ApprovalMessage(&r) },
		"approval_cancelled": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) {
				r.State, r.EndedBy, r.EndedAt = workflow.StateWithdrawn, "U0ALICE", t0.Add(time.Minute)
			})
			return ApprovalMessage(&r)
		},
		"approval_failed": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) {
				granted(r)
				r.State, r.EndReason = workflow.StateFailed, "the postgres provider could not grant access: connection refused"
			})
			return ApprovalMessage(&r)
		},
		"extension_pending": func() (string, []slack.Block) {
			r := sample(ext(workflow.ExtensionPending, "U0BOB"))
			return rd.ExtensionMessage(&r)
		},
		"extension_approved": func() (string, []slack.Block) {
			r := sample(ext(workflow.ExtensionApproved, "U0BOB", "U0DAVE"))
			return rd.ExtensionMessage(&r)
		},
		"extension_denied": func() (string, []slack.Block) {
			r := sample(ext(workflow.ExtensionDenied))
			return rd.ExtensionMessage(&r)
		},
		"alert_revoked": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) {
				r.BreakGlass, r.State, r.EndedBy, r.EndedAt = true, workflow.StateRevoked, "U0BOB", t0.Add(3*time.Minute)
				r.Grant = &workflow.Grant{IssuedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
			})
			return AlertMessage(&r)
		},
		"receipt_pending":  func() (string, []slack.Block) { r := sample(nil); return rd.Receipt(&r, "C0APPROVALS") },
		"receipt_approved": func() (string, []slack.Block) { r := sample(granted); return rd.Receipt(&r, "C0APPROVALS") },
		"warn": func() (string, []slack.Block) {
			r := sample(granted)
			return rd.WarnMessage(&r, t0.Add(27*time.Minute))
		},
		"reminder": func() (string, []slack.Block) { r := sample(nil); return text(rd.Reminder(&r, t0.Add(15*time.Minute))) },
		"review_reminder": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) { r.BreakGlass, r.State = true, workflow.StateActive })
			return text(rd.ReviewReminder(&r))
		},
		"token_with_credential": func() (string, []slack.Block) {
			r := sample(granted)
			return text(rd.TokenMessage(&r, "gpass_EXAMPLE", workflow.Credential{Label: "Connection URL", Secret: "postgres://gatepass_x:secret@db:5432/app", Hint: "psql 'postgres://gatepass_x:secret@db:5432/app'"}))
		},
		"expired_announcement_used": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) { granted(r); r.State = workflow.StateExpired })
			return text(rd.ExpiredAnnouncement(&r, []workflow.Use{{Client: "payments-api", Count: 9}, {Client: "ledger", Count: 3}}))
		},
		"summary": func() (string, []slack.Block) {
			a := sample(func(r *workflow.Request) { granted(r); r.State = workflow.StateExpired })
			b := sample(func(r *workflow.Request) {
				granted(r)
				r.ID, r.Requester, r.Ticket, r.State, r.EndedBy = "0c1f2e3d-0000-4000-8000-000000000002", "U0CAROL", "INC-9", workflow.StateRevoked, "U0BOB"
			})
			c := sample(func(r *workflow.Request) {
				granted(r)
				r.ID, r.Requester, r.Ticket, r.State = "0c1f2e3d-0000-4000-8000-000000000003", "U0DAVE", "INC-7", workflow.StateExpired
			})
			return text(rd.Summary([]workflow.Notice{
				{Kind: workflow.NoticeAnnounceExpired, Request: a, Uses: []workflow.Use{{Client: "payments-api", Count: 2}}},
				{Kind: workflow.NoticeAnnounceRevoked, Request: b},
				{Kind: workflow.NoticeAnnounceExpired, Request: c},
			}))
		},
		"home": func() (string, []slack.Block) {
			mine := []workflow.Request{sample(nil), sample(granted)}
			mine[1].ID = "0c1f2e3d-0000-4000-8000-000000000004"
			waiting := []workflow.Request{sample(func(r *workflow.Request) { r.Requester = "U0CAROL" }), sample(ext(workflow.ExtensionPending))}
			reviews := []workflow.Request{sample(func(r *workflow.Request) { r.BreakGlass, r.State = true, workflow.StateActive })}
			v := rd.HomeView(mine, map[string][]workflow.Use{mine[1].ID: {{Client: "payments-api", Count: 4}}}, waiting, reviews, t0.Add(5*time.Minute))
			return "", v.Blocks.BlockSet
		},
		"form":             func() (string, []slack.Block) { v := rd.RequestForm(""); return v.CallbackID, v.Blocks.BlockSet },
		"form_prod_db":     func() (string, []slack.Block) { v := rd.RequestForm("prod-db"); return v.CallbackID, v.Blocks.BlockSet },
		"approval_pending": func() (string, []slack.Block) { r := sample(nil); return ApprovalMessage(&r) },
		"approval_one_of_two": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) { r.Approvals = []workflow.Approval{{Approver: "U0BOB", At: t0}} })
			return ApprovalMessage(&r)
		},
		"approval_approved": func() (string, []slack.Block) { r := sample(granted); return ApprovalMessage(&r) },
		"approval_denied": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) { r.State, r.DecidedBy = workflow.StateDenied, "U0BOB" })
			return ApprovalMessage(&r)
		},
		"approval_timed_out": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) { r.State = workflow.StateTimedOut })
			return ApprovalMessage(&r)
		},
		"approval_revoked": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) {
				granted(r)
				r.State, r.EndedBy, r.EndedAt = workflow.StateRevoked, "U0ALICE", t0.Add(10*time.Minute)
			})
			return ApprovalMessage(&r)
		},
		"approval_hostile_text": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) { r.Reason = "<!channel> see <https://evil.example|docs> & *now*" })
			return ApprovalMessage(&r)
		},
		"alert_unreviewed": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) {
				r.BreakGlass, r.State, r.ApprovalsRequired = true, workflow.StateActive, 2
				r.Grant = &workflow.Grant{IssuedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
			})
			return AlertMessage(&r)
		},
		"alert_reviewed": func() (string, []slack.Block) {
			r := sample(func(r *workflow.Request) {
				r.BreakGlass, r.State = true, workflow.StateExpired
				r.Grant = &workflow.Grant{IssuedAt: t0, ExpiresAt: t0.Add(30 * time.Minute)}
				r.ReviewedBy, r.ReviewedAt = "U0BOB", t0.Add(5*time.Minute)
			})
			return AlertMessage(&r)
		},
	}
	for name, render := range cases {
		t.Run(name, func(t *testing.T) {
			text, blocks := render()
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(map[string]any{"text": text, "blocks": blocks}); err != nil {
				t.Fatal(err)
			}
			got := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
			path := filepath.Join("testdata", name+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./bot -run TestRenderGolden -update)", err)
			}
			if string(want) != string(got)+"\n" {
				t.Errorf("%s changed:\n%s", path, got)
			}
		})
	}
}

func TestRenderedTextIsInert(t *testing.T) {
	r := sample(func(r *workflow.Request) { r.Reason = "<!channel> <https://evil.example|docs> <@U0BOSS>" })
	text, blocks := Renderer{}.ApprovalMessage(&r)
	js, _ := json.Marshal(blocks)
	for _, s := range []string{text, string(js)} {
		for _, bad := range []string{"<!channel>", "<https://evil", "<@U0BOSS>"} {
			if strings.Contains(s, bad) {
				t.Errorf("user text %q reached Slack unescaped", bad)
			}
		}
	}
	for _, s := range []string{"<@U0ALICE>", "prod-db", "write", "30m", "INC-123"} {
		if !strings.Contains(text, s) {
			t.Errorf("fallback text lacks %q: %s", s, text)
		}
	}
	_, decided := Renderer{}.ApprovalMessage(ptr(sample(granted)))
	for _, b := range decided {
		if b.BlockType() == slack.MBTAction {
			t.Error("a decided request still has buttons")
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestNotifierMarksPermanentFailures(t *testing.T) {
	p, _, _ := workflow.ParsePolicy("policy", []byte(testPolicy))
	fs := fakeslack.New(fakeslack.Options{StrictChannels: true, Channels: []fakeslack.Channel{{ID: "C0APPROVALS"}}, Users: []fakeslack.User{{ID: "U0ALICE"}}})
	srv := httptest.NewServer(fs)
	defer srv.Close()
	n := NewNotifier(slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/")), p, nil)
	ctx := context.Background()
	r := sample(nil)
	refs, err := n.Notify(ctx, workflow.Notice{Kind: workflow.NoticeApprovalRequest, Request: r})
	if err != nil || len(refs) != 1 || refs[0].Channel != "C0APPROVALS" || refs[0].Purpose != workflow.MessageApproval {
		t.Fatalf("approval post: %+v, %v", refs, err)
	}
	r.Messages = refs
	if refs, err := n.Notify(ctx, workflow.Notice{Kind: workflow.NoticeApprovalRequest, Request: r}); err != nil || len(refs) != 0 || len(fs.CallsTo("chat.postMessage")) != 1 {
		t.Fatalf("a recorded approval message was posted again: %v %v", refs, err)
	}
	r.State, r.DecidedBy = workflow.StateDenied, "U0BOB"
	if _, err := n.Notify(ctx, workflow.Notice{Kind: workflow.NoticeRefresh, Request: r}); err != nil {
		t.Fatal(err)
	}
	if m, _ := fs.Message(refs[0].Channel, refs[0].TS); m.Updates != 1 || len(fakeslack.Buttons(m)) != 0 {
		t.Fatalf("refresh: %d updates, %d buttons", m.Updates, len(fakeslack.Buttons(m)))
	}
	// C0ANNOUNCE does not exist in this workspace: no retry can help.
	r.State = workflow.StateRevoked
	r.EndedBy = "U0BOB"
	r.Grant = &workflow.Grant{ExpiresAt: t0}
	if _, err := n.Notify(ctx, workflow.Notice{Kind: workflow.NoticeAnnounceRevoked, Request: r}); !errors.Is(err, workflow.ErrUndeliverable) {
		t.Fatalf("channel_not_found: %v, want ErrUndeliverable", err)
	}
	fs.FailNext("chat.postMessage", 1, http.StatusServiceUnavailable, 0)
	if _, err := n.Notify(ctx, workflow.Notice{Kind: workflow.NoticeDenied, Request: r}); err == nil || errors.Is(err, workflow.ErrUndeliverable) {
		t.Fatalf("503 without retries: %v, want a retryable error", err)
	}
}

func TestDirectoryCachesGroups(t *testing.T) {
	fs := fakeslack.New(fakeslack.Options{Groups: map[string][]string{"S0ONCALL": {"U0DAVE"}}})
	srv := httptest.NewServer(fs)
	defer srv.Close()
	now := t0
	d := NewDirectory(slack.New("xoxb-test", slack.OptionAPIURL(srv.URL+"/api/")), time.Minute, func() time.Time { return now })
	ctx := context.Background()
	for range 3 {
		if m, err := d.GroupMembers(ctx, "S0ONCALL"); err != nil || len(m) != 1 || m[0] != "U0DAVE" {
			t.Fatalf("members: %v %v", m, err)
		}
	}
	if n := len(fs.CallsTo("usergroups.users.list")); n != 1 {
		t.Fatalf("%d lookups within the TTL, want 1", n)
	}
	now = now.Add(2 * time.Minute)
	fs.FailNext("usergroups.users.list", 1, http.StatusInternalServerError, 0)
	if m, err := d.GroupMembers(ctx, "S0ONCALL"); err != nil || len(m) != 1 {
		t.Fatalf("stale answer while Slack fails: %v %v", m, err)
	}
	now = now.Add(2 * time.Hour)
	fs.FailNext("usergroups.users.list", 1, http.StatusInternalServerError, 0)
	if _, err := d.GroupMembers(ctx, "S0ONCALL"); err == nil {
		t.Fatal("an hours-old membership was trusted while Slack fails")
	}
	if _, err := d.GroupMembers(ctx, "S0NOPE"); err == nil {
		t.Fatal("unknown group resolved")
	}
}

func TestTruncate(t *testing.T) {
	long := strings.Repeat("line of text é\n", 2000)
	got := truncate(long, 1000)
	if len(got) > 1000 || !strings.HasSuffix(got, "\n…") || !utf8.ValidString(got) {
		t.Fatalf("truncate: %d bytes, valid %v, ends %q", len(got), utf8.ValidString(got), got[len(got)-10:])
	}
	if truncate("short", 1000) != "short" {
		t.Fatal("truncated a short text")
	}
}

func TestUsageFitsASocketModeAckWithManyResources(t *testing.T) {
	var y strings.Builder
	y.WriteString("approver_channel: C0A\nresources:\n")
	for i := range 200 {
		fmt.Fprintf(&y, "  resource-with-a-long-name-%03d:\n    description: %s\n    approvers: [U0A]\n    levels:\n      read: {max_duration: 1h}\n      write: {max_duration: 1h}\n", i, strings.Repeat("words ", 20))
	}
	p, _, err := workflow.ParsePolicy("p", []byte(y.String()))
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := newTestBot(t)
	b.svc, _ = workflow.New(workflow.Config{Policy: p, Store: nopStore{}, Notifier: nopNotifier{}, Clock: workflow.SystemClock{}})
	r := b.Command(context.Background(), slack.SlashCommand{Text: "help", UserID: "U0ALICE"})
	js, _ := json.Marshal(r)
	if len(js) > 20000 || !strings.Contains(r.Text, "more.") {
		t.Fatalf("usage with 200 resources: %d bytes of JSON", len(js))
	}
}

// nopStore satisfies workflow.Store for tests that never reach it.
type nopStore struct{ workflow.Store }

// replayDownStore fails to remember what was received, as a database that
// is down or locked does.
type replayDownStore struct{ workflow.Store }

func (replayDownStore) ClaimReplay(context.Context, string, time.Time, time.Time) (bool, []byte, error) {
	return false, nil, errors.New("database is locked")
}

// A form submission that cannot be recorded keeps the form open and says
// so (a bare 200 would close it as if filed); a click gets a bare 200.
func TestInteractionWhenReplayMemoryIsDown(t *testing.T) {
	b, _, p := newTestBot(t)
	b.svc, _ = workflow.New(workflow.Config{Policy: p, Store: replayDownStore{}, Notifier: nopNotifier{}, Clock: workflow.SystemClock{}})
	var form slack.InteractionCallback
	form.Type = slack.InteractionTypeViewSubmission
	form.User.ID = "U0ALICE"
	form.View.CallbackID = formCallback
	body := b.answerInteraction(context.Background(), "sig:1", form)
	var resp struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.ResponseAction != "errors" || !strings.Contains(resp.Errors[blockResour], "nothing was filed") {
		t.Errorf("form submission with the replay memory down answered %s", body)
	}
	var click slack.InteractionCallback
	click.Type = slack.InteractionTypeBlockActions
	if body := b.answerInteraction(context.Background(), "sig:2", click); len(body) != 0 {
		t.Errorf("click with the replay memory down answered %s", body)
	}
}
