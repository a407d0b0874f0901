package storage

import "time"

// The tables. Times are stored in UTC. A request has at most one grant;
// approvals, chat messages, audit events and queued notices hang off it.

type requestRow struct {
	ID                string        `gorm:"primaryKey;size:36"`
	Requester         string        `gorm:"size:32;not null;index:idx_requests_requester,priority:1"`
	Resource          string        `gorm:"size:64;not null"`
	Level             string        `gorm:"size:64;not null"`
	DurationSeconds   int64         `gorm:"not null"`
	DurationText      string        `gorm:"size:32;not null;default:''"`
	Ticket            string        `gorm:"size:400;not null"`
	Reason            string        `gorm:"size:4000;not null"`
	BreakGlass        bool          `gorm:"not null"`
	ApprovalsRequired int           `gorm:"not null"`
	State             string        `gorm:"size:16;not null;index:idx_requests_requester,priority:2;index:idx_requests_pending,priority:1"`
	CreatedAt         time.Time     `gorm:"not null;autoCreateTime:false"`
	PendingUntil      time.Time     `gorm:"not null;index:idx_requests_pending,priority:2"`
	DecidedBy         string        `gorm:"size:32;not null"`
	DecidedAt         *time.Time    ``
	EndedBy           string        `gorm:"size:32;not null"`
	EndedAt           *time.Time    ``
	ReviewedBy        string        `gorm:"size:32;not null"`
	ReviewedAt        *time.Time    ``
	Version           int           `gorm:"not null"`
	Approvals         []approvalRow `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
	Grant             *grantRow     `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
	Messages          []messageRow  `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
	Events            []eventRow    `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
	Notices           []noticeRow   `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
}

func (requestRow) TableName() string { return "requests" }

// approvalRow is one approver's decision; the primary key makes the same
// approver count once.
type approvalRow struct {
	RequestID string    `gorm:"primaryKey;size:36"`
	Approver  string    `gorm:"primaryKey;size:32"`
	Seq       int       `gorm:"not null"`
	At        time.Time `gorm:"not null"`
}

func (approvalRow) TableName() string { return "approvals" }

// grantRow is issued access. Only the SHA-256 of the token is kept.
type grantRow struct {
	RequestID   string     `gorm:"primaryKey;size:36"`
	TokenHash   *string    `gorm:"size:64;uniqueIndex:idx_grants_token_hash"`
	Scope       string     `gorm:"size:129;not null"`
	Resource    string     `gorm:"size:64;not null"`
	Level       string     `gorm:"size:64;not null"`
	Subject     string     `gorm:"size:32;not null"`
	Ticket      string     `gorm:"size:400;not null"`
	BreakGlass  bool       `gorm:"not null"`
	State       string     `gorm:"size:16;not null;index:idx_grants_due,priority:1"`
	IssuedAt    time.Time  `gorm:"not null"`
	ExpiresAt   time.Time  `gorm:"not null;index:idx_grants_due,priority:2"`
	DeliveredAt *time.Time ``
}

func (grantRow) TableName() string { return "grants" }

// messageRow locates a chat message showing a request.
type messageRow struct {
	ID        int64  `gorm:"primaryKey;autoIncrement"`
	RequestID string `gorm:"size:36;not null;uniqueIndex:idx_chat_messages_ref,priority:1"`
	Purpose   string `gorm:"size:16;not null;uniqueIndex:idx_chat_messages_ref,priority:2"`
	Channel   string `gorm:"size:64;not null;uniqueIndex:idx_chat_messages_ref,priority:3"`
	TS        string `gorm:"column:ts;size:32;not null"`
}

func (messageRow) TableName() string { return "chat_messages" }

// eventRow is one line of the append-only audit log.
type eventRow struct {
	ID        int64     `gorm:"primaryKey;autoIncrement"`
	RequestID string    `gorm:"size:36;not null;index:idx_audit_events_request"`
	Actor     string    `gorm:"size:32;not null"`
	Action    string    `gorm:"size:64;not null"`
	Detail    string    `gorm:"size:4000;not null"`
	At        time.Time `gorm:"not null;index:idx_audit_events_at"`
}

func (eventRow) TableName() string { return "audit_events" }

// noticeRow is a queued notice (the outbox). It is deleted once delivered
// or abandoned.
type noticeRow struct {
	ID            int64      `gorm:"primaryKey;autoIncrement;index:idx_notices_request,priority:3"`
	RequestID     string     `gorm:"size:36;not null;index:idx_notices_request,priority:1"`
	Lane          string     `gorm:"size:16;not null;default:'channel';index:idx_notices_request,priority:2"`
	Kind          string     `gorm:"size:32;not null"`
	Attempts      int        `gorm:"not null"`
	NextAttemptAt time.Time  `gorm:"not null;index:idx_notices_due"`
	LeaseUntil    *time.Time ``
	LastError     string     `gorm:"size:2000;not null"`
	CreatedAt     time.Time  `gorm:"not null;autoCreateTime:false"`
}

func (noticeRow) TableName() string { return "notices" }
