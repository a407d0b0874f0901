package main

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatepass/gatepass/fakeslack"
)

// End-to-end tests of the contract's "Lifecycle" section: the real serve
// against fakeslack, over HTTP and, where noted, Socket Mode.

// Ticket links: every Slack message that names a ticket shows it as a link
// to ticket_url, with {ticket} URL-escaped; a resource's own ticket_url wins
// over the global one.
func TestLifecycleTicketLinks(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{warnBefore: "1s"})

	// A grant that is approved, warned about and expires.
	r := h.command(alice, "prod-db read 3s INC-123 quick look")
	lcCheckTicketLinked(t, "receipt", r.Text, "INC-123")
	id := idRE.FindString(r.Text)
	if id == "" {
		t.Fatalf("no request ID in %q", r.Text)
	}
	lcCheckTicketLinked(t, "approval message", fakeslack.PlainText(h.approvalMessage(id)), "INC-123")
	h.click(bob, approvals, id, "approve")
	tok := h.token(alice, id)
	h.lcWaitWarning(alice, id)
	h.lcWaitMessageWith(announce, "INC-123", "expired") // the announcement
	h.lcWaitDM(alice, "INC-123", "expired")
	if active(h.introspect(tok)) {
		t.Fatal("token active after its grant expired")
	}

	// A denial.
	denied := h.request(alice, "prod-db read 30m INC-124")
	h.approvalMessage(denied)
	h.click(carol, approvals, denied, "deny")
	h.lcWaitDM(alice, "INC-124", "denied")

	// A break-glass grant, listed and then revoked.
	bg := idRE.FindString(h.command(alice, "break-glass prod-db write 10m INC-125 primary down").Text)
	h.token(alice, bg)
	for _, ch := range []string{approvals, announce} {
		h.lcWaitMessageWith(ch, bg, "INC-125")
	}
	lcCheckTicketLinked(t, "list", h.command(alice, "list").Text, "INC-125")
	lcCheckTicketLinked(t, "reviews", h.command(bob, "reviews").Text, "INC-125")
	lcCheckTicketLinked(t, "revoke reply", h.command(alice, "revoke "+bg).Text, "INC-125")
	h.lcWaitMessageWith(announce, "INC-125", "revoked")

	// Every message that names one of these tickets links it.
	for _, ticket := range []string{"INC-123", "INC-124", "INC-125"} {
		for _, ch := range []string{approvals, announce, "D" + alice} {
			for _, m := range h.lcMessagesWith(ch, ticket) {
				lcCheckTicketLinked(t, "message in "+ch, fakeslack.PlainText(m), ticket)
			}
		}
	}

	// {ticket} is URL-escaped: the ticket survives as one path segment of
	// the global URL, and as one query parameter of billing's own URL.
	opsID := h.request(alice, "ops read 10m "+lcWeirdTicket)
	billID := h.request(alice, "billing read 10m "+lcWeirdTicket)
	for _, c := range []struct{ id, prefix string }{{opsID, lcTrackerURL}, {billID, "https://billing.example/search?"}} {
		m := h.approvalMessage(c.id)
		links := slices.Compact(lcSlackLinks(fakeslack.PlainText(m)))
		if len(links) == 0 {
			t.Errorf("approval message of %s has no ticket link:\n%s", c.id, fakeslack.PlainText(m))
			continue
		}
		for _, l := range links {
			if l[1] != lcWeirdTicket {
				t.Errorf("link label %q, want the ticket %q", l[1], lcWeirdTicket)
			}
			if !strings.HasPrefix(l[0], c.prefix) {
				t.Errorf("link %q does not use the resource's ticket_url %s…", l[0], c.prefix)
				continue
			}
			if c.id == opsID {
				seg := strings.TrimPrefix(l[0], lcTrackerURL)
				if got, err := url.PathUnescape(seg); err != nil || got != lcWeirdTicket || strings.ContainsAny(seg, "/?#") {
					t.Errorf("global ticket_url: link %q: the ticket is not one escaped path segment (unescapes to %q)", l[0], got)
				}
				continue
			}
			q, src, names, err := lcTicketParam(l[0])
			slices.Sort(names)
			if err != nil || q != lcWeirdTicket || src != "gatepass" || strings.Join(names, ",") != "q,src" {
				t.Errorf("billing ticket_url: link %q: q=%q src=%q params=%v; want q=%q, src=gatepass and no other parameter (the ticket is not URL-escaped)",
					l[0], q, src, names, lcWeirdTicket)
			}
		}
	}
}

// The request modal over HTTP.
func TestLifecycleModalHTTP(t *testing.T) {
	t.Parallel()
	lcTestModal(t, false)
}

// The same modal over Socket Mode, through acks.
func TestLifecycleModalSocket(t *testing.T) {
	t.Parallel()
	lcTestModal(t, true)
}

func lcTestModal(t *testing.T, socket bool) {
	h := lcNewHarness(t, lcConf{socket: socket})

	// /access with no text: views.open with the command's trigger_id, and
	// the usage.
	r := h.command(alice, "")
	if r.ResponseType != "ephemeral" {
		t.Errorf("reply to /access: response_type %q", r.ResponseType)
	}
	mustContain(t, "reply to /access", r.Text, "/access", "break-glass", "revoke", "list")
	opens := h.slack.CallsTo("views.open")
	if len(opens) != 1 {
		t.Fatalf("views.open called %d times, want once\n%s", len(opens), h.logs)
	}
	if got := opens[0].Params.Get("trigger_id"); got != r.TriggerID {
		t.Errorf("views.open trigger_id %q, want the command's %q", got, r.TriggerID)
	}
	views := h.slack.OpenViews(alice)
	if len(views) != 1 {
		t.Fatalf("%d modals open for alice, want 1", len(views))
	}
	v := views[0]
	for _, label := range []string{"Resource", "Level", "Duration", "Ticket", "Reason"} {
		if _, ok := lcInputLabelled(v, label); !ok {
			t.Errorf("the modal has no input labelled %s:\n%s", label, fakeslack.ViewText(v))
		}
	}
	res, _ := lcInputLabelled(v, "Resource")
	if !slices.Contains(res.Options, "billing") || !slices.Contains(res.Options, "prod-db") {
		t.Errorf("resource options %v", res.Options)
	}

	// Choosing a resource offers its levels only.
	sel, err := h.slack.SelectInView(h.ctx(), alice, v.ID, res.BlockID, res.ActionID, "billing")
	if err != nil || sel.Status != 200 {
		t.Fatalf("select billing: %v HTTP %d", err, sel.Status)
	}
	h.waitFor("the level select to offer billing's levels", func() bool {
		v, _ = h.slack.View(v.ID)
		lvl, ok := lcInputLabelled(v, "Level")
		return ok && slices.Equal(lvl.Options, []string{"read"})
	})

	// Bad fields are answered inline, in the typed command's words, and
	// nothing is stored or posted.
	h.lcQuiesce()
	posts := h.postCalls()
	submit := func(view fakeslack.View, level, duration, ticket, reason string) fakeslack.Reply {
		t.Helper()
		vals := map[string]map[string]fakeslack.ViewValue{}
		for _, in := range lcViewInputs(view) {
			var val string
			switch in.Label {
			case "Level":
				val = level
			case "Duration":
				val = duration
			case "Ticket":
				val = ticket
			case "Reason":
				val = reason
			default:
				continue
			}
			if val != "" {
				vals[in.BlockID] = map[string]fakeslack.ViewValue{in.ActionID: {Value: val}}
			}
		}
		rep, err := h.slack.SubmitView(h.ctx(), alice, view.ID, vals)
		if err != nil || rep.Status != 200 {
			t.Fatalf("submit: %v HTTP %d %s", err, rep.Status, rep.Body)
		}
		return rep
	}
	cases := []struct {
		typed                            string
		level, duration, ticket, blockID string
	}{
		{"billing read 5h X", "read", "5h", "X", "duration"},
		{"billing read soon X", "read", "soon", "X", "duration"},
	}
	for _, c := range cases {
		rep := submit(v, c.level, c.duration, c.ticket, "")
		typed := lcFirstParagraph(h.command(alice, c.typed).Text)
		if rep.ResponseAction != "errors" || len(rep.Errors) != 1 {
			t.Errorf("submission like %q answered %s, want response_action errors for %s", c.typed, rep.Body, c.blockID)
			continue
		}
		got := rep.Errors[c.blockID]
		if got == "" || strings.TrimSuffix(got, ".") != typed {
			t.Errorf("submission like %q: errors %v; want %s: the typed command's %q", c.typed, rep.Errors, c.blockID, typed)
		}
	}
	if vv, _ := h.slack.View(v.ID); !vv.Open {
		t.Fatal("a submission with errors closed the modal")
	}

	// Another resource: its level block, its ticket pattern.
	if _, err := h.slack.SelectInView(h.ctx(), alice, v.ID, res.BlockID, res.ActionID, "prod-db"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the level select to offer prod-db's levels", func() bool {
		v, _ = h.slack.View(v.ID)
		lvl, ok := lcInputLabelled(v, "Level")
		return ok && slices.Equal(lvl.Options, []string{"read", "write"})
	})
	lvl, _ := lcInputLabelled(v, "Level")
	rep := submit(v, "read", "30m", "inc1", "")
	typed := lcFirstParagraph(h.command(alice, "prod-db read 30m inc1").Text)
	if rep.ResponseAction != "errors" || strings.TrimSuffix(rep.Errors["ticket"], ".") != typed {
		t.Errorf("bad ticket: %s; want errors.ticket = the typed command's %q", rep.Body, typed)
	}
	if _, ok := rep.Errors[lvl.BlockID]; ok {
		t.Errorf("bad ticket also reported on the level: %v", rep.Errors)
	}
	time.Sleep(100 * time.Millisecond)
	if n := h.postCalls(); n != posts {
		t.Errorf("refused submissions posted %d messages", n-posts)
	}
	if l := h.command(alice, "list"); idRE.MatchString(l.Text) {
		t.Errorf("refused submissions stored a request: %s", l.Text)
	}

	// A valid submission closes the modal, files the same request as the
	// typed command, and DMs the receipt.
	rep = submit(v, "read", "30m", "INC-321", "from the form")
	if rep.ResponseAction != "" && rep.ResponseAction != "clear" {
		t.Fatalf("valid submission answered %s", rep.Body)
	}
	if open := h.slack.OpenViews(alice); len(open) != 0 {
		t.Errorf("the modal is still open after a valid submission")
	}
	receipt := h.lcWaitDM(alice, "INC-321")
	formID := idRE.FindString(fakeslack.PlainText(receipt))
	if formID == "" {
		t.Fatalf("receipt DM without a request ID: %s", fakeslack.PlainText(receipt))
	}
	formMsg := h.approvalMessage(formID)
	typedID := h.request(alice, "prod-db read 30m INC-321 from the form")
	typedMsg := h.approvalMessage(typedID)
	if a, b := lcNormalized(fakeslack.PlainText(formMsg)), lcNormalized(fakeslack.PlainText(typedMsg)); a != b {
		t.Errorf("the form's approval message differs from the typed command's:\nform:\n%s\ntyped:\n%s", a, b)
	}
	if a, b := lcActionIDs(fakeslack.Buttons(formMsg)), lcActionIDs(fakeslack.Buttons(typedMsg)); a != b || a != "approve=Approve,deny=Deny" {
		t.Errorf("buttons: form %s, typed %s", a, b)
	}

	// It is approved like any request (a click, over the same transport).
	h.click(bob, approvals, formID, "approve")
	got := h.introspect(h.token(alice, formID))
	if !active(got) || got["scope"] != "prod-db:read" || got["ticket"] != "INC-321" || got["request_id"] != formID ||
		int64(got["exp"].(float64))-int64(got["iat"].(float64)) != 1800 {
		t.Errorf("introspect of the form's grant = %v", got)
	}

	// Now alice holds prod-db read: the form refuses it like the command,
	// pointing at /access extend.
	h.command(alice, "")
	views = h.slack.OpenViews(alice)
	if len(views) != 1 {
		t.Fatalf("the second /access opened %d modals", len(views))
	}
	v = views[0]
	opened := v.Hash
	if _, err := h.slack.SelectInView(h.ctx(), alice, v.ID, res.BlockID, res.ActionID, "prod-db"); err != nil {
		t.Fatal(err)
	}
	h.waitFor("prod-db's levels", func() bool {
		v, _ = h.slack.View(v.ID)
		lvl, ok := lcInputLabelled(v, "Level")
		return ok && v.Hash != opened && len(lvl.Options) == 2
	})
	h.lcQuiesce()
	posts = h.postCalls()
	rep = submit(v, "read", "10m", "INC-322", "")
	if rep.ResponseAction != "errors" || !strings.Contains(strings.Join(lcMapValues(rep.Errors), " "), "/access extend "+formID) {
		t.Errorf("already-held submission answered %s; want an error suggesting /access extend %s", rep.Body, formID)
	}
	time.Sleep(100 * time.Millisecond)
	if h.postCalls() != posts {
		t.Error("the already-held submission reached someone")
	}

	if socket {
		for _, a := range h.slack.Acks() {
			if a.Latency > 3*time.Second {
				t.Errorf("%s envelope acked after %s", a.Type, a.Latency)
			}
		}
	}
}

func lcMapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// A submission naming a level the chosen resource lacks (the level select
// still offered every level, as before a resource was chosen) is answered
// on the level's block.
func TestLifecycleModalLevelError(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	h.command(alice, "")
	views := h.slack.OpenViews(alice)
	if len(views) != 1 {
		t.Fatalf("%d modals open", len(views))
	}
	v := views[0]
	res, _ := lcInputLabelled(v, "Resource")
	lvl, ok := lcInputLabelled(v, "Level")
	if !ok || !slices.Contains(lvl.Options, "write") {
		t.Fatalf("level input before a resource is chosen: %+v", lvl)
	}
	dur, _ := lcInputLabelled(v, "Duration")
	tick, _ := lcInputLabelled(v, "Ticket")
	rep, err := h.slack.SubmitView(h.ctx(), alice, v.ID, map[string]map[string]fakeslack.ViewValue{
		res.BlockID:  {res.ActionID: {Value: "billing"}},
		lvl.BlockID:  {lvl.ActionID: {Value: "write"}},
		dur.BlockID:  {dur.ActionID: {Value: "30m"}},
		tick.BlockID: {tick.ActionID: {Value: "X"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	typed := lcFirstParagraph(h.command(alice, "billing write 30m X").Text)
	if rep.ResponseAction != "errors" || strings.TrimSuffix(rep.Errors[lvl.BlockID], ".") != typed {
		t.Errorf("unknown level: %s; want errors.%s = %q", rep.Body, lvl.BlockID, typed)
	}
	if h.postCalls() != 0 {
		t.Error("a refused submission posted a message")
	}
}

// /access cancel: the approval message says "cancelled", loses its buttons,
// and later clicks change nothing.
func TestLifecycleCancel(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	id := h.request(alice, "prod-db write 30m INC-31 migration")
	h.approvalMessage(id)
	h.click(bob, approvals, id, "approve") // 1 of 2
	h.waitFor("1 of 2", func() bool {
		m, _ := h.message(approvals, id)
		return strings.Contains(fakeslack.PlainText(m), "1 of 2")
	})
	stale, _ := h.message(approvals, id)

	// Only the requester cancels.
	for _, who := range []string{mallory, bob} {
		r := h.command(who, "cancel "+id)
		if strings.Contains(strings.ToLower(r.Text), "cancelled request") {
			t.Errorf("%s cancelled alice's request: %s", who, r.Text)
		}
	}
	if m, _ := h.message(approvals, id); !hasButtons(m) {
		t.Fatal("a refused cancel changed the approval message")
	}

	r := h.command(alice, "cancel "+id)
	mustContain(t, "cancel reply", strings.ToLower(r.Text), "cancelled")
	lcCheckTicketLinked(t, "cancel reply", r.Text, "INC-31")
	var m fakeslack.Message
	h.waitFor("the cancelled approval message", func() bool {
		m, _ = h.message(approvals, id)
		return !hasButtons(m) && strings.Contains(strings.ToLower(fakeslack.PlainText(m)), "cancelled")
	})
	updates := m.Updates

	// Late clicks on the message as it was change nothing.
	eph := len(h.slack.Ephemerals(carol))
	for _, action := range []string{"approve", "deny"} {
		if _, err := h.slack.Click(h.ctx(), carol, stale, action); err != nil {
			t.Fatal(err)
		}
	}
	h.lcWaitEphemeral(carol, approvals, eph, "cancelled")
	lcSettle()
	if h.lcTokenDMs(alice) != 0 {
		t.Fatal("a click after cancel issued a token")
	}
	if len(h.lcDmsWith(alice, "denied")) != 0 {
		t.Error("a click after cancel denied the request")
	}
	m, _ = h.message(approvals, id)
	if m.Updates != updates || hasButtons(m) || !strings.Contains(strings.ToLower(fakeslack.PlainText(m)), "cancelled") {
		t.Errorf("late clicks changed the cancelled message (%d → %d updates):\n%s", updates, m.Updates, fakeslack.PlainText(m))
	}
	if l := h.command(alice, "list"); strings.Contains(l.Text, id) {
		t.Errorf("list still shows the cancelled request: %s", l.Text)
	}
	// Cancelling twice is refused and changes nothing.
	r = h.command(alice, "cancel "+id)
	mustContain(t, "second cancel", r.Text, "already")

	// The receipt's Cancel button does the same.
	id2 := h.request(alice, "prod-db read 30m INC-32")
	h.approvalMessage(id2)
	var rec fakeslack.Message
	for _, e := range h.slack.Ephemerals(alice) {
		if strings.Contains(e.Text, id2) {
			rec = e
		}
	}
	if rec.TS == "" {
		t.Fatal("no receipt")
	}
	h.lcClickMsg(alice, rec, "cancel")
	h.waitFor("the approval message cancelled from the receipt", func() bool {
		m, _ := h.message(approvals, id2)
		return !hasButtons(m) && strings.Contains(strings.ToLower(fakeslack.PlainText(m)), "cancelled")
	})
	lcCheckTicketLinked(t, "cancelled approval message", fakeslack.PlainText(m), "INC-31")
	h.lcWaitMessageWith(announce, "INC-32")
	h.lcCheckAllTicketLinks(t, "INC-31", "INC-32")
}

// /access extend: an extension message with Approve/Deny in the approver
// channel, the level's number of approvals, never the requester's; once
// approved the same token lasts longer at once; bounded by max_duration;
// a denial changes nothing.
func TestLifecycleExtend(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	id, tok := h.lcGrant(alice, "prod-db write 30m INC-41 migration", bob, carol)
	exp0 := h.lcIntrospectExp(tok)
	h.lcQuiesce()
	posts := h.postCalls()

	// Refusals reach no one.
	for _, c := range []struct{ who, text, says string }{
		{mallory, "extend " + id + " 20m", "Only the requester"},
		{bob, "extend " + id + " 20m", "Only the requester"},
		{alice, "extend " + id + " 61m", "too long"},
		{alice, "extend " + id + " 0s", "not a duration"},
		{alice, "extend " + id, "extend"},
	} {
		r := h.command(c.who, c.text)
		mustContain(t, c.who+" /access "+c.text, r.Text, c.says)
	}
	time.Sleep(100 * time.Millisecond)
	if h.postCalls() != posts {
		t.Fatal("a refused extension was posted")
	}

	// The longest extension allowed is the level's max_duration.
	r := h.command(alice, "extend "+id+" 1h")
	mustContain(t, "extend reply", r.Text, id)
	ext := h.lcWaitExtensionMessage(id, 1)
	if approval, _ := h.message(approvals, id); approval.TS == ext.TS {
		t.Fatal("the extension request replaced the approval message instead of being its own message")
	}
	text := fakeslack.PlainText(ext)
	mustContain(t, "extension message", text, "<@"+alice+">", "prod-db", "write", "1h")
	lcCheckTicketLinked(t, "extension message", text, "INC-41")
	if got := lcActionIDs(fakeslack.Buttons(ext)); got != "ext_approve=Approve,ext_deny=Deny" {
		t.Fatalf("extension buttons %s", got)
	}

	// Never the requester; an outsider neither.
	for _, who := range []string{alice, mallory} {
		n := len(h.slack.Ephemerals(who))
		h.lcClickMsg(who, ext, "ext_approve")
		h.lcWaitEphemeral(who, approvals, n)
	}
	// A forged ext_approve from the approval message does not count.
	approval, _ := h.message(approvals, id)
	n := len(h.slack.Ephemerals(dave))
	h.lcForge(dave, approval, "ext_approve", id)
	h.lcWaitEphemeral(dave, approvals, n)
	lcSettle()
	if cur, _ := h.slack.Message(approval.Channel, approval.TS); cur.Updates != approval.Updates || !strings.Contains(fakeslack.PlainText(cur), "Approved by") {
		t.Errorf("a refused click forged on the approval message replaced it:\n%s", fakeslack.PlainText(cur))
	}
	if got := h.lcIntrospectExp(tok); got != exp0 {
		t.Fatalf("refused approvals moved exp %d → %d", exp0, got)
	}

	// Two approvals, the same approver counting once.
	h.lcClickMsg(bob, ext, "ext_approve")
	h.waitFor("1 of 2 on the extension message", func() bool {
		m, _ := h.lcExtensionMessage(id, 1)
		return strings.Contains(fakeslack.PlainText(m), "1 of 2") && hasButtons(m)
	})
	n = len(h.slack.Ephemerals(bob))
	h.lcClickMsg(bob, ext, "ext_approve")
	h.lcWaitEphemeral(bob, approvals, n, "already")
	if got := h.lcIntrospectExp(tok); got != exp0 {
		t.Fatalf("one of two approvals moved exp %d → %d", exp0, got)
	}
	h.lcClickMsg(dave, ext, "ext_approve") // through the S0ONCALL group
	got := h.introspect(tok)
	if !active(got) || int64(got["exp"].(float64)) != exp0+3600 {
		t.Fatalf("right after the approving click: introspect %v; want the same token active with exp %d (was %d)", got, exp0+3600, exp0)
	}
	h.lcWaitDM(alice, "extended", "INC-41")
	h.waitFor("the decided extension message", func() bool {
		m, _ := h.lcExtensionMessage(id, 1)
		return !hasButtons(m)
	})
	lcSettle()
	if n := h.lcTokenDMs(alice); n != 1 {
		t.Errorf("%d token DMs, want 1: an extension sends no new token", n)
	}
	for _, m := range h.lcDmsWith(alice, "INC-41") {
		lcCheckTicketLinked(t, "DM", fakeslack.PlainText(m), "INC-41")
	}

	// A second extension, denied: nothing changes.
	h.command(alice, "extend "+id+" 10m")
	ext2 := h.lcWaitExtensionMessage(id, 2)
	// A stale click on the first extension's message (as a client that
	// still shows its buttons sends it) changes nothing, not even that
	// message, which keeps its outcome.
	before, _ := h.lcExtensionMessage(id, 1)
	n = len(h.slack.Ephemerals(carol))
	if _, err := h.slack.Click(h.ctx(), carol, ext, "ext_approve"); err != nil {
		t.Fatal(err)
	}
	h.lcWaitEphemeral(carol, approvals, n)
	lcSettle()
	if cur, _ := h.slack.Message(ext.Channel, ext.TS); cur.Updates != before.Updates || !strings.Contains(fakeslack.PlainText(cur), "approved") {
		t.Errorf("a stale click on the decided first extension replaced its message:\n%s", fakeslack.PlainText(cur))
	}
	if cur, _ := h.lcExtensionMessage(id, 2); !hasButtons(cur) || strings.Contains(fakeslack.PlainText(cur), "1 of 2") {
		t.Errorf("a stale click on the first extension counted for the second:\n%s", fakeslack.PlainText(cur))
	}
	h.lcClickMsg(bob, ext2, "ext_approve") // 1 of 2, then a deny
	h.lcClickMsg(carol, ext2, "ext_deny")
	h.lcWaitDM(alice, "denied", "INC-41")
	h.waitFor("the denied extension message", func() bool {
		m, _ := h.lcExtensionMessage(id, 2)
		return !hasButtons(m) && strings.Contains(fakeslack.PlainText(m), "enied")
	})
	if got := h.lcIntrospectExp(tok); got != exp0+3600 {
		t.Errorf("a denied extension moved exp to %d, want %d", got, exp0+3600)
	}
	// A click on the denied extension's old buttons changes nothing.
	n = len(h.slack.Ephemerals(dave))
	if _, err := h.slack.Click(h.ctx(), dave, ext2, "ext_approve"); err != nil {
		t.Fatal(err)
	}
	h.lcWaitEphemeral(dave, approvals, n)
	if got := h.lcIntrospectExp(tok); got != exp0+3600 {
		t.Errorf("a late click on a denied extension moved exp to %d", got)
	}
	if n := h.lcTokenDMs(alice); n != 1 {
		t.Errorf("%d token DMs, want 1", n)
	}

	h.lcCheckAllTicketLinks(t, "INC-41")

	// A pending request cannot be extended.
	pid := h.request(alice, "prod-db read 30m INC-42")
	mustContain(t, "extend a pending request", h.command(alice, "extend "+pid+" 10m").Text, "not been approved")
}

// An extension nobody decides within pending_timeout expires and changes
// nothing.
func TestLifecycleExtensionTimesOut(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{pendingTimeout: "3s", pendingReminder: "0"})
	id, tok := h.lcGrant(alice, "prod-db read 1h INC-43", bob)
	exp0 := h.lcIntrospectExp(tok)
	h.command(alice, "extend "+id+" 30m")
	ext := h.lcWaitExtensionMessage(id, 1)
	h.lcWaitDM(alice, "INC-43", "without a decision")
	h.waitFor("the timed-out extension message", func() bool {
		m, _ := h.lcExtensionMessage(id, 1)
		return !hasButtons(m)
	})
	n := len(h.slack.Ephemerals(bob))
	if _, err := h.slack.Click(h.ctx(), bob, ext, "ext_approve"); err != nil {
		t.Fatal(err)
	}
	h.lcWaitEphemeral(bob, approvals, n)
	if got := h.lcIntrospectExp(tok); got != exp0 {
		t.Errorf("a timed-out extension moved exp %d → %d", exp0, got)
	}
}

// Expiring soon: one DM warn_before ahead of exp, with an Extend button
// that files an extension; a grant no longer than warn_before gets none.
func TestLifecycleExpiringSoon(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{warnBefore: "3s"})
	h.lcGrant(alice, "ops read 3s INC-51", carol)
	id, tok := h.lcGrant(alice, "prod-db read 6s INC-52", bob)
	exp := h.lcIntrospectExp(tok)

	warn := h.lcWaitWarning(alice, id)
	at := warn.PostedAt.Unix()
	if at < exp-3-1 || at >= exp {
		t.Errorf("warning sent at %d, want about %d (exp %d minus warn_before 3s)", at, exp-3, exp)
	}
	lcCheckTicketLinked(t, "warning", fakeslack.PlainText(warn), "INC-52")
	var ext fakeslack.Button
	for _, b := range fakeslack.Buttons(warn) {
		if strings.Contains(b.Text, "Extend") {
			ext = b
		}
	}
	if ext.ActionID == "" || ext.Value != id {
		t.Fatalf("warning buttons %+v: want an Extend button for %s", fakeslack.Buttons(warn), id)
	}

	// Extend files an extension (of the grant's duration); approved, the
	// same token outlives the old exp.
	if r, err := h.slack.ClickButton(h.ctx(), alice, warn, ext); err != nil || r.Status != 200 {
		t.Fatalf("click Extend: %v", err)
	}
	em := h.lcWaitExtensionMessage(id, 1)
	mustContain(t, "extension from the warning", fakeslack.PlainText(em), "6s")
	h.lcClickMsg(bob, em, "ext_approve")
	if got := h.lcIntrospectExp(tok); got != exp+6 {
		t.Errorf("exp after the extension %d, want %d", got, exp+6)
	}
	time.Sleep(time.Until(time.Unix(exp, 0).Add(200 * time.Millisecond)))
	if !active(h.introspect(tok)) {
		t.Error("extended token inactive after its old exp")
	}
	// It expires at the new exp, not the old one.
	time.Sleep(1200 * time.Millisecond)
	if ms := h.lcMessagesWith(announce, "INC-52", "expired"); len(ms) != 0 {
		t.Errorf("the extended grant was announced expired at its old exp: %s", ms[0].Text)
	}
	m := h.lcWaitMessageWith(announce, "INC-52", "expired")
	if m.PostedAt.Before(time.Unix(exp+6, 0)) {
		t.Errorf("expiry announced at %s, before the new exp %d", m.PostedAt, exp+6)
	}
	// A break-glass grant is warned too.
	bg := idRE.FindString(h.command(mallory, "break-glass prod-db read 5s INC-53 down").Text)
	h.lcWaitWarning(mallory, bg)

	// Exactly one warning for the original exp, none for the short grant.
	// (A warning is updated as the grant moves: once an extension is
	// asked for its button goes, so look at the warning as first sent.)
	n := 0
	for _, m := range h.lcDmsWith(alice, id) {
		first := m
		if len(m.History) > 0 {
			first = fakeslack.Message{Text: m.History[0].Text, Blocks: m.History[0].Blocks}
		}
		if slices.ContainsFunc(fakeslack.Buttons(first), func(b fakeslack.Button) bool { return b.ActionID == ext.ActionID }) &&
			m.PostedAt.Unix() < exp {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d warnings before the original exp, want 1", n)
	}
	h.lcWaitDM(alice, "INC-51", "expired")
	for _, m := range h.lcDmsWith(alice, "INC-51") {
		if len(fakeslack.Buttons(m)) > 0 {
			t.Errorf("a 3s grant (not longer than warn_before 3s) was warned: %s", m.Text)
		}
	}
}

// Already held: a request for a resource and level the requester holds now
// is refused, pointing at /access extend, and reaches no one else.
func TestLifecycleAlreadyHeld(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	id, tok := h.lcGrant(alice, "prod-db read 30m INC-61", bob)
	h.lcQuiesce()
	posts := h.postCalls()
	for _, text := range []string{"prod-db read 10m INC-62 again", "break-glass prod-db read 10m INC-63 on fire"} {
		r := h.command(alice, text)
		if r.ResponseType != "ephemeral" {
			t.Errorf("%q: response_type %q", text, r.ResponseType)
		}
		mustContain(t, "reply to "+text, r.Text, "/access extend "+id)
		if got := idRE.FindAllString(r.Text, -1); slices.ContainsFunc(got, func(s string) bool { return s != id }) {
			t.Errorf("%q: a new request was filed: %s", text, r.Text)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if h.postCalls() != posts {
		t.Errorf("an already-held request posted %d messages", h.postCalls()-posts)
	}
	if l := h.command(alice, "list"); strings.Count(l.Text, "prod-db") != 1 {
		t.Errorf("list after refusals: %s", l.Text)
	}
	// Another level, or another requester, is a new request.
	if r := h.command(alice, "prod-db write 10m INC-64"); !idRE.MatchString(r.Text) || strings.Contains(r.Text, "/access extend") {
		t.Errorf("another level refused: %s", r.Text)
	}
	if r := h.command(mallory, "prod-db read 10m INC-65"); !idRE.MatchString(r.Text) || strings.Contains(r.Text, "/access extend") {
		t.Errorf("another requester refused: %s", r.Text)
	}
	// Access held through break-glass counts too.
	bg := idRE.FindString(h.command(mallory, "break-glass prod-db write 10m INC-67 down").Text)
	h.token(mallory, bg)
	mustContain(t, "request for access held through break-glass", h.command(mallory, "prod-db write 10m INC-68").Text, "/access extend "+bg)

	// Once the grant ends, the same request is welcome again.
	h.command(alice, "revoke "+id)
	if active(h.introspect(tok)) {
		t.Fatal("revoked token active")
	}
	if r := h.command(alice, "prod-db read 10m INC-66"); strings.Contains(r.Text, "/access extend") || !idRE.MatchString(r.Text) {
		t.Errorf("request after revocation refused: %s", r.Text)
	}
}

// Pending reminder: one reply in the approval message's thread after
// pending_reminder, mentioning the approvers; none for a decided request.
func TestLifecyclePendingReminder(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{pendingReminder: "1s"})
	decided := h.request(alice, "billing read 10m X-1")
	h.approvalMessage(decided)
	h.click(bob, approvals, decided, "approve")
	id := h.request(alice, "prod-db read 30m INC-71 waiting")
	m := h.approvalMessage(id)
	var replies []fakeslack.Message
	h.waitFor("a reminder in the approval message's thread", func() bool {
		replies = h.slack.Thread(approvals, m.TS)
		return len(replies) > 0
	})
	time.Sleep(2500 * time.Millisecond)
	replies = h.slack.Thread(approvals, m.TS)
	if len(replies) != 1 {
		t.Fatalf("%d replies in the thread, want one reminder", len(replies))
	}
	if d := replies[0].PostedAt.Sub(m.PostedAt); d < 800*time.Millisecond {
		t.Errorf("reminder %s after the request, before pending_reminder (1s)", d)
	}
	text := fakeslack.PlainText(replies[0])
	mustContain(t, "reminder", text, "<@"+bob+">", "<@"+carol+">", "<!subteam^S0ONCALL>")
	if replies[0].Broadcast {
		t.Error("the reminder was broadcast to the channel")
	}
	if ms := h.lcMessagesWith(approvals, id); len(ms) != 1 {
		t.Errorf("%d top-level messages about the request, want only the approval message", len(ms))
	}
	dm, _ := h.message(approvals, decided)
	if th := h.slack.Thread(approvals, dm.TS); len(th) != 0 {
		t.Errorf("a decided request was reminded: %s", th[0].Text)
	}
	// A restart sends it no second time.
	h.restart()
	time.Sleep(2 * time.Second)
	if n := len(h.slack.Thread(approvals, m.TS)); n != 1 {
		t.Errorf("%d reminders after a restart, want still 1", n)
	}
}

// pending_reminder defaults to half of pending_timeout.
func TestLifecyclePendingReminderDefault(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{pendingTimeout: "4s"})
	asked := time.Now()
	id := h.request(alice, "billing read 10m X-2")
	m := h.approvalMessage(id)
	var r fakeslack.Message
	h.waitFor("the default reminder", func() bool {
		th := h.slack.Thread(approvals, m.TS)
		if len(th) > 0 {
			r = th[0]
		}
		return len(th) > 0
	})
	if d := r.PostedAt.Sub(asked); d < 1900*time.Millisecond || d > 3500*time.Millisecond {
		t.Errorf("reminder %s after the request, want about 2s (half of pending_timeout 4s)", d)
	}
	mustContain(t, "reminder", r.Text, "<@"+bob+">")
	h.waitFor("the timeout", func() bool {
		m, _ := h.message(approvals, id)
		return !hasButtons(m)
	})
	if n := len(h.slack.Thread(approvals, m.TS)); n != 1 {
		t.Errorf("%d reminders, want 1", n)
	}
}

// Review reminders: an unreviewed break-glass grant is reminded to the
// approver channel every review_reminder, even after it ended, until
// someone reviews it.
func TestLifecycleReviewReminders(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{reviewReminder: "1s"})
	id := idRE.FindString(h.command(alice, "break-glass prod-db read 2s INC-81 primary down").Text)
	h.token(alice, id)
	h.lcWaitMessageWith(approvals, id, "BREAK-GLASS")
	reminders := func() []fakeslack.Message {
		var out []fakeslack.Message
		for _, m := range h.lcMessagesWith(approvals, id) {
			if !strings.Contains(m.Text, "BREAK-GLASS") {
				out = append(out, m)
			}
		}
		return out
	}
	h.waitFor("three review reminders", func() bool { return len(reminders()) >= 3 })
	rs := reminders()
	for i, m := range rs {
		text := fakeslack.PlainText(m)
		mustContain(t, "review reminder", text, "<@"+bob+">", "<@"+carol+">", "<!subteam^S0ONCALL>")
		lcCheckTicketLinked(t, "review reminder", text, "INC-81")
		if i > 0 {
			if gap := m.PostedAt.Sub(rs[i-1].PostedAt); gap < 800*time.Millisecond {
				t.Errorf("reminders %s apart, want every review_reminder (1s)", gap)
			}
		}
	}
	if len(h.lcMessagesWith(announce, "Reminder")) != 0 {
		t.Error("review reminders went to the announce channel")
	}
	// The grant has ended by now (2s); reminders go on until a review.
	h.lcWaitDM(alice, "INC-81", "expired")
	n := len(reminders())
	h.waitFor("a reminder after the grant expired", func() bool { return len(reminders()) > n })

	h.click(bob, approvals, id, "review")
	h.waitFor("the reviewed alert", func() bool {
		m, _ := h.message(approvals, id)
		return strings.Contains(fakeslack.PlainText(m), "Reviewed by <@"+bob+">")
	})
	n = len(reminders())
	time.Sleep(2500 * time.Millisecond)
	if got := len(reminders()); got != n {
		t.Errorf("%d reminders after the review", got-n)
	}
}

// With every interval 0, nothing is warned or reminded.
func TestLifecycleIntervalsOff(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{pendingTimeout: "4s", warnBefore: "0", pendingReminder: "0", reviewReminder: "0"})
	_, tok := h.lcGrant(alice, "prod-db read 3s INC-91", bob)
	pending := h.request(alice, "billing read 10m X-3")
	m := h.approvalMessage(pending)
	bg := idRE.FindString(h.command(mallory, "break-glass prod-db write 10m INC-92 down").Text)
	h.token(mallory, bg)
	h.waitFor("the pending request to time out", func() bool {
		m, _ := h.message(approvals, pending)
		return !hasButtons(m)
	})
	if active(h.introspect(tok)) {
		t.Fatal("token active past exp")
	}
	lcSettle()
	for _, d := range h.slack.DM(alice) {
		if len(fakeslack.Buttons(d)) > 0 {
			t.Errorf("warn_before 0, but alice was warned: %s", d.Text)
		}
	}
	if th := h.slack.Thread(approvals, m.TS); len(th) != 0 {
		t.Errorf("pending_reminder 0, but a reminder came: %s", th[0].Text)
	}
	if rs := h.lcMessagesWith(approvals, bg); len(rs) != 1 {
		t.Errorf("review_reminder 0, but %d messages about the break-glass grant", len(rs))
	}
}

// Break-glass alerts mention the approvers and carry Mark reviewed and
// Revoke; Revoke by an approver ends the grant at once.
func TestLifecycleBreakGlassRevoke(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	id := idRE.FindString(h.command(alice, "break-glass prod-db read 30m INC-101 cache on fire").Text)
	tok := h.token(alice, id)
	for _, ch := range []string{approvals, announce} {
		m := h.lcWaitMessageWith(ch, id, "BREAK-GLASS")
		text := fakeslack.PlainText(m)
		mustContain(t, "alert in "+ch, text, "<@"+bob+">", "<@"+carol+">", "<!subteam^S0ONCALL>")
		lcCheckTicketLinked(t, "alert", text, "INC-101")
		var labels []string
		for _, b := range fakeslack.Buttons(m) {
			labels = append(labels, strings.ToLower(b.Text))
		}
		if !slices.Contains(labels, "mark reviewed") || !slices.Contains(labels, "revoke") {
			t.Errorf("alert buttons %v: want Mark reviewed and Revoke", labels)
		}
	}

	// Not by an outsider, nor from another message.
	n := len(h.slack.Ephemerals(mallory))
	h.click(mallory, approvals, id, "revoke")
	h.lcWaitEphemeral(mallory, approvals, n)
	other := h.approvalMessage(h.request(mallory, "billing read 10m X-4"))
	n = len(h.slack.Ephemerals(bob))
	h.lcForge(bob, other, "revoke", id)
	h.lcWaitEphemeral(bob, approvals, n)
	if !active(h.introspect(tok)) {
		t.Fatal("a refused Revoke ended the grant")
	}
	lcSettle()
	if cur, _ := h.slack.Message(other.Channel, other.TS); cur.Updates != other.Updates || !hasButtons(cur) {
		t.Errorf("a refused click forged on another request's approval message replaced that message:\n%s", fakeslack.PlainText(cur))
	}

	// An approver's Revoke on the announce channel's alert.
	m, _ := h.message(announce, id)
	h.lcClickMsg(carol, m, "revoke")
	if active(h.introspect(tok)) {
		t.Fatal("token still active right after an approver's Revoke")
	}
	for _, ch := range []string{approvals, announce} {
		h.waitFor("the revoked alert in "+ch, func() bool {
			m, _ := h.message(ch, id)
			return strings.Contains(fakeslack.PlainText(m), "Revoked by <@"+carol+">") &&
				!slices.ContainsFunc(fakeslack.Buttons(m), func(b fakeslack.Button) bool { return b.ActionID == "revoke" })
		})
	}
	h.lcWaitMessageWith(announce, "INC-101", "revoked")
	h.lcWaitDM(alice, "INC-101", "revoked")
	// Mark reviewed still works on the ended grant.
	h.click(bob, approvals, id, "review")
	h.waitFor("reviewed", func() bool {
		m, _ := h.message(approvals, id)
		return strings.Contains(fakeslack.PlainText(m), "Reviewed by <@"+bob+">") && !hasButtons(m)
	})
}

// break_glass_users and break_glass_max_duration.
func TestLifecycleBreakGlassUsersAndMaxDuration(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	refused := func(who, text, says string) {
		t.Helper()
		h.lcQuiesce()
		posts := h.postCalls()
		r := h.command(who, text)
		if r.ResponseType != "ephemeral" || idRE.MatchString(r.Text) {
			t.Errorf("%s %q: not refused: %s", who, text, r.Text)
		}
		mustContain(t, who+" "+text, r.Text, says)
		time.Sleep(100 * time.Millisecond)
		if h.postCalls() != posts {
			t.Errorf("%s %q: a refused break-glass reached Slack", who, text)
		}
	}
	granted := func(who, text string) {
		t.Helper()
		r := h.command(who, text)
		id := idRE.FindString(r.Text)
		if id == "" || !strings.Contains(r.Text, "granted") {
			t.Errorf("%s %q: not granted: %s", who, text, r.Text)
			return
		}
		if !active(h.introspect(h.token(who, id))) {
			t.Errorf("%s %q: token inactive", who, text)
		}
	}
	// billing: only carol and the S0ONCALL group, at most 10m.
	refused(alice, "break-glass billing read 5m X-5 down", "not among")
	refused(bob, "break-glass billing read 5m X-5 down", "not among") // an approver, but not listed
	refused(carol, "break-glass billing read 11m X-5 down", "too long")
	granted(carol, "break-glass billing read 10m X-5 down")
	granted(dave, "break-glass billing read 1m X-6 down") // through the group
	// The bound is for break-glass only: an approved request may be longer.
	if r := h.command(alice, "billing read 1h X-7"); !idRE.MatchString(r.Text) {
		t.Errorf("a 1h billing request was refused: %s", r.Text)
	}
	// prod-db: anyone, up to the level's max_duration.
	refused(mallory, "break-glass prod-db read 5h INC-102 down", "too long")
	granted(mallory, "break-glass prod-db read 4h INC-102 down")
}

// /access reviews: for approvers, the open break-glass reviews of the
// resources they approve.
func TestLifecycleReviewsCommand(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	if r := h.command(bob, "reviews"); idRE.MatchString(r.Text) {
		t.Errorf("reviews before any break-glass: %s", r.Text)
	}
	pdb := idRE.FindString(h.command(alice, "break-glass prod-db read 30m INC-111 down").Text)
	bill := idRE.FindString(h.command(dave, "break-glass billing read 5m X-8 down").Text)
	h.lcWaitMessageWith(approvals, pdb, "BREAK-GLASS")
	h.lcWaitMessageWith(approvals, bill, "BREAK-GLASS")

	r := h.command(bob, "reviews") // approves both
	if r.ResponseType != "ephemeral" {
		t.Errorf("reviews response_type %q", r.ResponseType)
	}
	mustContain(t, "bob's reviews", r.Text, pdb, bill, "<@"+alice+">", "<@"+dave+">")
	lcCheckTicketLinked(t, "bob's reviews", r.Text, "INC-111")
	r = h.command(carol, "reviews") // prod-db only
	mustContain(t, "carol's reviews", r.Text, pdb)
	if strings.Contains(r.Text, bill) {
		t.Errorf("carol sees a review of billing, which she does not approve: %s", r.Text)
	}
	r = h.command(mallory, "reviews")
	if strings.Contains(r.Text, pdb) || strings.Contains(r.Text, bill) {
		t.Errorf("a non-approver sees reviews: %s", r.Text)
	}
	h.click(carol, approvals, pdb, "review")
	h.waitFor("the review", func() bool { return !strings.Contains(h.command(bob, "reviews").Text, pdb) })
	if r := h.command(bob, "reviews"); !strings.Contains(r.Text, bill) {
		t.Errorf("bob's open review of billing is gone: %s", r.Text)
	}
}

// App Home: the user's pending requests and live grants with time left and
// Cancel / Extend / Revoke, and for approvers what waits for them, with
// buttons that act like the channel's.
func TestLifecycleAppHome(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	live, tok := h.lcGrant(alice, "prod-db read 30m INC-121 reads", bob)
	exp0 := h.lcIntrospectExp(tok)
	twoOf := h.request(alice, "prod-db write 30m INC-122 migration")
	toCancel := h.request(alice, "billing read 10m X-9")
	toDeny := h.request(alice, "ops read 10m X-10")
	for _, id := range []string{twoOf, toCancel, toDeny} {
		h.approvalMessage(id)
	}

	home := h.lcOpenHome(alice, func(s string) bool { return strings.Contains(s, live) && strings.Contains(s, twoOf) })
	text := fakeslack.ViewText(home)
	mustContain(t, "alice's Home", text, live, twoOf, toCancel, toDeny, "left")
	lcCheckTicketLinked(t, "alice's Home", text, "INC-121")
	for _, want := range [][2]string{{"cancel", twoOf}, {"cancel", toCancel}, {"extend", live}, {"revoke", live}} {
		if _, ok := lcViewButton(home, want[0], want[1]); !ok {
			t.Errorf("alice's Home has no %s button for %s:\n%s", want[0], want[1], text)
		}
	}
	for _, b := range fakeslack.ViewButtons(home) {
		if b.ActionID == "approve" || b.ActionID == "deny" {
			t.Errorf("alice (no approver) has a %s button in her Home", b.ActionID)
		}
	}

	bobHome := h.lcOpenHome(bob, func(s string) bool { return strings.Contains(s, twoOf) })
	for _, id := range []string{twoOf, toCancel} {
		for _, action := range []string{"approve", "deny"} {
			if _, ok := lcViewButton(bobHome, action, id); !ok {
				t.Errorf("bob's Home has no %s for %s:\n%s", action, id, fakeslack.ViewText(bobHome))
			}
		}
	}
	if strings.Contains(fakeslack.ViewText(bobHome), toDeny) {
		t.Error("bob's Home shows an ops request, which he does not approve")
	}
	h.lcOpenHome(carol, func(s string) bool { return strings.Contains(s, toDeny) })
	h.lcOpenHome(dave, func(s string) bool { return strings.Contains(s, twoOf) })
	malHome := h.lcOpenHome(mallory, func(string) bool { return true })
	if t2 := fakeslack.ViewText(malHome); strings.Contains(t2, twoOf) || strings.Contains(t2, live) {
		t.Errorf("mallory's Home shows alice's requests:\n%s", t2)
	}

	// Approve and Deny act like the channel's buttons.
	h.lcClickHome(bob, "approve", twoOf)
	h.waitFor("1 of 2 on the approval message", func() bool {
		m, _ := h.message(approvals, twoOf)
		return strings.Contains(fakeslack.PlainText(m), "1 of 2") && hasButtons(m)
	})
	h.lcClickHome(dave, "approve", twoOf)
	writeTok := h.token(alice, twoOf)
	if got := h.introspect(writeTok); got["scope"] != "prod-db:write" {
		t.Errorf("approved from Home: %v", got)
	}
	h.waitFor("the decided approval message", func() bool {
		m, _ := h.message(approvals, twoOf)
		return !hasButtons(m) && strings.Contains(fakeslack.PlainText(m), "<@"+bob+">, <@"+dave+">")
	})
	h.lcClickHome(carol, "deny", toDeny)
	h.lcWaitDM(alice, "denied", "X-10")

	// Cancel, Extend and Revoke from alice's Home.
	h.lcClickHome(alice, "cancel", toCancel)
	h.waitFor("the approval message cancelled from Home", func() bool {
		m, _ := h.message(approvals, toCancel)
		return !hasButtons(m) && strings.Contains(strings.ToLower(fakeslack.PlainText(m)), "cancelled")
	})
	h.lcClickHome(alice, "extend", live)
	ext := h.lcWaitExtensionMessage(live, 1)
	mustContain(t, "extension from Home", fakeslack.PlainText(ext), "30m")
	bobHome = h.lcOpenHome(bob, func(s string) bool { return strings.Contains(s, live) })
	if _, ok := lcViewButton(bobHome, "ext_approve", live); !ok {
		t.Fatalf("bob's Home does not offer the extension:\n%s", fakeslack.ViewText(bobHome))
	}
	h.lcClickHome(bob, "ext_approve", live)
	if got := h.lcIntrospectExp(tok); got != exp0+1800 {
		t.Errorf("extended from Home: exp %d, want %d", got, exp0+1800)
	}
	h.waitFor("the extension message decided from Home", func() bool {
		m, _ := h.lcExtensionMessage(live, 1)
		return !hasButtons(m) && strings.Contains(fakeslack.PlainText(m), "<@"+bob+">")
	})
	h.waitFor("alice's Home after her clicks", func() bool {
		v, _ := h.slack.HomeView(alice)
		s := fakeslack.ViewText(v)
		return !strings.Contains(s, toCancel) && strings.Contains(s, twoOf)
	})
	h.lcClickHome(alice, "revoke", live)
	if active(h.introspect(tok)) {
		t.Error("token still active right after Revoke in Home")
	}
	home = h.lcOpenHome(alice, func(s string) bool { return !strings.Contains(s, live) })
	if _, ok := lcViewButton(home, "revoke", twoOf); !ok {
		t.Errorf("alice's Home lost her write grant:\n%s", fakeslack.ViewText(home))
	}
}

// The receipt: the slash command's ephemeral reply is updated through its
// response_url as the request moves.
func TestLifecycleLiveReceipt(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	// The receipt is the first ephemeral naming the request (later ones
	// are replies to other commands).
	receipt := func(id string) fakeslack.Message {
		for _, e := range h.slack.Ephemerals(alice) {
			if strings.Contains(e.Text, id) {
				return e
			}
		}
		t.Fatalf("no receipt for %s", id)
		return fakeslack.Message{}
	}
	id := h.request(alice, "prod-db write 30m INC-131 migration")
	h.approvalMessage(id)
	first := receipt(id)
	if !slices.ContainsFunc(fakeslack.Buttons(first), func(b fakeslack.Button) bool { return b.ActionID == "cancel" }) {
		t.Errorf("pending receipt without a Cancel button: %s", first.Blocks)
	}
	h.click(bob, approvals, id, "approve")
	h.waitFor("the receipt to show 1 of 2", func() bool {
		return strings.Contains(fakeslack.PlainText(receipt(id)), "1 of 2")
	})
	h.click(carol, approvals, id, "approve")
	h.waitFor("the receipt to show the approval", func() bool {
		m := receipt(id)
		return strings.Contains(strings.ToLower(m.Text), "approved") && !hasButtons(m)
	})
	lcCheckTicketLinked(t, "receipt", fakeslack.PlainText(receipt(id)), "INC-131")

	denied := h.request(alice, "prod-db read 30m INC-132")
	h.approvalMessage(denied)
	h.click(bob, approvals, denied, "deny")
	h.waitFor("the receipt to show the denial", func() bool {
		m := receipt(denied)
		return strings.Contains(m.Text, "denied") && !hasButtons(m)
	})

	cancelled := h.request(alice, "billing read 30m X-11")
	h.approvalMessage(cancelled)
	h.command(alice, "cancel "+cancelled)
	h.waitFor("the receipt to show the cancellation", func() bool {
		m := receipt(cancelled)
		return strings.Contains(m.Text, "cancelled") && !hasButtons(m)
	})

	// A grant that expires: its receipt says so.
	short := h.request(alice, "ops read 2s X-13")
	h.approvalMessage(short)
	h.click(carol, approvals, short, "approve")
	h.token(alice, short)
	h.waitFor("the receipt to show the approval of the 2s grant", func() bool {
		return strings.Contains(receipt(short).Text, "approved")
	})
	h.lcWaitDM(alice, "X-13", "expired")
	h.waitFor("the receipt to show the expiry", func() bool {
		return strings.Contains(receipt(short).Text, "expired")
	})
}

// Replays of lifecycle commands and form submissions change nothing.
func TestLifecycleReplays(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	id, _ := h.lcGrant(alice, "prod-db read 30m INC-141", bob)
	h.command(alice, "extend "+id+" 10m")
	sent := h.slack.LastSigned()
	h.lcWaitExtensionMessage(id, 1)
	if r, err := h.slack.Replay(h.ctx(), sent); err != nil || r.Status != 200 {
		t.Fatalf("replay: %v HTTP %d", err, r.Status)
	}
	lcSettle()
	if _, ok := h.lcExtensionMessage(id, 2); ok {
		t.Error("a replayed /access extend filed a second extension")
	}

	h.command(alice, "")
	v := h.slack.OpenViews(alice)[0]
	vals := map[string]map[string]fakeslack.ViewValue{}
	for _, in := range lcViewInputs(v) {
		val := map[string]string{"Resource": "billing", "Level": "read", "Duration": "10m", "Ticket": "X-12"}[in.Label]
		if val != "" {
			vals[in.BlockID] = map[string]fakeslack.ViewValue{in.ActionID: {Value: val}}
		}
	}
	if _, err := h.slack.SubmitView(h.ctx(), alice, v.ID, vals); err != nil {
		t.Fatal(err)
	}
	sent = h.slack.LastSigned()
	h.lcWaitMessageWith(approvals, "X-12")
	if _, err := h.slack.Replay(h.ctx(), sent); err != nil {
		t.Fatal(err)
	}
	lcSettle()
	if n := len(h.lcMessagesWith(approvals, "X-12")); n != 1 {
		t.Errorf("a replayed form submission filed %d requests", n)
	}
}

// An approver who asks for access cannot approve their own extension; a
// pending extension is withdrawn with /access cancel, after which its
// message has no buttons and clicks on it change nothing.
func TestLifecycleExtensionOwnAndCancelled(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{})
	id, tok := h.lcGrant(bob, "prod-db read 30m INC-151 reindex", carol)
	exp0 := h.lcIntrospectExp(tok)
	h.command(bob, "extend "+id+" 15m")
	ext := h.lcWaitExtensionMessage(id, 1)
	n := len(h.slack.Ephemerals(bob))
	h.lcClickMsg(bob, ext, "ext_approve")
	mustContain(t, "bob's own approval", h.lcWaitEphemeral(bob, approvals, n), "own")
	home := h.lcOpenHome(bob, func(s string) bool { return strings.Contains(s, id) })
	if _, ok := lcViewButton(home, "ext_approve", id); ok {
		t.Error("bob's Home offers him his own extension to approve")
	}
	if got := h.lcIntrospectExp(tok); got != exp0 {
		t.Fatalf("the requester's own approval moved exp %d → %d", exp0, got)
	}

	r := h.command(bob, "cancel "+id)
	mustContain(t, "cancel the extension", strings.ToLower(r.Text), "cancelled")
	h.waitFor("the cancelled extension message", func() bool {
		m, _ := h.lcExtensionMessage(id, 1)
		return !hasButtons(m) && strings.Contains(strings.ToLower(fakeslack.PlainText(m)), "cancelled")
	})
	n = len(h.slack.Ephemerals(carol))
	if _, err := h.slack.Click(h.ctx(), carol, ext, "ext_approve"); err != nil {
		t.Fatal(err)
	}
	h.lcWaitEphemeral(carol, approvals, n)
	if got := h.lcIntrospectExp(tok); got != exp0 {
		t.Errorf("a click on a cancelled extension moved exp %d → %d", exp0, got)
	}
	if !active(h.introspect(tok)) {
		t.Error("cancelling the extension ended the grant")
	}
}

// A pending extension is reminded once in its own message's thread.
func TestLifecycleExtensionReminder(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{pendingReminder: "1s"})
	id, _ := h.lcGrant(alice, "prod-db read 30m INC-161", bob)
	approval, _ := h.message(approvals, id)
	h.command(alice, "extend "+id+" 10m")
	ext := h.lcWaitExtensionMessage(id, 1)
	h.waitFor("a reminder in the extension's thread", func() bool { return len(h.slack.Thread(approvals, ext.TS)) > 0 })
	time.Sleep(2500 * time.Millisecond)
	th := h.slack.Thread(approvals, ext.TS)
	if len(th) != 1 {
		t.Fatalf("%d reminders in the extension's thread, want 1", len(th))
	}
	mustContain(t, "extension reminder", th[0].Text, "<@"+bob+">", "<!subteam^S0ONCALL>")
	if n := len(h.slack.Thread(approvals, approval.TS)); n != 0 {
		t.Errorf("%d reminders in the decided approval message's thread", n)
	}
}

// The Home tab over Socket Mode: app_home_opened arrives as an events_api
// envelope, and a click in the Home tab as an interactive one.
func TestLifecycleAppHomeSocket(t *testing.T) {
	t.Parallel()
	h := lcNewHarness(t, lcConf{socket: true})
	id := h.request(alice, "prod-db read 30m INC-171")
	h.approvalMessage(id)
	home := h.lcOpenHome(alice, func(s string) bool { return strings.Contains(s, id) })
	if _, ok := lcViewButton(home, "cancel", id); !ok {
		t.Errorf("alice's Home has no Cancel for %s", id)
	}
	h.lcOpenHome(bob, func(s string) bool { return strings.Contains(s, id) })
	h.lcClickHome(bob, "approve", id)
	tok := h.token(alice, id)
	if !active(h.introspect(tok)) {
		t.Fatal("token approved from the Home tab over Socket Mode is inactive")
	}
	h.waitFor("the decided approval message", func() bool {
		m, _ := h.message(approvals, id)
		return !hasButtons(m) && strings.Contains(fakeslack.PlainText(m), "Approved by <@"+bob+">")
	})
	for _, a := range h.slack.Acks() {
		if a.Latency > 3*time.Second {
			t.Errorf("%s envelope acked after %s", a.Type, a.Latency)
		}
	}
}
