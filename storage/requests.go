package storage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gatepass/gatepass/audit"
	"github.com/gatepass/gatepass/workflow"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Create stores a new request with its events and notices.
func (s *Store) Create(ctx context.Context, r workflow.Request, c workflow.Change) error {
	r.Version = 1
	row := toRequestRow(&r)
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		if err := tx.Omit(clause.Associations).Create(&row).Error; err != nil {
			return err
		}
		if err := writeApprovals(tx, r.ID, nil, r.Approvals); err != nil {
			return err
		}
		if r.Grant != nil {
			g := toGrantRow(&r)
			if err := tx.Create(&g).Error; err != nil {
				return err
			}
		}
		ch := []pendingChange{{r: &r, c: c}}
		if err := s.queue(tx, ch); err != nil {
			return err
		}
		return s.chain(tx, ch)
	})
	if err != nil {
		return fmt.Errorf("create request %s: %w", r.ID, err)
	}
	s.index.applyRequest(&r)
	return nil
}

// Get returns a request with its approvals, grant and messages.
func (s *Store) Get(ctx context.Context, id string) (workflow.Request, error) {
	r, err := s.load(s.db.WithContext(ctx), id, false)
	if err != nil {
		return workflow.Request{}, fmt.Errorf("get request %s: %w", id, err)
	}
	return r, nil
}

func (s *Store) load(tx *gorm.DB, id string, lock bool) (workflow.Request, error) {
	var row requestRow
	q := tx
	if lock && s.postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("id = ?", id).Take(&row).Error; err != nil {
		return workflow.Request{}, notFound(err)
	}
	rs, err := hydrate(tx, []requestRow{row})
	if err != nil {
		return workflow.Request{}, err
	}
	return rs[0], nil
}

// hydrate loads the approvals, grants, extension approvals and messages of
// rows in four queries.
func hydrate(tx *gorm.DB, rows []requestRow) ([]workflow.Request, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	ids := make([]string, len(rows))
	for i := range rows {
		ids[i] = rows[i].ID
	}
	out := make([]workflow.Request, len(rows))
	at := make(map[string]*workflow.Request, len(rows))
	for i := range rows {
		out[i] = fromRequestRow(&rows[i])
		at[rows[i].ID] = &out[i]
	}
	for part := range slices.Chunk(ids, maxInParams) {
		var approvals []approvalRow
		if err := tx.Where("request_id IN ?", part).Order("request_id, seq").Find(&approvals).Error; err != nil {
			return nil, fmt.Errorf("load approvals: %w", err)
		}
		var grants []grantRow
		if err := tx.Where("request_id IN ?", part).Find(&grants).Error; err != nil {
			return nil, fmt.Errorf("load grants: %w", err)
		}
		var msgs []messageRow
		if err := tx.Where("request_id IN ?", part).Order("id").Find(&msgs).Error; err != nil {
			return nil, fmt.Errorf("load messages: %w", err)
		}
		var ext []extApproval
		if err := tx.Where("request_id IN ?", part).Order("request_id, ext_seq, seq").Find(&ext).Error; err != nil {
			return nil, fmt.Errorf("load extension approvals: %w", err)
		}
		for _, a := range approvals {
			r := at[a.RequestID]
			r.Approvals = append(r.Approvals, workflow.Approval{Approver: a.Approver, At: a.At.UTC()})
		}
		for i := range grants {
			at[grants[i].RequestID].Grant = fromGrantRow(&grants[i])
		}
		for _, m := range msgs {
			r := at[m.RequestID]
			r.Messages = append(r.Messages, workflow.MessageRef{Purpose: m.Purpose, Channel: m.Channel, TS: m.TS})
		}
		for _, a := range ext {
			r := at[a.RequestID]
			if r.Extension != nil && r.Extension.Seq == a.ExtSeq {
				r.Extension.Approvals = append(r.Extension.Approvals, workflow.Approval{Approver: a.Approver, At: a.At.UTC()})
			}
		}
	}
	return out, nil
}

// maxUpdateAttempts bounds retries of an update that lost a version race.
const maxUpdateAttempts = 5

// Update reads a request under a write lock, applies fn, and writes it back
// with fn's events and notices, in one transaction. The grant index learns
// of the change before Update returns, so a revocation is final for this
// process's introspection the moment it is answered.
func (s *Store) Update(ctx context.Context, id string, fn func(r *workflow.Request) (workflow.Change, error)) (workflow.Request, error) {
	var err error
	for range maxUpdateAttempts {
		var before, after workflow.Request
		refused := false
		err = s.writeTx(ctx, func(tx *gorm.DB) error {
			cur, err := s.load(tx, id, true)
			if err != nil {
				return err
			}
			before = cur
			after = clone(cur)
			change, err := fn(&after)
			if err != nil {
				refused = true
				return err
			}
			if err := s.save(tx, &before, &after); err != nil {
				return err
			}
			ch := []pendingChange{{r: &after, c: change}}
			if err := s.queue(tx, ch); err != nil {
				return err
			}
			return s.chain(tx, ch)
		})
		if errors.Is(err, workflow.ErrConflict) {
			continue
		}
		if err != nil {
			if refused {
				return before, err // fn refused: report the request as it is
			}
			return before, fmt.Errorf("update request %s: %w", id, err)
		}
		s.index.applyRequest(&after)
		return after, nil
	}
	return workflow.Request{}, fmt.Errorf("update request %s: %w", id, err)
}

// UpdateMany applies fn to each request in one transaction. On PostgreSQL
// rows another transaction holds are skipped (SKIP LOCKED), so processes
// sweeping together share the work instead of queueing behind each other.
func (s *Store) UpdateMany(ctx context.Context, ids []string, fn func(r *workflow.Request) (workflow.Change, error)) ([]workflow.Request, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var out []workflow.Request
	var err error
	for range maxUpdateAttempts {
		out = out[:0]
		err = s.writeTx(ctx, func(tx *gorm.DB) error {
			var rows []requestRow
			q := tx.Where("id IN ?", ids).Order("id")
			if s.postgres {
				q = q.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
			}
			if err := q.Find(&rows).Error; err != nil {
				return err
			}
			reqs, err := hydrate(tx, rows)
			if err != nil {
				return err
			}
			out = make([]workflow.Request, 0, len(reqs)) // changes point into it
			var changes []pendingChange
			for i := range reqs {
				before := reqs[i]
				after := clone(before)
				c, err := fn(&after)
				if errors.Is(err, workflow.ErrSkip) {
					continue
				}
				if err != nil {
					return fmt.Errorf("update request %s: %w", before.ID, err)
				}
				if err := s.save(tx, &before, &after); err != nil {
					return err
				}
				out = append(out, after)
				changes = append(changes, pendingChange{r: &out[len(out)-1], c: c})
			}
			if err := s.queue(tx, changes); err != nil {
				return err
			}
			return s.chain(tx, changes)
		})
		if errors.Is(err, workflow.ErrConflict) {
			continue
		}
		break
	}
	if err != nil {
		return nil, fmt.Errorf("update %d requests: %w", len(ids), err)
	}
	for i := range out {
		s.index.applyRequest(&out[i])
	}
	return out, nil
}

// save writes the difference between before and after, with a version
// check.
func (s *Store) save(tx *gorm.DB, before, after *workflow.Request) error {
	if after.ID != before.ID {
		return fmt.Errorf("update request %s: the ID may not change", before.ID)
	}
	after.Version = before.Version + 1
	row := toRequestRow(after)
	res := tx.Model(&requestRow{}).Where("id = ? AND version = ?", before.ID, before.Version).
		Select("state", "pending_until", "remind_at", "decided_by", "decided_at", "ended_by", "ended_at", "end_reason",
			"reviewed_by", "reviewed_at", "review_remind_at", "ext_seq", "ext_duration", "ext_duration_text", "ext_state",
			"ext_requested_at", "ext_pending_until", "ext_remind_at", "ext_decided_by", "ext_decided_at", "response_url",
			"due_at", "version").
		Updates(&row)
	if res.Error != nil {
		return fmt.Errorf("update request %s: %w", before.ID, res.Error)
	}
	if res.RowsAffected != 1 {
		return workflow.ErrConflict
	}
	if err := writeApprovals(tx, after.ID, before.Approvals, after.Approvals); err != nil {
		return err
	}
	if err := writeExtApprovals(tx, before, after); err != nil {
		return err
	}
	switch {
	case before.Grant == nil && after.Grant != nil:
		g := toGrantRow(after)
		if err := tx.Create(&g).Error; err != nil {
			return fmt.Errorf("create grant %s: %w", after.ID, err)
		}
	case after.Grant != nil:
		g := toGrantRow(after)
		err := tx.Model(&grantRow{}).Where("request_id = ?", after.ID).
			Select("token_hash", "state", "issued_at", "expires_at", "delivered_at", "warn_at", "deliver_by", "version").Updates(&g).Error
		if err != nil {
			return fmt.Errorf("update grant %s: %w", after.ID, err)
		}
	case before.Grant != nil:
		return fmt.Errorf("update request %s: a grant may not be removed", after.ID)
	}
	return nil
}

func writeApprovals(tx *gorm.DB, id string, before, after []workflow.Approval) error {
	if len(after) < len(before) {
		return fmt.Errorf("update request %s: approvals may not be removed", id)
	}
	var rows []approvalRow
	for i := len(before); i < len(after); i++ {
		rows = append(rows, approvalRow{RequestID: id, Approver: after[i].Approver, Seq: i + 1, At: after[i].At.UTC()})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.Create(&rows).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return workflow.ErrConflict
		}
		return fmt.Errorf("record approval of %s: %w", id, err)
	}
	return nil
}

func writeExtApprovals(tx *gorm.DB, before, after *workflow.Request) error {
	if after.Extension == nil {
		return nil
	}
	var have []workflow.Approval
	if before.Extension != nil && before.Extension.Seq == after.Extension.Seq {
		have = before.Extension.Approvals
	}
	var rows []extApproval
	for i := len(have); i < len(after.Extension.Approvals); i++ {
		a := after.Extension.Approvals[i]
		rows = append(rows, extApproval{RequestID: after.ID, ExtSeq: after.Extension.Seq, Approver: a.Approver, Seq: i + 1, At: a.At.UTC()})
	}
	if len(rows) == 0 {
		return nil
	}
	if err := tx.Create(&rows).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return workflow.ErrConflict
		}
		return fmt.Errorf("record extension approval of %s: %w", after.ID, err)
	}
	return nil
}

// pendingChange is a request and what its change adds, on its way into the
// database.
type pendingChange struct {
	r *workflow.Request
	c workflow.Change
}

// chain appends the changes' events to the audit chain. It locks the
// chain's tip, so it runs last in the transaction: the lock is held only
// for the end of it.
func (s *Store) chain(tx *gorm.DB, changes []pendingChange) error {
	var evs []audit.Event
	for _, pc := range changes {
		for i := range pc.c.Events {
			e := pc.c.Events[i]
			if e.RequestID == "" {
				e.RequestID = pc.r.ID
			}
			if e.Resource == "" && e.Level == "" && e.Ticket == "" {
				e.Resource, e.Level, e.Ticket = pc.r.Resource, pc.r.Level, pc.r.Ticket
			}
			evs = append(evs, toAuditEvent(&e))
		}
	}
	return s.appendChain(tx, evs)
}

// appendChain seals events onto the chain's tip and stores them.
func (s *Store) appendChain(tx *gorm.DB, evs []audit.Event) error {
	if len(evs) == 0 {
		return nil
	}
	var tip tipRow
	q := tx
	if s.postgres {
		q = q.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	if err := q.Where("id = 1").Take(&tip).Error; err != nil {
		return fmt.Errorf("read the audit chain's tip: %w", err)
	}
	rows := make([]eventRow, len(evs))
	for i := range evs {
		tip.Hash = audit.Seal(&evs[i], tip.Seq, tip.Hash)
		tip.Seq = evs[i].Seq
		rows[i] = fromAuditEvent(&evs[i])
	}
	if err := tx.CreateInBatches(rows, 200).Error; err != nil {
		return fmt.Errorf("append audit events: %w", err)
	}
	if err := tx.Exec("UPDATE audit_tip SET seq = ?, hash = ? WHERE id = 1", tip.Seq, tip.Hash).Error; err != nil {
		return fmt.Errorf("move the audit chain's tip: %w", err)
	}
	if s.postgres {
		// Delivered to listeners when the transaction commits.
		if err := tx.Exec("SELECT pg_notify(?, '')", s.feed.channel).Error; err != nil {
			return fmt.Errorf("notify other processes: %w", err)
		}
	}
	return nil
}

// dueNow is the attempt time of a new notice: due at once, whatever the
// clock says.
var dueNow = time.Unix(0, 0).UTC()

// queue writes the changes' notices: announcements to their own queue,
// the rest to their request's lanes, each lane's first notice marked as
// its head when the lane was empty.
func (s *Store) queue(tx *gorm.DB, changes []pendingChange) error {
	var ids []string
	for _, pc := range changes {
		if len(pc.c.Notices) > 0 {
			ids = append(ids, pc.r.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	busy := map[[2]string]bool{} // lanes that already hold notices
	for part := range slices.Chunk(ids, maxInParams) {
		var lanes []struct {
			RequestID string
			Lane      string
		}
		if err := tx.Raw("SELECT DISTINCT request_id, lane FROM notices WHERE request_id IN ?", part).Scan(&lanes).Error; err != nil {
			return fmt.Errorf("find busy notice lanes: %w", err)
		}
		for _, l := range lanes {
			busy[[2]string{l.RequestID, l.Lane}] = true
		}
	}
	now := time.Now().UTC()
	var notices []noticeRow
	var anns []announcementRow
	for _, pc := range changes {
		for _, k := range pc.c.Notices {
			lane := k.Lane()
			if lane == workflow.LaneAnnounce {
				anns = append(anns, announcementRow{RequestID: pc.r.ID, Kind: string(k), Priority: announcePriority(k), NextAttemptAt: dueNow, CreatedAt: now})
				continue
			}
			key := [2]string{pc.r.ID, lane}
			notices = append(notices, noticeRow{
				RequestID: pc.r.ID, Lane: lane, Kind: string(k), Priority: k.Priority(), Ready: !busy[key],
				NextAttemptAt: dueNow, Detail: truncateText(pc.c.Detail, 2000), CreatedAt: now,
			})
			busy[key] = true
		}
	}
	if len(notices) > 0 {
		if err := tx.CreateInBatches(notices, 200).Error; err != nil {
			return fmt.Errorf("queue notices: %w", err)
		}
	}
	if len(anns) > 0 {
		if err := tx.CreateInBatches(anns, 200).Error; err != nil {
			return fmt.Errorf("queue announcements: %w", err)
		}
	}
	return nil
}

// announcePriority puts revocations ahead of expiries in the announcer's
// queue.
func announcePriority(k workflow.NoticeKind) int {
	if k == workflow.NoticeAnnounceRevoked {
		return 0
	}
	return 1
}

// Find returns requests matching q, newest first.
func (s *Store) Find(ctx context.Context, q workflow.Query) ([]workflow.Request, error) {
	db := s.db.WithContext(ctx)
	tx := db.Model(&requestRow{})
	if len(q.IDs) > 0 {
		tx = tx.Where("id IN ?", q.IDs)
	}
	if q.Requester != "" {
		tx = tx.Where("requester = ?", q.Requester)
	}
	if q.Resource != "" {
		tx = tx.Where("resource = ?", q.Resource)
	}
	if q.Ticket != "" {
		tx = tx.Where("ticket = ?", q.Ticket)
	}
	if len(q.States) > 0 {
		states := make([]string, len(q.States))
		for i, st := range q.States {
			states[i] = string(st)
		}
		tx = tx.Where("state IN ?", states)
	}
	if q.BreakGlassUnreviewed {
		tx = tx.Where("break_glass = ? AND reviewed_by = ''", true)
	}
	if !q.Before.IsZero() {
		tx = tx.Where("created_at < ?", q.Before.UTC())
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 100
	}
	var rows []requestRow
	if err := tx.Order("created_at DESC, id DESC").Limit(limit).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("find requests: %w", err)
	}
	return hydrate(db, rows)
}

// DueRequests returns IDs of requests with something due at or before now.
func (s *Store) DueRequests(ctx context.Context, now time.Time, limit int) ([]string, error) {
	var ids []string
	err := s.db.WithContext(ctx).Model(&requestRow{}).
		Where("due_at <= ?", now.UTC()).Order("due_at").Limit(limit).Pluck("id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("find due requests: %w", err)
	}
	return ids, nil
}

// AddMessages records chat messages that show a request. A message already
// recorded for the same purpose and channel is kept as it was.
func (s *Store) AddMessages(ctx context.Context, requestID string, refs []workflow.MessageRef) error {
	if len(refs) == 0 {
		return nil
	}
	rows := make([]messageRow, len(refs))
	for i, m := range refs {
		rows[i] = messageRow{RequestID: requestID, Purpose: m.Purpose, Channel: m.Channel, TS: m.TS}
	}
	err := s.writeTx(ctx, func(tx *gorm.DB) error {
		return tx.Clauses(clause.OnConflict{DoNothing: true}).Create(&rows).Error
	})
	if err != nil {
		return fmt.Errorf("record messages of %s: %w", requestID, err)
	}
	return nil
}
