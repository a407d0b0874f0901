package storage

import (
	"context"
	"fmt"
	"time"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/workflow"
	"gorm.io/gorm"
)

// AppendEvents adds audit events that belong to no state change.
func (s *Store) AppendEvents(ctx context.Context, events []workflow.Event) error {
	if len(events) == 0 {
		return nil
	}
	evs := make([]audit.Event, len(events))
	for i := range events {
		evs[i] = toAuditEvent(&events[i])
	}
	if err := s.writeTx(ctx, func(tx *gorm.DB) error { return s.appendChain(tx, evs) }); err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	return nil
}

// Events returns a request's audit events in order.
func (s *Store) Events(ctx context.Context, requestID string) ([]workflow.Event, error) {
	var rows []eventRow
	if err := s.db.WithContext(ctx).Where("request_id = ?", requestID).Order("seq").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("audit events of %s: %w", requestID, err)
	}
	out := make([]workflow.Event, len(rows))
	for i := range rows {
		out[i] = fromEventRow(&rows[i])
	}
	return out, nil
}

// AuditTip returns the chain's tip: the last event's seq and hash.
func (s *Store) AuditTip(ctx context.Context) (seq int64, hash string, err error) {
	var tip tipRow
	if err := s.db.WithContext(ctx).Where("id = 1").Take(&tip).Error; err != nil {
		return 0, "", fmt.Errorf("read the audit chain's tip: %w", err)
	}
	return tip.Seq, tip.Hash, nil
}

// AuditFilter selects audit events for export. Zero fields match all.
type AuditFilter struct {
	Since, Until time.Time // Since inclusive, Until exclusive
	Ticket       string
	Resource     string
	RequestID    string
	Actor        string
	AfterSeq     int64 // only events after this one
}

// auditPage is how many events one query reads while streaming.
const auditPage = 2000

// ScanAudit calls fn with every event matching f, in chain order, reading
// the log a page at a time so it never holds more than a page in memory.
// fn's error stops the scan and is returned.
func (s *Store) ScanAudit(ctx context.Context, f AuditFilter, fn func(e *audit.Event) error) error {
	after := f.AfterSeq
	for {
		q := s.db.WithContext(ctx).Where("seq > ?", after)
		if !f.Since.IsZero() {
			q = q.Where("at >= ?", f.Since.UTC())
		}
		if !f.Until.IsZero() {
			q = q.Where("at < ?", f.Until.UTC())
		}
		if f.Ticket != "" {
			q = q.Where("ticket = ?", f.Ticket)
		}
		if f.Resource != "" {
			q = q.Where("resource = ?", f.Resource)
		}
		if f.RequestID != "" {
			q = q.Where("request_id = ?", f.RequestID)
		}
		if f.Actor != "" {
			q = q.Where("actor = ?", f.Actor)
		}
		var rows []eventRow
		if err := q.Order("seq").Limit(auditPage).Find(&rows).Error; err != nil {
			return fmt.Errorf("read audit events after %d: %w", after, err)
		}
		for i := range rows {
			e := rows[i].audit()
			if err := fn(&e); err != nil {
				return err
			}
		}
		if len(rows) < auditPage {
			return nil
		}
		after = rows[len(rows)-1].Seq
	}
}

// VerifyAudit walks the whole chain and checks it against the stored tip.
// It returns how many events it checked, the last one, and an
// *audit.Fault naming the first event that does not fit, if any.
func (s *Store) VerifyAudit(ctx context.Context) (int64, audit.Event, error) {
	v := audit.NewVerifier()
	if err := s.ScanAudit(ctx, AuditFilter{}, v.Add); err != nil {
		return v.Count(), v.Last(), err
	}
	seq, hash, err := s.AuditTip(ctx)
	if err != nil {
		return v.Count(), v.Last(), err
	}
	return v.Count(), v.Last(), v.Finish(seq, hash)
}
