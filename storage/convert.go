package storage

import (
	"slices"
	"time"

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
	return requestRow{
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
		DecidedBy:         r.DecidedBy,
		DecidedAt:         timePtr(r.DecidedAt),
		EndedBy:           r.EndedBy,
		EndedAt:           timePtr(r.EndedAt),
		ReviewedBy:        r.ReviewedBy,
		ReviewedAt:        timePtr(r.ReviewedAt),
		Version:           r.Version,
	}
}

func fromRequestRow(row *requestRow) workflow.Request {
	return workflow.Request{
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
		DecidedBy:         row.DecidedBy,
		DecidedAt:         fromPtr(row.DecidedAt),
		EndedBy:           row.EndedBy,
		EndedAt:           fromPtr(row.EndedAt),
		ReviewedBy:        row.ReviewedBy,
		ReviewedAt:        fromPtr(row.ReviewedAt),
		Version:           row.Version,
	}
}

// grantState is the grant's own state: active until it expires or is
// revoked.
func grantState(s workflow.State) string {
	switch s {
	case workflow.StateExpired, workflow.StateRevoked:
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
	}
}

func fromGrantRow(row *grantRow) *workflow.Grant {
	g := &workflow.Grant{
		IssuedAt:    row.IssuedAt.UTC(),
		ExpiresAt:   row.ExpiresAt.UTC(),
		DeliveredAt: fromPtr(row.DeliveredAt),
	}
	if row.TokenHash != nil {
		if h, err := tokens.ParseHash(*row.TokenHash); err == nil {
			g.TokenHash = h
		}
	}
	return g
}

func grantInfo(row *grantRow) workflow.GrantInfo {
	return workflow.GrantInfo{
		RequestID:  row.RequestID,
		Requester:  row.Subject,
		Resource:   row.Resource,
		Level:      row.Level,
		Ticket:     row.Ticket,
		BreakGlass: row.BreakGlass,
		State:      workflow.State(row.State),
		IssuedAt:   row.IssuedAt.UTC(),
		ExpiresAt:  row.ExpiresAt.UTC(),
	}
}

func toEventRow(e workflow.Event) eventRow {
	return eventRow{RequestID: e.RequestID, Actor: e.Actor, Action: e.Action, Detail: e.Detail, At: e.At.UTC()}
}

func fromEventRow(row *eventRow) workflow.Event {
	return workflow.Event{ID: row.ID, RequestID: row.RequestID, Actor: row.Actor, Action: row.Action, Detail: row.Detail, At: row.At.UTC()}
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
	return r
}
