package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
)

// Helpers for the Lifecycle end-to-end tests (e2e_lifecycle_test.go).

const (
	lcTrackerURL = "https://tracker.example/browse/"
	// lcWeirdTicket has every character that means something in a URL and
	// that gatepass accepts in a ticket.
	lcWeirdTicket = "A/B?q=1&z=2#f%g"
)

// lcConf sets the Lifecycle keys of the test policy; an empty value leaves
// the key out (its default applies).
type lcConf struct {
	pendingTimeout  string // default 30m
	warnBefore      string
	pendingReminder string
	reviewReminder  string
	socket          bool
}

// lcPolicy is the test policy plus the Lifecycle keys: a global ticket_url,
// a resource (billing) with its own query-style ticket_url, break-glass
// limited to some users and durations, and a resource (ops) with neither a
// ticket pattern nor its own ticket_url.
func lcPolicy(c lcConf) string {
	if c.pendingTimeout == "" {
		c.pendingTimeout = "30m"
	}
	var g strings.Builder
	for _, kv := range [][2]string{{"warn_before", c.warnBefore}, {"pending_reminder", c.pendingReminder}, {"review_reminder", c.reviewReminder}} {
		if kv[1] != "" {
			fmt.Fprintf(&g, "%s: %s\n", kv[0], kv[1])
		}
	}
	return `
approver_channel: C0APPROVALS
announce_channel: C0ANNOUNCE
min_duration: 1s
pending_timeout: ` + c.pendingTimeout + `
ticket_url: "` + lcTrackerURL + `{ticket}"
` + g.String() + `introspection_keys:
  - name: payments-api
    key: "` + introKey + `"
resources:
  prod-db:
    description: Production database
    approvers: [U0BOB, U0CAROL, S0ONCALL]
    ticket_pattern: '^[A-Z]+-[0-9]+$'
    break_glass: true
    levels:
      read:  {max_duration: 4h, approvals: 1}
      write: {max_duration: 1h, approvals: 2}
  billing:
    approvers: [U0BOB]
    ticket_url: "https://billing.example/search?q={ticket}&src=gatepass"
    break_glass: true
    break_glass_users: [U0CAROL, S0ONCALL]
    break_glass_max_duration: 10m
    levels:
      read: {max_duration: 1h, approvals: 1}
  ops:
    approvers: [U0CAROL]
    levels:
      read: {max_duration: 1h, approvals: 1}
`
}

func lcNewHarness(t *testing.T, c lcConf) *harness {
	t.Helper()
	return newHarness(t, harnessOptions{policy: lcPolicy(c), socket: c.socket})
}

// lcTicketLink is how a ticket of prod-db or ops must look in Slack mrkdwn.
func lcTicketLink(ticket string) string {
	return "<" + lcTrackerURL + ticket + "|" + ticket + ">"
}

// lcCheckTicketLinked asserts that every line of a message that names ticket
// shows it as the link to the tracker.
func lcCheckTicketLinked(t testing.TB, what, text, ticket string) {
	t.Helper()
	if !strings.Contains(text, ticket) {
		t.Errorf("%s does not name ticket %s:\n%s", what, ticket, text)
		return
	}
	for line := range strings.SplitSeq(text, "\n") {
		if strings.Contains(line, ticket) && !strings.Contains(line, lcTicketLink(ticket)) {
			t.Errorf("%s names ticket %s without the link %s:\n%s", what, ticket, lcTicketLink(ticket), line)
		}
	}
}

// lcCheckAllTicketLinks checks every message in the channels, DMs and
// threads that names one of the tickets.
func (h *harness) lcCheckAllTicketLinks(t testing.TB, tickets ...string) {
	t.Helper()
	for _, ch := range h.slack.Channels() {
		for _, m := range h.slack.Messages(ch.ID) {
			msgs := append([]fakeslack.Message{m}, h.slack.Thread(ch.ID, m.TS)...)
			for _, mm := range msgs {
				text := fakeslack.PlainText(mm)
				for _, tk := range tickets {
					if strings.Contains(text, tk) {
						lcCheckTicketLinked(t, "message in "+ch.Name, text, tk)
					}
				}
			}
		}
	}
}

var lcSlackLinkRE = regexp.MustCompile(`<(https?://[^|>]+)\|([^>]*)>`)

// lcSlackLinks returns the links (URL, label) of mrkdwn text, with Slack's
// entities decoded.
func lcSlackLinks(text string) [][2]string {
	dec := strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">")
	var out [][2]string
	for _, m := range lcSlackLinkRE.FindAllStringSubmatch(text, -1) {
		out = append(out, [2]string{dec.Replace(m[1]), dec.Replace(m[2])})
	}
	return out
}

// lcMessagesWith returns the top-level messages of channel whose text (with
// blocks) contains every part.
func (h *harness) lcMessagesWith(channel string, parts ...string) []fakeslack.Message {
	var out []fakeslack.Message
	for _, m := range h.slack.Messages(channel) {
		text := fakeslack.PlainText(m)
		ok := true
		for _, p := range parts {
			if !strings.Contains(text, p) {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// lcWaitMessageWith waits for a top-level message in channel containing every
// part and returns the latest such message.
func (h *harness) lcWaitMessageWith(channel string, parts ...string) fakeslack.Message {
	h.t.Helper()
	var m fakeslack.Message
	h.waitFor(fmt.Sprintf("a message in %s with %q", channel, parts), func() bool {
		ms := h.lcMessagesWith(channel, parts...)
		if len(ms) == 0 {
			return false
		}
		m = ms[len(ms)-1]
		return true
	})
	return m
}

// lcExtensionMessage returns the current extension message number seq of a
// request, if posted.
func (h *harness) lcExtensionMessage(id string, seq int) (fakeslack.Message, bool) {
	for _, m := range h.slack.Messages(approvals) {
		text := fakeslack.PlainText(m)
		if m.TS != "" && strings.Contains(text, id) && strings.Contains(text, fmt.Sprintf("extension %d ", seq)) {
			return m, true
		}
	}
	return fakeslack.Message{}, false
}

func (h *harness) lcWaitExtensionMessage(id string, seq int) fakeslack.Message {
	h.t.Helper()
	var m fakeslack.Message
	h.waitFor(fmt.Sprintf("extension message %d of %s", seq, id), func() bool {
		var ok bool
		m, ok = h.lcExtensionMessage(id, seq)
		return ok
	})
	return m
}

// lcClickMsg clicks actionID on the current version of message m.
func (h *harness) lcClickMsg(user string, m fakeslack.Message, actionID string) fakeslack.Reply {
	h.t.Helper()
	cur, ok := h.slack.Message(m.Channel, m.TS)
	if !ok {
		h.t.Fatalf("message %s/%s is gone", m.Channel, m.TS)
	}
	r, err := h.slack.Click(h.ctx(), user, cur, actionID)
	if err != nil {
		h.t.Fatalf("%s clicks %s: %v\n%s", user, actionID, err, fakeslack.PlainText(cur))
	}
	if r.Status != 200 {
		h.t.Fatalf("%s clicks %s: HTTP %d %s", user, actionID, r.Status, r.Body)
	}
	return r
}

// lcForge sends a click of a button that m does not carry.
func (h *harness) lcForge(user string, m fakeslack.Message, actionID, value string) {
	h.t.Helper()
	r, err := h.slack.ClickButton(h.ctx(), user, m, fakeslack.Button{BlockID: "forged", ActionID: actionID, Value: value, Text: actionID})
	if err != nil || r.Status != 200 {
		h.t.Fatalf("forged %s click: %v HTTP %d", actionID, err, r.Status)
	}
}

// lcDmsWith returns user's DMs containing every part.
func (h *harness) lcDmsWith(user string, parts ...string) []fakeslack.Message {
	return h.lcMessagesWith("D"+user, parts...)
}

func (h *harness) lcWaitDM(user string, parts ...string) fakeslack.Message {
	h.t.Helper()
	return h.lcWaitMessageWith("D"+user, parts...)
}

// lcWaitWarning waits for the expiring-soon DM of a request: a DM naming it
// with an Extend button.
func (h *harness) lcWaitWarning(user, id string) fakeslack.Message {
	h.t.Helper()
	var w fakeslack.Message
	h.waitFor("the expiring-soon DM of "+id, func() bool {
		for _, m := range h.lcDmsWith(user, id) {
			for _, b := range fakeslack.Buttons(m) {
				if strings.Contains(b.Text, "Extend") {
					w = m
					return true
				}
			}
		}
		return false
	})
	return w
}

// lcTokenDMs counts the DMs to user carrying a token.
func (h *harness) lcTokenDMs(user string) int {
	n := 0
	for _, m := range h.slack.DM(user) {
		if tokenRE.MatchString(m.Text) {
			n++
		}
	}
	return n
}

// lcWaitEphemeral waits for an ephemeral message to user in channel that
// contains every part, posted after the first `after` ephemerals.
func (h *harness) lcWaitEphemeral(user, channel string, after int, parts ...string) string {
	h.t.Helper()
	var text string
	h.waitFor(fmt.Sprintf("an ephemeral message to %s with %q", user, parts), func() bool {
		es := h.slack.Ephemerals(user)
		for _, e := range es[min(after, len(es)):] {
			if channel != "" && e.Channel != channel {
				continue
			}
			ok := true
			for _, p := range parts {
				if !strings.Contains(e.Text, p) {
					ok = false
				}
			}
			if ok {
				text = e.Text
				return true
			}
		}
		return false
	})
	return text
}

// lcIntrospectExp returns the exp of an active token, failing if inactive.
func (h *harness) lcIntrospectExp(tok string) int64 {
	h.t.Helper()
	got := h.introspect(tok)
	if !active(got) {
		h.t.Fatalf("token inactive: %v", got)
	}
	return int64(got["exp"].(float64))
}

// lcGrant files a request as user and has approvers approve it on the
// approval message; it returns the request ID and the token.
func (h *harness) lcGrant(user, text string, approvers ...string) (string, string) {
	h.t.Helper()
	id := h.request(user, text)
	h.approvalMessage(id)
	for _, a := range approvers {
		h.click(a, approvals, id, "approve")
	}
	return id, h.token(user, id)
}

// lcViewInput is an input block of a view, as the tests read it.
type lcViewInput struct {
	BlockID        string
	Label          string
	Optional       bool
	DispatchAction bool
	ElementType    string
	ActionID       string
	Options        []string
}

func lcViewInputs(v fakeslack.View) []lcViewInput {
	var blocks []struct {
		Type     string `json:"type"`
		BlockID  string `json:"block_id"`
		Optional bool   `json:"optional"`
		Dispatch bool   `json:"dispatch_action"`
		Label    struct {
			Text string `json:"text"`
		} `json:"label"`
		Element struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Options  []struct {
				Value string `json:"value"`
			} `json:"options"`
		} `json:"element"`
	}
	_ = json.Unmarshal(v.Blocks, &blocks)
	var out []lcViewInput
	for _, b := range blocks {
		if b.Type != "input" {
			continue
		}
		in := lcViewInput{BlockID: b.BlockID, Label: b.Label.Text, Optional: b.Optional, DispatchAction: b.Dispatch,
			ElementType: b.Element.Type, ActionID: b.Element.ActionID}
		for _, o := range b.Element.Options {
			in.Options = append(in.Options, o.Value)
		}
		out = append(out, in)
	}
	return out
}

func lcInputLabelled(v fakeslack.View, label string) (lcViewInput, bool) {
	for _, in := range lcViewInputs(v) {
		if in.Label == label {
			return in, true
		}
	}
	return lcViewInput{}, false
}

// lcViewButton finds a button in a view by action and value.
func lcViewButton(v fakeslack.View, action, value string) (fakeslack.Button, bool) {
	for _, b := range fakeslack.ViewButtons(v) {
		if b.ActionID == action && b.Value == value {
			return b, true
		}
	}
	return fakeslack.Button{}, false
}

// lcOpenHome sends app_home_opened for user and waits for a Home tab that
// satisfies cond.
func (h *harness) lcOpenHome(user string, cond func(text string) bool) fakeslack.View {
	h.t.Helper()
	var before int
	if v, ok := h.slack.HomeView(user); ok {
		before = v.Updates + 1
	}
	r, err := h.slack.AppHomeOpened(h.ctx(), user)
	if err != nil || r.Status != 200 {
		h.t.Fatalf("app_home_opened for %s: %v HTTP %d", user, err, r.Status)
	}
	var v fakeslack.View
	h.waitFor("the Home tab of "+user, func() bool {
		var ok bool
		v, ok = h.slack.HomeView(user)
		return ok && v.Updates+1 > before && cond(fakeslack.ViewText(v))
	})
	return v
}

// lcClickHome clicks the button (action, value) in user's Home tab.
func (h *harness) lcClickHome(user, action, value string) {
	h.t.Helper()
	v, ok := h.slack.HomeView(user)
	if !ok {
		h.t.Fatalf("%s has no Home tab", user)
	}
	b, ok := lcViewButton(v, action, value)
	if !ok {
		h.t.Fatalf("%s's Home tab has no %s button for %s:\n%s", user, action, value, fakeslack.ViewText(v))
	}
	r, err := h.slack.ClickInView(h.ctx(), user, v.ID, b)
	if err != nil || r.Status != 200 {
		h.t.Fatalf("%s clicks %s in Home: %v HTTP %d", user, action, err, r.Status)
	}
}

// lcFirstParagraph is the part of a reply before the usage.
func lcFirstParagraph(s string) string {
	p, _, _ := strings.Cut(s, "\n\n")
	return strings.TrimSuffix(strings.TrimSpace(p), ".")
}

var lcDateRE = regexp.MustCompile(`<!date\^[0-9]+\^[^|>]*\|[^>]*>`)

// lcNormalized makes two renderings of equal requests comparable: request
// IDs and times are blanked.
func lcNormalized(s string) string {
	s = idRE.ReplaceAllString(s, "<id>")
	return lcDateRE.ReplaceAllString(s, "<date>")
}

func lcActionIDs(bs []fakeslack.Button) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.ActionID+"="+b.Text)
	}
	return strings.Join(out, ",")
}

// lcQuiesce waits until gatepass has made no Slack call for 300 ms, so that
// later counts see only what follows.
func (h *harness) lcQuiesce() {
	h.t.Helper()
	last, since := -1, time.Now()
	h.waitFor("Slack calls to settle", func() bool {
		if n := len(h.slack.Calls()); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) >= 300*time.Millisecond
	})
}

// lcSettle gives a wrong extra message time to show itself.
func lcSettle() { time.Sleep(400 * time.Millisecond) }

// lcTicketParam parses a billing ticket link's URL and returns its q and src
// parameters and every parameter name.
func lcTicketParam(raw string) (q, src string, names []string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", nil, err
	}
	vals := u.Query()
	for k := range vals {
		names = append(names, k)
	}
	return vals.Get("q"), vals.Get("src"), names, nil
}
