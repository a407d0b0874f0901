package storage

import "time"

// The tables. Times are stored in UTC. A request has at most one grant;
// approvals, chat messages and queued notices hang off it. The audit log
// stands alone: it outlives the requests it describes.

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
	RemindAt          *time.Time    ``
	DecidedBy         string        `gorm:"size:32;not null"`
	DecidedAt         *time.Time    ``
	EndedBy           string        `gorm:"size:64;not null"`
	EndedAt           *time.Time    ``
	EndReason         string        `gorm:"size:1000;not null;default:''"`
	ReviewedBy        string        `gorm:"size:32;not null"`
	ReviewedAt        *time.Time    ``
	ReviewRemindAt    *time.Time    ``
	ExtSeq            int           `gorm:"not null;default:0"`
	ExtDuration       int64         `gorm:"not null;default:0"`
	ExtDurationText   string        `gorm:"size:32;not null;default:''"`
	ExtState          string        `gorm:"size:16;not null;default:''"`
	ExtRequestedAt    *time.Time    ``
	ExtPendingUntil   *time.Time    ``
	ExtRemindAt       *time.Time    ``
	ExtDecidedBy      string        `gorm:"size:32;not null;default:''"`
	ExtDecidedAt      *time.Time    ``
	ResponseURL       string        `gorm:"size:512;not null;default:''"`
	DueAt             *time.Time    `gorm:"index:idx_requests_due"`
	Version           int           `gorm:"not null"`
	Approvals         []approvalRow `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
	Grant             *grantRow     `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
	Messages          []messageRow  `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
	ExtApprovals      []extApproval `gorm:"foreignKey:RequestID;constraint:OnDelete:RESTRICT"`
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

// extApproval is one approver's yes to a grant's extension (ExtSeq).
type extApproval struct {
	RequestID string    `gorm:"primaryKey;size:36"`
	ExtSeq    int       `gorm:"primaryKey"`
	Approver  string    `gorm:"primaryKey;size:32"`
	Seq       int       `gorm:"not null"`
	At        time.Time `gorm:"not null"`
}

func (extApproval) TableName() string { return "extension_approvals" }

// grantRow is issued access. Only the SHA-256 of the token is kept.
// Version is the request's version when the row was last written, so
// processes that mirror grants in memory can tell newer from older.
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
	WarnAt      *time.Time ``
	DeliverBy   *time.Time ``
	Version     int        `gorm:"not null;default:0"`
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

// eventRow is one link of the audit chain (see package audit). Seq is
// assigned under the chain's tip lock, so it has no gaps and follows commit
// order: it doubles as the change feed other processes follow.
type eventRow struct {
	Seq       int64     `gorm:"primaryKey;autoIncrement:false"`
	At        time.Time `gorm:"not null;index:idx_audit_events_at"`
	RequestID string    `gorm:"size:36;not null;index:idx_audit_events_request"`
	Action    string    `gorm:"size:64;not null"`
	Actor     string    `gorm:"size:64;not null"`
	Resource  string    `gorm:"size:64;not null;default:''"`
	Level     string    `gorm:"size:64;not null;default:''"`
	Ticket    string    `gorm:"size:400;not null;default:'';index:idx_audit_events_ticket"`
	Detail    string    `gorm:"size:4000;not null"`
	PrevHash  string    `gorm:"size:64;not null"`
	Hash      string    `gorm:"size:64;not null"`
}

func (eventRow) TableName() string { return "audit_events" }

// tipRow is the head of the audit chain: the last event's seq and hash.
// Every transaction that appends events locks it, so the chain never forks.
// PrunedSeq is the last event a retention prune removed (0: none).
type tipRow struct {
	ID        int    `gorm:"primaryKey;autoIncrement:false"`
	Seq       int64  `gorm:"not null"`
	Hash      string `gorm:"size:64;not null"`
	PrunedSeq int64  `gorm:"not null;default:0"`
}

func (tipRow) TableName() string { return "audit_tip" }

// noticeRow is a queued notice (the outbox). Ready marks the head of its
// lane (request, lane): only heads are claimed, so claiming costs what it
// claims. It is deleted once delivered or abandoned.
type noticeRow struct {
	ID            int64      `gorm:"primaryKey;autoIncrement;index:idx_notices_request,priority:3"`
	RequestID     string     `gorm:"size:36;not null;index:idx_notices_request,priority:1"`
	Lane          string     `gorm:"size:16;not null;default:'channel';index:idx_notices_request,priority:2"`
	Kind          string     `gorm:"size:32;not null"`
	Priority      int        `gorm:"not null;default:0"`
	Ready         bool       `gorm:"not null;default:false"`
	Attempts      int        `gorm:"not null"`
	NextAttemptAt time.Time  `gorm:"not null"`
	LeaseUntil    *time.Time ``
	Worker        string     `gorm:"size:64;not null;default:''"`
	LastError     string     `gorm:"size:2000;not null"`
	Detail        string     `gorm:"size:2000;not null;default:''"`
	CreatedAt     time.Time  `gorm:"not null;autoCreateTime:false"`
}

func (noticeRow) TableName() string { return "notices" }

// announcementRow is a queued announce-channel notice, posted in batches.
type announcementRow struct {
	ID            int64      `gorm:"primaryKey;autoIncrement"`
	RequestID     string     `gorm:"size:36;not null"`
	Kind          string     `gorm:"size:32;not null"`
	Priority      int        `gorm:"not null"`
	Attempts      int        `gorm:"not null"`
	NextAttemptAt time.Time  `gorm:"not null"`
	LeaseUntil    *time.Time ``
	Worker        string     `gorm:"size:64;not null;default:''"`
	LastError     string     `gorm:"size:2000;not null;default:''"`
	CreatedAt     time.Time  `gorm:"not null;autoCreateTime:false"`
}

func (announcementRow) TableName() string { return "announcements" }

// channelGateRow paces posts to a channel across processes: the next
// announcement may be posted after NotBefore.
type channelGateRow struct {
	Channel   string    `gorm:"primaryKey;size:64"`
	NotBefore time.Time `gorm:"not null"`
}

func (channelGateRow) TableName() string { return "channel_gates" }

// replayRow remembers a Slack request gatepass accepted, and its answer.
type replayRow struct {
	Key       string    `gorm:"primaryKey;size:128"`
	CreatedAt time.Time `gorm:"not null;autoCreateTime:false"`
	ExpiresAt time.Time `gorm:"not null;index:idx_replays_expires"`
	Reply     []byte    ``
}

func (replayRow) TableName() string { return "replays" }

// useRow counts one client's use of one grant.
type useRow struct {
	RequestID string    `gorm:"primaryKey;size:36"`
	Client    string    `gorm:"primaryKey;size:64"`
	Count     int64     `gorm:"not null"`
	FirstAt   time.Time `gorm:"not null"`
	LastAt    time.Time `gorm:"not null"`
}

func (useRow) TableName() string { return "grant_uses" }

// metaRow holds facts about the database itself, such as its schema
// version.
type metaRow struct {
	Key   string `gorm:"primaryKey;size:64"`
	Value string `gorm:"size:256;not null"`
}

func (metaRow) TableName() string { return "gatepass_meta" }
