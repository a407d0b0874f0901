package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"
)

func sample() Event {
	return Event{Time: time.Date(2026, 11, 27, 9, 30, 0, 123456789, time.UTC), RequestID: "8f14e45f-ceea-4e7a-9e2b-1c4f5b7a9d01",
		Type: "grant.revoked", Actor: "U0BOB", Resource: "prod-db", Level: "read", Ticket: "INC-123", Detail: "12m left; laptop lost"}
}

// The canonical encoding is documented (package doc, README); this pins
// it, so a verifier written from the documentation agrees with gatepass.
func TestCanonicalEncoding(t *testing.T) {
	e := sample()
	Seal(&e, 41, Genesis)
	want := "17:gatepass.audit.v1,2:42,27:2026-11-27T09:30:00.123456Z,36:8f14e45f-ceea-4e7a-9e2b-1c4f5b7a9d01," +
		"13:grant.revoked,5:U0BOB,7:prod-db,4:read,7:INC-123,21:12m left; laptop lost,64:" + Genesis + ","
	if got := string(Canonical(&e)); got != want {
		t.Fatalf("canonical encoding:\n got %s\nwant %s", got, want)
	}
	sum := sha256.Sum256([]byte(want))
	if e.Hash != hex.EncodeToString(sum[:]) || e.Seq != 42 || e.PrevHash != Genesis {
		t.Fatalf("sealed %+v", e)
	}
	// Netstrings keep fields apart: moving a byte between fields changes
	// the hash.
	moved := sample()
	moved.Actor, moved.Resource = "U0BOBp", "rod-db"
	Seal(&moved, 41, Genesis)
	if moved.Hash == e.Hash {
		t.Fatal("fields that run together hash the same")
	}
}

func chain(n int) []Event {
	evs := make([]Event, n)
	seq, hash := int64(0), Genesis
	for i := range evs {
		evs[i] = sample()
		evs[i].Time = evs[i].Time.Add(time.Duration(i) * time.Second)
		hash = Seal(&evs[i], seq, hash)
		seq = evs[i].Seq
	}
	return evs
}

func TestVerifier(t *testing.T) {
	cases := []struct {
		name    string
		mod     func([]Event) []Event
		tipSeq  int64
		wantSeq int64
	}{
		{"holds", func(e []Event) []Event { return e }, 5, 0},
		{"edited", func(e []Event) []Event { e[2].Detail = "x"; return e }, 5, 3},
		{"deleted", func(e []Event) []Event { return append(e[:2], e[3:]...) }, 5, 3},
		// Read in seq order, as storage does: two events' places swapped.
		{"swapped", func(e []Event) []Event { e[1], e[2] = e[2], e[1]; e[1].Seq, e[2].Seq = 2, 3; return e }, 5, 2},
		{"cut from the end", func(e []Event) []Event { return e[:4] }, 5, 5},
		{"added past the tip", func(e []Event) []Event { return e }, 4, 5},
		{"cut from the start", func(e []Event) []Event { return e[2:] }, 5, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := NewVerifier()
			var err error
			for _, e := range c.mod(chain(5)) {
				if err = v.Add(&e); err != nil {
					break
				}
			}
			if err == nil {
				tip := chain(5)[c.tipSeq-1]
				err = v.Finish(c.tipSeq, tip.Hash)
			}
			var f *Fault
			switch {
			case c.wantSeq == 0 && err != nil:
				t.Fatalf("a sound chain failed: %v", err)
			case c.wantSeq != 0 && (!errors.As(err, &f) || f.Seq != c.wantSeq):
				t.Fatalf("fault %v, want event %d named", err, c.wantSeq)
			}
		})
	}
}

// A pruned chain verifies when a prune event inside it vouches for its
// start, and not otherwise.
func TestPrunedChain(t *testing.T) {
	evs := chain(6)
	prune := sample()
	prune.Type, prune.Detail = Pruned, PrunedDetail(evs[2].Seq, evs[2].Hash, evs[2].Time)
	Seal(&prune, evs[5].Seq, evs[5].Hash)
	kept := append(evs[3:], prune)
	v := NewVerifier()
	for _, e := range kept {
		if err := v.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Finish(prune.Seq, prune.Hash); err != nil {
		t.Fatalf("pruned chain: %v", err)
	}
	v = NewVerifier()
	for _, e := range evs[4:] { // one more removed than the prune vouched for
		if err := v.Add(&e); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.Finish(evs[5].Seq, evs[5].Hash); err == nil {
		t.Fatal("a chain cut further than any prune verified")
	}
}
