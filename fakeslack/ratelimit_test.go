package fakeslack_test

import (
	"errors"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/gatepass/gatepass/fakeslack"
)

func statuses(calls []fakeslack.Call) []int {
	var out []int
	for _, c := range calls {
		out = append(out, c.Status)
	}
	return out
}

func TestChannelRateLimit(t *testing.T) {
	t.Parallel()
	c := newClock()
	opts := testOptions()
	opts.Now = c.Now
	s, base, api := newServer(t, opts)
	s.SetChannelRateLimit(1, 2)

	post := func(channel string) error {
		_, _, err := api.PostMessage(channel, slack.MsgOptionText("hi", false))
		return err
	}
	for i := range 2 {
		if err := post(opsID); err != nil {
			t.Fatalf("post %d within the burst: %v", i, err)
		}
	}
	err := post(opsID)
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Fatalf("third post error = %v, want RateLimitedError with 1s", err)
	}
	if n := len(s.Messages(opsID)); n != 2 {
		t.Errorf("messages = %d, want 2 (the limited post changes nothing)", n)
	}
	if got := statuses(s.CallsTo("chat.postMessage")); !slices.Equal(got, []int{200, 200, 429}) {
		t.Errorf("statuses = %v", got)
	}

	// Other conversations have their own buckets; ephemerals are not limited.
	if err := post("#general"); err != nil {
		t.Errorf("post to another channel: %v", err)
	}
	for range 3 {
		if _, err := api.PostEphemeral(opsID, alice, slack.MsgOptionText("psst", false)); err != nil {
			t.Errorf("PostEphemeral: %v", err)
		}
	}
	// A DM is one conversation, whether addressed by user or channel ID.
	if err := post(alice); err != nil {
		t.Fatal(err)
	}
	if err := post("D" + alice); err != nil {
		t.Fatal(err)
	}
	if err := post(alice); !errors.As(err, &rl) {
		t.Errorf("third DM error = %v, want rate limited", err)
	}

	// Tokens come back with time.
	c.Advance(1500 * time.Millisecond)
	if err := post(opsID); err != nil {
		t.Errorf("post after waiting: %v", err)
	}
	if err := post(opsID); !errors.As(err, &rl) || rl.RetryAfter != time.Second {
		t.Errorf("post right after = %v, want rate limited for 1s", err)
	}

	// The raw response is Slack's.
	resp, err := http.Post(base+"/api/chat.postMessage?token="+botToken+"&channel="+opsID+"&text=x", "application/x-www-form-urlencoded", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("raw response %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	s.SetChannelRateLimit(0, 0)
	if err := post(opsID); err != nil {
		t.Errorf("post after removing the limit: %v", err)
	}
}

func TestMethodRateLimit(t *testing.T) {
	t.Parallel()
	c := newClock()
	opts := testOptions()
	opts.Now = c.Now
	s, _, api := newServer(t, opts)
	_, ts, err := api.PostMessage(opsID, slack.MsgOptionText("v0", false))
	if err != nil {
		t.Fatal(err)
	}
	s.SetMethodRateLimit("chat.update", 3)

	update := func() error {
		_, _, _, err := api.UpdateMessage(opsID, ts, slack.MsgOptionText("v", false))
		return err
	}
	for i := range 3 {
		if err := update(); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	var rl *slack.RateLimitedError
	if err := update(); !errors.As(err, &rl) || rl.RetryAfter != 20*time.Second {
		t.Fatalf("fourth update = %v, want RateLimitedError with 20s (3/min)", err)
	}
	if m, _ := s.Message(opsID, ts); m.Updates != 3 {
		t.Errorf("Updates = %d, want 3", m.Updates)
	}
	// Other methods are not limited.
	if _, _, err := api.PostMessage(opsID, slack.MsgOptionText("x", false)); err != nil {
		t.Errorf("PostMessage: %v", err)
	}
	c.Advance(20 * time.Second)
	if err := update(); err != nil {
		t.Errorf("update after 20s: %v", err)
	}
	if err := update(); err == nil {
		t.Error("second update after 20s not limited")
	}
	var limited int
	for _, c := range s.CallsTo("chat.update") {
		if c.Status == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited != 2 {
		t.Errorf("429s recorded = %d, want 2", limited)
	}

	s.Reset()
	if _, ts, err = api.PostMessage(opsID, slack.MsgOptionText("v0", false)); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if err := update(); err != nil {
			t.Fatalf("update after Reset: %v", err)
		}
	}
}

func TestRateLimitWithRetryingClient(t *testing.T) {
	t.Parallel()
	s, base, _ := newServer(t, testOptions())
	s.SetChannelRateLimit(2, 1) // a token every 500ms; Retry-After rounds up to 1s
	api := retryingClient(base)
	start := time.Now()
	for range 2 {
		if _, _, err := api.PostMessage(opsID, slack.MsgOptionText("hi", false)); err != nil {
			t.Fatalf("PostMessage with retries: %v", err)
		}
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("elapsed %v, want at least the 1s Retry-After", elapsed)
	}
	if got := statuses(s.CallsTo("chat.postMessage")); !slices.Equal(got, []int{200, 429, 200}) {
		t.Errorf("statuses = %v", got)
	}
}
