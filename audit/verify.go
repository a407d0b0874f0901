package audit

import (
	"fmt"
)

// Fault says where and how the chain is broken.
type Fault struct {
	Seq    int64 // the first event that does not fit (or the position where one is missing)
	Reason string
}

func (f *Fault) Error() string { return fmt.Sprintf("audit event %d: %s", f.Seq, f.Reason) }

// Verifier checks a chain event by event, oldest first, holding only the
// last event in memory, so logs of any length can be checked as they are
// read.
type Verifier struct {
	n        int64 // events seen
	last     Event
	vouched  map[int64]string // seq → hash, from Pruned events seen so far
	startSeq int64
	start    string // prev_hash the first event must carry
	fault    *Fault
}

// NewVerifier returns a Verifier for a chain that starts at seq 1, or
// later if a prune event inside the chain vouches for the start.
func NewVerifier() *Verifier { return &Verifier{vouched: map[int64]string{}} }

// Add checks the next event. It returns the first fault found; once a
// fault is found, every later call returns it.
func (v *Verifier) Add(e *Event) error {
	if v.fault != nil {
		return v.fault
	}
	fail := func(seq int64, format string, args ...any) error {
		v.fault = &Fault{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return v.fault
	}
	if got := HashOf(e); got != e.Hash {
		return fail(e.Seq, "its content does not match its hash (the event was edited)")
	}
	if v.n == 0 {
		if e.Seq != 1 || e.PrevHash != Genesis {
			// A chain that starts later must have been pruned; the prune
			// event inside the chain vouches for where it starts. Remember
			// the start and check it when the vouching event arrives.
			if e.Seq < 1 {
				return fail(e.Seq, "sequence numbers start at 1")
			}
			v.startSeq, v.start = e.Seq, e.PrevHash
		}
	} else {
		switch {
		case e.Seq == v.last.Seq:
			return fail(e.Seq, "appears twice")
		case e.Seq < v.last.Seq:
			return fail(e.Seq, "out of order: after event %d", v.last.Seq)
		case e.Seq > v.last.Seq+1:
			return fail(v.last.Seq+1, "missing (the log jumps from %d to %d: events were deleted)", v.last.Seq, e.Seq)
		case e.PrevHash != v.last.Hash:
			return fail(e.Seq, "does not follow event %d (an event was inserted, deleted or reordered before it)", v.last.Seq)
		}
	}
	if e.Type == Pruned {
		if seq, hash, ok := ParsePrunedDetail(e.Detail); ok {
			v.vouched[seq] = hash
		}
	}
	v.n++
	v.last = *e
	return nil
}

// Finish checks what can only be checked at the end: that a chain which
// starts after seq 1 was vouched for by a prune event, and that it ends at
// the stored tip (tipSeq 0 skips that check).
func (v *Verifier) Finish(tipSeq int64, tipHash string) error {
	if v.fault != nil {
		return v.fault
	}
	if v.startSeq > 0 {
		if h, ok := v.vouched[v.startSeq-1]; !ok || h != v.start {
			v.fault = &Fault{Seq: v.startSeq, Reason: fmt.Sprintf("the log starts here, but no prune event vouches for events 1–%d (events were deleted)", v.startSeq-1)}
			return v.fault
		}
	}
	if tipSeq > 0 {
		switch {
		case v.n == 0:
			v.fault = &Fault{Seq: 1, Reason: fmt.Sprintf("the log is empty but its tip says %d events", tipSeq)}
		case v.last.Seq > tipSeq:
			v.fault = &Fault{Seq: tipSeq + 1, Reason: fmt.Sprintf("the log goes on to %d but its tip says %d (events were added after the stored tip)", v.last.Seq, tipSeq)}
		case v.last.Seq < tipSeq:
			v.fault = &Fault{Seq: v.last.Seq + 1, Reason: fmt.Sprintf("the log ends at %d but its tip says %d (events were deleted from the end)", v.last.Seq, tipSeq)}
		case v.last.Hash != tipHash:
			v.fault = &Fault{Seq: v.last.Seq, Reason: "the last event does not match the stored tip"}
		}
		if v.fault != nil {
			return v.fault
		}
	}
	return nil
}

// Count is how many events were checked.
func (v *Verifier) Count() int64 { return v.n }

// Last is the last event checked.
func (v *Verifier) Last() Event { return v.last }
