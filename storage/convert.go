package storage

import (
	"slices"
	"time"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
)

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func fromPtr(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func toRequestRow(r *workflow.Request) requestRow {
	row := requestRow{
		ID:                r.ID,
		Requester:         r.Requester,
		Resource:          r.Resource,
		Level:             r.Level,
		DurationSeconds:   int64(r.Duration / time.Second),
		DurationText:      r.DurationText,
		Ticket:            r.Ticket,
		Reason:            r.Reason,
		BreakGlass:        r.BreakGlass,
		ApprovalsRequired: r.ApprovalsRequired,
		State:             string(r.State),
		CreatedAt:         r.CreatedAt.UTC(),
		PendingUntil:      r.PendingUntil.UTC(),
		RemindAt:          timePtr(r.RemindAt),
		DecidedBy:         r.DecidedBy,
		DecidedAt:         timePtr(r.DecidedAt),
		EndedBy:           r.EndedBy,
		EndedAt:           timePtr(r.EndedAt),
		EndReason:         truncateText(r.EndReason, 1000),
		ReviewedBy:        r.ReviewedBy,
		ReviewedAt:        timePtr(r.ReviewedAt),
		ReviewRemindAt:    timePtr(r.ReviewRemindAt),
		ResponseURL:       r.ResponseURL,
		DueAt:             timePtr(r.NextDue()),
		Version:           r.Version,
	}
	if e := r.Extension; e != nil {
		row.ExtSeq = e.Seq
		row.ExtDuration = int64(e.Duration / time.Second)
		row.ExtDurationText = e.DurationText
		row.ExtState = string(e.State)
		row.ExtRequestedAt = timePtr(e.RequestedAt)
		row.ExtPendingUntil = timePtr(e.PendingUntil)
		row.ExtRemindAt = timePtr(e.RemindAt)
		row.ExtDecidedBy = e.DecidedBy
		row.ExtDecidedAt = timePtr(e.DecidedAt)
	}
	return row
}

func fromRequestRow(row *requestRow) workflow.Request {
	r := workflow.Request{
		ID:                row.ID,
		Requester:         row.Requester,
		Resource:          row.Resource,
		Level:             row.Level,
		Duration:          time.Duration(row.DurationSeconds) * time.Second,
		DurationText:      row.DurationText,
		Ticket:            row.Ticket,
		Reason:            row.Reason,
		BreakGlass:        row.BreakGlass,
		ApprovalsRequired: row.ApprovalsRequired,
		State:             workflow.State(row.State),
		CreatedAt:         row.CreatedAt.UTC(),
		PendingUntil:      row.PendingUntil.UTC(),
		RemindAt:          fromPtr(row.RemindAt),
		DecidedBy:         row.DecidedBy,
		DecidedAt:         fromPtr(row.DecidedAt),
		EndedBy:           row.EndedBy,
		EndedAt:           fromPtr(row.EndedAt),
		EndReason:         row.EndReason,
		ReviewedBy:        row.ReviewedBy,
		ReviewedAt:        fromPtr(row.ReviewedAt),
		ReviewRemindAt:    fromPtr(row.ReviewRemindAt),
		ResponseURL:       row.ResponseURL,
		Version:           row.Version,
	}
	if row.ExtSeq > 0 {
		r.Extension = &workflow.Extension{
			Seq:          row.ExtSeq,
			Duration:     time.Duration(row.ExtDuration) * time.Second,
			DurationText: row.ExtDurationText,
			State:        workflow.ExtensionState(row.ExtState),
			RequestedAt:  fromPtr(row.ExtRequestedAt),
			PendingUntil: fromPtr(row.ExtPendingUntil),
			RemindAt:     fromPtr(row.ExtRemindAt),
			DecidedBy:    row.ExtDecidedBy,
			DecidedAt:    fromPtr(row.ExtDecidedAt),
		}
	}
	return r
}

// grantState is the grant's own state: active until it ends.
func grantState(s workflow.State) string {
	switch s {
	case workflow.StateExpired, workflow.StateRevoked, workflow.StateFailed:
		return string(s)
	default:
		return string(workflow.StateActive)
	}
}

func toGrantRow(r *workflow.Request) grantRow {
	g := r.Grant
	var hash *string
	if g.HasToken() {
		h := g.TokenHash.String()
		hash = &h
	}
	return grantRow{
		RequestID:   r.ID,
		TokenHash:   hash,
		Scope:       r.Scope(),
		Resource:    r.Resource,
		Level:       r.Level,
		Subject:     r.Requester,
		Ticket:      r.Ticket,
		BreakGlass:  r.BreakGlass,
		State:       grantState(r.State),
		IssuedAt:    g.IssuedAt.UTC(),
		ExpiresAt:   g.ExpiresAt.UTC(),
		DeliveredAt: timePtr(g.DeliveredAt),
		WarnAt:      timePtr(g.WarnAt),
		DeliverBy:   timePtr(g.DeliverBy),
		Version:     r.Version,
	}
}

func fromGrantRow(row *grantRow) *workflow.Grant {
	g := &workflow.Grant{
		IssuedAt:    row.IssuedAt.UTC(),
		ExpiresAt:   row.ExpiresAt.UTC(),
		DeliveredAt: fromPtr(row.DeliveredAt),
		WarnAt:      fromPtr(row.WarnAt),
		DeliverBy:   fromPtr(row.DeliverBy),
	}
	if row.TokenHash != nil {
		if h, err := tokens.ParseHash(*row.TokenHash); err == nil {
			g.TokenHash = h
		}
	}
	return g
}

func toAuditEvent(e *workflow.Event) audit.Event {
	return audit.Event{
		Seq: e.Seq, Time: e.At.UTC().Truncate(time.Microsecond), RequestID: e.RequestID, Type: e.Action, Actor: e.Actor,
		Resource: e.Resource, Level: e.Level, Ticket: e.Ticket, Detail: truncateText(e.Detail, 4000), PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

func fromAuditEvent(e *audit.Event) eventRow {
	return eventRow{
		Seq: e.Seq, At: e.Time.UTC(), RequestID: e.RequestID, Action: e.Type, Actor: e.Actor,
		Resource: e.Resource, Level: e.Level, Ticket: e.Ticket, Detail: e.Detail, PrevHash: e.PrevHash, Hash: e.Hash,
	}
}

func (row *eventRow) audit() audit.Event {
	return audit.Event{
		Seq: row.Seq, Time: row.At.UTC(), RequestID: row.RequestID, Type: row.Action, Actor: row.Actor,
		Resource: row.Resource, Level: row.Level, Ticket: row.Ticket, Detail: row.Detail, PrevHash: row.PrevHash, Hash: row.Hash,
	}
}

func fromEventRow(row *eventRow) workflow.Event {
	return workflow.Event{
		Seq: row.Seq, RequestID: row.RequestID, Actor: row.Actor, Action: row.Action, Detail: row.Detail, At: row.At.UTC(),
		Resource: row.Resource, Level: row.Level, Ticket: row.Ticket, PrevHash: row.PrevHash, Hash: row.Hash,
	}
}

// truncateText cuts s to at most n bytes on a rune boundary.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// clone copies a request deeply enough that changing the copy leaves the
// original as it was.
func clone(r workflow.Request) workflow.Request {
	r.Approvals = slices.Clone(r.Approvals)
	r.Messages = slices.Clone(r.Messages)
	if r.Grant != nil {
		g := *r.Grant
		r.Grant = &g
	}
	if r.Extension != nil {
		e := *r.Extension
		e.Approvals = slices.Clone(e.Approvals)
		r.Extension = &e
	}
	return r
}
