package fakeslack_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func TestThreads(t *testing.T) {
	t.Parallel()
	s, _, api := newServer(t, testOptions())
	events, cancel := s.Subscribe()
	defer cancel()

	_, parent, err := api.PostMessage(opsID, slack.MsgOptionText("Access request r1", false))
	if err != nil {
		t.Fatal(err)
	}
	_, reply1, err := api.PostMessage(opsID, slack.MsgOptionText("approved by bob", false), slack.MsgOptionTS(parent))
	if err != nil {
		t.Fatalf("PostMessage in thread: %v", err)
	}
	// A reply to a reply lands in the parent's thread.
	_, reply2, err := api.PostMessage(opsID, slack.MsgOptionText("token delivered", false), slack.MsgOptionTS(reply1))
	if err != nil {
		t.Fatal(err)
	}
	_, broadcast, err := api.PostMessage(opsID, slack.MsgOptionText("access expired", false), slack.MsgOptionTS(parent), slack.MsgOptionBroadcast())
	if err != nil {
		t.Fatal(err)
	}

	msgs := s.Messages(opsID)
	if len(msgs) != 2 || msgs[0].TS != parent || msgs[0].ThreadTS != "" || msgs[1].TS != broadcast || !msgs[1].Broadcast {
		t.Errorf("Messages = %+v, want the parent and the broadcast reply", msgs)
	}
	thread := s.Thread(opsID, parent)
	if len(thread) != 3 || thread[0].TS != reply1 || thread[1].TS != reply2 || thread[2].TS != broadcast {
		t.Fatalf("Thread = %+v", thread)
	}
	for _, m := range thread {
		if m.ThreadTS != parent {
			t.Errorf("reply %s has ThreadTS %q, want %q", m.TS, m.ThreadTS, parent)
		}
	}
	if m, ok := s.Message(opsID, reply2); !ok || m.Text != "token delivered" {
		t.Errorf("Message(reply) = %+v, %v", m, ok)
	}
	if len(s.Thread(opsID, reply1)) != 0 || len(s.Thread("C0NOPE", parent)) != 0 {
		t.Error("Thread of a reply or an unknown channel is not empty")
	}
	// Subscribers see replies as messages.
	var kinds []string
	for range 4 {
		ev := <-events
		kinds = append(kinds, ev.Kind+":"+ev.Message.ThreadTS)
	}
	if want := []string{"message:", "message:" + parent, "message:" + parent, "message:" + parent}; strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("events = %v, want %v", kinds, want)
	}

	// Replies can be updated and deleted like other messages.
	if _, _, _, err := api.UpdateMessage(opsID, reply1, slack.MsgOptionText("approved by bob (edited)", false)); err != nil {
		t.Fatalf("UpdateMessage(reply): %v", err)
	}
	if _, _, err := api.DeleteMessage(opsID, reply2); err != nil {
		t.Fatalf("DeleteMessage(reply): %v", err)
	}
	if thread := s.Thread(opsID, parent); len(thread) != 2 || thread[0].Text != "approved by bob (edited)" {
		t.Errorf("Thread after edit and delete = %+v", thread)
	}

	if _, _, err := api.PostMessage(opsID, slack.MsgOptionText("x", false), slack.MsgOptionTS("1.000001")); err == nil || err.Error() != "thread_not_found" {
		t.Errorf("reply to an unknown message: %v, want thread_not_found", err)
	}

	// DMs thread too.
	_, dmParent, err := api.PostMessage(alice, slack.MsgOptionText("your grant", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := api.PostMessage(alice, slack.MsgOptionText("expires in 5m", false), slack.MsgOptionTS(dmParent)); err != nil {
		t.Fatal(err)
	}
	if len(s.DM(alice)) != 1 || len(s.Thread(alice, dmParent)) != 1 {
		t.Errorf("DM = %+v, thread = %+v", s.DM(alice), s.Thread(alice, dmParent))
	}
}

func TestMessageMetadata(t *testing.T) {
	t.Parallel()
	s, base, api := newServer(t, testOptions())

	md := slack.SlackMetadata{EventType: "access_requested", EventPayload: map[string]any{"request_id": "r1", "minutes": 60}}
	_, ts, err := api.PostMessage(opsID, slack.MsgOptionText("Access request", false), slack.MsgOptionMetadata(md))
	if err != nil {
		t.Fatalf("PostMessage with metadata: %v", err)
	}
	m, _ := s.Message(opsID, ts)
	var got slack.SlackMetadata
	if err := json.Unmarshal(m.Metadata, &got); err != nil || got.EventType != "access_requested" || got.EventPayload["request_id"] != "r1" {
		t.Errorf("Metadata = %s (%v)", m.Metadata, err)
	}

	md2 := slack.SlackMetadata{EventType: "access_granted", EventPayload: map[string]any{"request_id": "r1"}}
	if _, _, _, err := api.UpdateMessage(opsID, ts, slack.MsgOptionText("Granted", false), slack.MsgOptionMetadata(md2)); err != nil {
		t.Fatalf("UpdateMessage with metadata: %v", err)
	}
	m, _ = s.Message(opsID, ts)
	if !strings.Contains(string(m.Metadata), "access_granted") || !strings.Contains(string(m.History[0].Metadata), "access_requested") {
		t.Errorf("after update: Metadata %s, History[0].Metadata %s", m.Metadata, m.History[0].Metadata)
	}
	// An update without metadata keeps it.
	if _, _, _, err := api.UpdateMessage(opsID, ts, slack.MsgOptionText("Granted!", false)); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Message(opsID, ts); !strings.Contains(string(m.Metadata), "access_granted") {
		t.Errorf("metadata lost by an update without it: %s", m.Metadata)
	}

	for _, bad := range []string{`"just a string"`, `{"event_type":42}`, `{"event_type":"x","event_payload":[1]}`, `{not json`} {
		resp, err := http.PostForm(base+"/api/chat.postMessage", url.Values{"token": {botToken}, "channel": {opsID}, "text": {"x"}, "metadata": {bad}})
		if err != nil {
			t.Fatal(err)
		}
		var out struct {
			Error string `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		_ = resp.Body.Close()
		if out.Error != "invalid_metadata_format" {
			t.Errorf("metadata %s: error %q, want invalid_metadata_format", bad, out.Error)
		}
	}
	if n := len(s.Messages(opsID)); n != 1 {
		t.Errorf("messages = %d, want 1 (rejected posts change nothing)", n)
	}
}
