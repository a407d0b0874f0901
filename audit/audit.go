// Package audit defines gatepass's tamper-evident audit log: the canonical
// encoding of an event, the hash chain that links each event to the one
// before it, a streaming verifier, and the JSON Lines export format.
//
// # The chain
//
// Events are numbered from 1 without gaps (seq). Each event stores the hash
// of the event before it (prev_hash; Genesis for the first) and its own
// hash:
//
//	hash = hex(SHA-256(canonical(event)))
//
// where canonical(event) is the concatenation of these fields, each written
// as a netstring (the decimal length of its UTF-8 bytes, ':', the bytes,
// ','), in this order:
//
//	"gatepass.audit.v1", seq (decimal), time (RFC 3339, UTC, exactly six
//	fractional digits, "Z"), request_id, type, actor, resource, level,
//	ticket, detail, prev_hash
//
// Editing any field of an event changes its hash, which no longer matches
// the next event's prev_hash; deleting, inserting or swapping events breaks
// the sequence or the links. Only a rewrite of the whole tail from the
// changed event on, with the stored tip, goes unseen by the chain alone;
// keep the tip that `gatepass audit verify` prints (or an export) elsewhere
// to rule that out too.
//
// # Pruning
//
// A retention policy may delete the oldest events. Before it does, it
// appends an event of type Pruned whose detail names the last pruned event
// ("through <seq> <hash>"), so the chain that remains starts at seq+1 with
// that prev_hash, vouched for by an event inside the chain.
//
// The package depends on the standard library only.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Genesis is the prev_hash of the first event.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Version names the canonical encoding.
const Version = "gatepass.audit.v1"

// Pruned is the type of the event that records a retention prune.
const Pruned = "audit.pruned"

// TimeLayout is how times are written in the canonical encoding and the
// export: RFC 3339 in UTC with microseconds.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

// Event is one audit event as the chain sees it.
type Event struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id"`
	Type      string    `json:"type"`
	Actor     string    `json:"actor"`
	Resource  string    `json:"resource"`
	Level     string    `json:"level"`
	Ticket    string    `json:"ticket"`
	Detail    string    `json:"detail"`
	PrevHash  string    `json:"prev_hash"`
	Hash      string    `json:"hash"`
}

// MarshalJSON writes an event as `gatepass audit export` does: the fields
// under their JSON names, the time as in the canonical encoding.
func (e Event) MarshalJSON() ([]byte, error) {
	type plain Event // without this method
	return json.Marshal(struct {
		plain
		Time string `json:"time"`
	}{plain(e), FormatTime(e.Time)})
}

// FormatTime writes t as the canonical encoding does.
func FormatTime(t time.Time) string {
	return t.UTC().Truncate(time.Microsecond).Format(TimeLayout)
}

// Canonical returns the bytes an event's hash is computed over. Hash is not
// part of it.
func Canonical(e *Event) []byte {
	var b []byte
	for _, f := range [...]string{
		Version, strconv.FormatInt(e.Seq, 10), FormatTime(e.Time), e.RequestID, e.Type, e.Actor,
		e.Resource, e.Level, e.Ticket, e.Detail, e.PrevHash,
	} {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, ',')
	}
	return b
}

// HashOf returns the hash an event should carry.
func HashOf(e *Event) string {
	sum := sha256.Sum256(Canonical(e))
	return hex.EncodeToString(sum[:])
}

// Seal sets e's Seq, PrevHash and Hash to follow an event with seq prevSeq
// and hash prevHash (0 and Genesis for the first), and returns e's hash.
func Seal(e *Event, prevSeq int64, prevHash string) string {
	e.Seq = prevSeq + 1
	e.PrevHash = prevHash
	e.Hash = HashOf(e)
	return e.Hash
}

// PrunedDetail is the detail of a Pruned event that vouches for events
// through seq, the last of which had hash.
func PrunedDetail(seq int64, hash string, before time.Time) string {
	return fmt.Sprintf("through %d %s; events before %s", seq, hash, FormatTime(before))
}

// ParsePrunedDetail reads what PrunedDetail wrote.
func ParsePrunedDetail(detail string) (seq int64, hash string, ok bool) {
	rest, found := strings.CutPrefix(detail, "through ")
	if !found {
		return 0, "", false
	}
	f := strings.Fields(rest)
	if len(f) < 2 {
		return 0, "", false
	}
	seq, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return 0, "", false
	}
	return seq, strings.TrimSuffix(f[1], ";"), true
}
