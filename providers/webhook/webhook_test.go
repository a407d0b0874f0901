package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatepass/gatepass/workflow"
)

const testSecret = "s3cret-for-tests"

var testNow = time.Unix(1767225600, 0)

type received struct {
	method string
	header http.Header
	body   []byte
}

// receiver is an httptest server that records every request and answers
// with the next status of statuses (the last one repeats).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      []received
	statuses []int
	answer   string
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{method: r.Method, header: r.Header.Clone(), body: body})
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status = rc.statuses[0]
			if len(rc.statuses) > 1 {
				rc.statuses = rc.statuses[1:]
			}
		}
		answer := rc.answer
		rc.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func newProvider(t *testing.T, url string) *Provider {
	t.Helper()
	env := map[string]string{"HOOK_SECRET": testSecret}
	p, err := New(workflow.WebhookConfig{URL: url, SecretEnv: "HOOK_SECRET"}, func(k string) string { return env[k] }, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Now = func() time.Time { return testNow }
	return p
}

func testGrant() workflow.ProviderGrant {
	return workflow.ProviderGrant{
		RequestID: "7f0c1e2a-5b5e-4d7a-9f61-0a1b2c3d4e5f",
		Resource:  "vendor-portal",
		Level:     "read",
		Requester: "U0REQUESTER",
		Ticket:    "INC-123",
		IssuedAt:  time.Unix(1767225000, 0),
		ExpiresAt: time.Unix(1767228600, 0),
		Methods:   []string{"GET"},
	}
}

func checkRequest(t *testing.T, r received, wantBody string) {
	t.Helper()
	if r.method != http.MethodPost {
		t.Errorf("method = %s, want POST", r.method)
	}
	if string(r.body) != wantBody {
		t.Errorf("body =\n%s\nwant\n%s", r.body, wantBody)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	ts := r.header.Get(HeaderTimestamp)
	if ts != strconv.FormatInt(testNow.Unix(), 10) {
		t.Errorf("%s = %q, want %d", HeaderTimestamp, ts, testNow.Unix())
	}
	sig := r.header.Get(HeaderSignature)
	// Independent of Sign: HMAC-SHA256 over "<ts>.<body>", lowercase hex.
	want := "v1=" + hmacHex(testSecret, ts+"."+wantBody)
	if sig != want {
		t.Errorf("%s = %q, want %q", HeaderSignature, sig, want)
	}
	if err := Verify([]byte(testSecret), ts, sig, r.body, testNow.Add(time.Minute), time.Minute*5); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestGrantSendsSignedEvent(t *testing.T) {
	rc := newReceiver(t, http.StatusNoContent)
	p := newProvider(t, rc.URL+"/gatepass")
	cred, err := p.Grant(context.Background(), testGrant())
	if err != nil {
		t.Fatal(err)
	}
	if cred != (workflow.Credential{}) {
		t.Errorf("credential = %+v, want empty", cred)
	}
	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("%d requests, want 1", len(got))
	}
	checkRequest(t, got[0], `{"event":"grant","request_id":"7f0c1e2a-5b5e-4d7a-9f61-0a1b2c3d4e5f","resource":"vendor-portal","level":"read","sub":"U0REQUESTER","ticket":"INC-123","iat":1767225000,"exp":1767228600}`)
}

func TestRevokeAndExtend(t *testing.T) {
	rc := newReceiver(t, http.StatusAccepted)
	p := newProvider(t, rc.URL)
	g := testGrant()
	if err := p.Revoke(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	g.ExpiresAt = g.ExpiresAt.Add(time.Hour)
	if err := p.Extend(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	if err := p.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	checkRequest(t, got[0], `{"event":"revoke","request_id":"7f0c1e2a-5b5e-4d7a-9f61-0a1b2c3d4e5f","resource":"vendor-portal","level":"read","sub":"U0REQUESTER","ticket":"INC-123","iat":1767225000,"exp":1767228600}`)
	checkRequest(t, got[1], `{"event":"grant","request_id":"7f0c1e2a-5b5e-4d7a-9f61-0a1b2c3d4e5f","resource":"vendor-portal","level":"read","sub":"U0REQUESTER","ticket":"INC-123","iat":1767225000,"exp":1767232200}`)
}

func TestNon2xxIsAnError(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusBadRequest, http.StatusUnauthorized, http.StatusInternalServerError, http.StatusBadGateway} {
		t.Run(strconv.Itoa(status), func(t *testing.T) {
			rc := newReceiver(t, status)
			rc.answer = "upstream says\nno " + strings.Repeat("x", 5000)
			p := newProvider(t, rc.URL)
			_, err := p.Grant(context.Background(), testGrant())
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.Contains(msg, strconv.Itoa(status)) || !strings.Contains(msg, "upstream says no x") {
				t.Errorf("error %q does not name the status and the answer", msg)
			}
			if len(msg) > 500 || strings.Contains(msg, "\n") {
				t.Errorf("error is not a short single line: %d bytes", len(msg))
			}
			if n := len(rc.requests()); n != 1 {
				t.Errorf("%d requests, want 1 (no retries, no redirects followed)", n)
			}
		})
	}
}

func TestTransportErrorIsAnError(t *testing.T) {
	rc := newReceiver(t)
	url := rc.URL
	rc.Close()
	p := newProvider(t, url)
	if err := p.Revoke(context.Background(), testGrant()); err == nil {
		t.Fatal("no error for a receiver that is down")
	}
}

func TestReceiverFailsThenSucceeds(t *testing.T) {
	rc := newReceiver(t, http.StatusServiceUnavailable, http.StatusOK)
	p := newProvider(t, rc.URL)
	if _, err := p.Grant(context.Background(), testGrant()); err == nil {
		t.Fatal("first delivery: no error for 503")
	}
	// The caller's retry with backoff.
	p.Now = func() time.Time { return testNow.Add(2 * time.Second) }
	if _, err := p.Grant(context.Background(), testGrant()); err != nil {
		t.Fatalf("second delivery: %v", err)
	}
	got := rc.requests()
	if len(got) != 2 {
		t.Fatalf("%d requests, want 2", len(got))
	}
	if string(got[0].body) != string(got[1].body) {
		t.Error("a retry sent another body")
	}
	if got[1].header.Get(HeaderTimestamp) != strconv.FormatInt(testNow.Unix()+2, 10) {
		t.Error("a retry was not stamped anew")
	}
	for _, r := range got {
		if err := Verify([]byte(testSecret), r.header.Get(HeaderTimestamp), r.header.Get(HeaderSignature), r.body, testNow, time.Minute); err != nil {
			t.Error(err)
		}
	}
}

func TestContextCancels(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	p := newProvider(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := p.Grant(ctx, testGrant()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestNew(t *testing.T) {
	env := func(k string) string {
		if k == "SET" {
			return "x"
		}
		return ""
	}
	for _, tc := range []struct {
		name, url, env, want string
	}{
		{"unset env", "https://h.example/x", "UNSET_VAR", "UNSET_VAR"},
		{"no secret_env", "https://h.example/x", "", "secret_env"},
		{"ftp", "ftp://h.example/x", "SET", "http"},
		{"no host", "https:///x", "SET", "http"},
		{"relative", "/hook", "SET", "http"},
		{"empty", "", "SET", "url"},
		{"password redacted", "ftp://user:hunter2@h.example/", "SET", "user:xxxxx@"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(workflow.WebhookConfig{URL: tc.url, SecretEnv: tc.env}, env, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one naming %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("err shows a password: %v", err)
			}
		})
	}
	p, err := New(workflow.WebhookConfig{URL: "HTTPS://h.example/x", SecretEnv: "SET"}, env, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.client.Timeout != DefaultTimeout {
		t.Errorf("default client timeout = %v", p.client.Timeout)
	}
	own := &http.Client{Timeout: time.Second}
	p, err = New(workflow.WebhookConfig{URL: "http://h.example/x", SecretEnv: "SET"}, env, own)
	if err != nil {
		t.Fatal(err)
	}
	if p.client.Timeout != time.Second || own.CheckRedirect != nil {
		t.Error("the given client was not used, or was changed")
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("k")
	body := []byte(`{"event":"grant"}`)
	ts := strconv.FormatInt(testNow.Unix(), 10)
	sig := Sign(secret, ts, body)
	for _, tc := range []struct {
		name    string
		secret  []byte
		ts, sig string
		body    []byte
		now     time.Time
		want    error
	}{
		{"good", secret, ts, sig, body, testNow, nil},
		{"good, clock behind", secret, ts, sig, body, testNow.Add(-4 * time.Minute), nil},
		{"rotation list", secret, ts, "v1=00ff, " + sig, body, testNow, nil},
		{"stale", secret, ts, sig, body, testNow.Add(6 * time.Minute), ErrBadTimestamp},
		{"future", secret, ts, sig, body, testNow.Add(-6 * time.Minute), ErrBadTimestamp},
		{"timestamp not a number", secret, "yesterday", sig, body, testNow, ErrBadTimestamp},
		{"other timestamp", secret, strconv.FormatInt(testNow.Unix()+1, 10), sig, body, testNow, ErrBadSignature},
		{"other body", secret, ts, sig, []byte(`{"event":"revoke"}`), testNow, ErrBadSignature},
		{"other secret", []byte("j"), ts, sig, body, testNow, ErrBadSignature},
		{"other version", secret, ts, "v0=" + strings.TrimPrefix(sig, "v1="), body, testNow, ErrBadSignature},
		{"not hex", secret, ts, "v1=zz", body, testNow, ErrBadSignature},
		{"no signature", secret, ts, "", body, testNow, ErrNoSignature},
		{"no timestamp", secret, "", sig, body, testNow, ErrNoSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := Verify(tc.secret, tc.ts, tc.sig, tc.body, tc.now, 5*time.Minute); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	if err := Verify(secret, ts, sig, body, testNow.Add(4*time.Minute), 0); err != nil {
		t.Errorf("default tolerance: %v", err)
	}
}

func TestExcerpt(t *testing.T) {
	if got := excerpt([]byte("  a\r\n\tb\x00c\xffd ")); got != "a b c?d" {
		t.Errorf("excerpt = %q", got)
	}
	long := excerpt([]byte(strings.Repeat("é", 1000)))
	if n := len([]rune(long)); n != excerptLen+1 || !strings.HasSuffix(long, "…") {
		t.Errorf("long excerpt has %d runes: %q", n, long)
	}
}

func hmacHex(key, msg string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(msg))
	return hex.EncodeToString(m.Sum(nil))
}
