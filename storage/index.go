package storage

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatepass/gatepass/tokens"
	"github.com/gatepass/gatepass/workflow"
)

// The grant index answers introspection from memory. It mirrors every
// active grant that has a token, by the token's hash.
//
// It is fed from three places: the load at Open, every change this
// process commits (applied after the commit and before the change's
// caller hears of it), and the change feed, which brings changes other
// processes commit (feed.go). Whatever the order these arrive in, an entry
// never goes back to an older state: each carries the request's version,
// and an entry older than the one held is ignored. Entries of grants that
// ended stay as tombstones until their expiry has passed, so a late copy
// of the grant as it was while active can never bring its token back.
//
// A hash the index does not hold is refused after the feed has caught up
// with every change committed before the question was asked; the answer
// is then remembered in a bounded negative cache, so dead and unknown
// tokens are answered from memory too. A grant the feed brings in later
// removes its hash from that cache.
type grantIndex struct {
	mu     sync.RWMutex
	byHash map[tokens.Hash]*indexEntry
	byID   map[string]*indexEntry
	// ended holds the IDs of tombstones, so pruning walks only those.
	ended map[string]struct{}
	neg   negativeCache

	// strings repeated across grants (resources, levels, users, tickets)
	// are kept once
	internMu sync.Mutex
	interned map[string]string
}

// maxInterned bounds the strings kept once; past it, new strings are not
// shared (correct, only less compact).
const maxInterned = 200_000

// indexEntry is one grant as the index holds it: compact (a million live
// grants cost about 300 bytes each), with strings shared between grants
// where they repeat.
type indexEntry struct {
	requestID, requester, resource, level, ticket string
	issued, expires                               int64 // Unix seconds
	hash                                          tokens.Hash
	version                                       int32
	active, breakGlass                            bool
}

// info is the grant as the workflow sees it.
func (e *indexEntry) info() workflow.GrantInfo {
	state := workflow.StateActive
	if !e.active {
		state = workflow.StateExpired // any ended state reads the same to introspection
	}
	return workflow.GrantInfo{
		RequestID: e.requestID, Requester: e.requester, Resource: e.resource, Level: e.level, Ticket: e.ticket,
		BreakGlass: e.breakGlass, State: state, IssuedAt: time.Unix(e.issued, 0).UTC(), ExpiresAt: time.Unix(e.expires, 0).UTC(),
	}
}

func newGrantIndex() *grantIndex {
	return &grantIndex{
		byHash:   map[tokens.Hash]*indexEntry{},
		byID:     map[string]*indexEntry{},
		ended:    map[string]struct{}{},
		neg:      newNegativeCache(negativeCacheSize),
		interned: map[string]string{},
	}
}

// reserve makes room for n more grants before a bulk load, so the maps
// are not grown (and rehashed) again and again.
func (ix *grantIndex) reserve(n int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if len(ix.byID) > 0 || n <= 0 {
		return
	}
	ix.byHash = make(map[tokens.Hash]*indexEntry, n)
	ix.byID = make(map[string]*indexEntry, n)
}

// applyRequest records a request as committed.
func (ix *grantIndex) applyRequest(r *workflow.Request) {
	if r.Grant == nil {
		return
	}
	g := toGrantRow(r)
	ix.apply(entryOf(&g))
}

func entryOf(g *grantRow) indexEntry {
	e := indexEntry{
		requestID: g.RequestID, requester: g.Subject, resource: g.Resource, level: g.Level, ticket: g.Ticket,
		issued: g.IssuedAt.Unix(), expires: g.ExpiresAt.Unix(), version: int32(g.Version),
		active: g.State == string(workflow.StateActive), breakGlass: g.BreakGlass,
	}
	if g.TokenHash != nil {
		if h, err := tokens.ParseHash(*g.TokenHash); err == nil {
			e.hash = h
		}
	}
	return e
}

// apply records a grant's state at a version; older versions are ignored.
func (ix *grantIndex) apply(e indexEntry) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.applyLocked(e)
}

func (ix *grantIndex) applyLocked(e indexEntry) {
	id := e.requestID
	old := ix.byID[id]
	if old != nil && e.version <= old.version {
		return
	}
	if old != nil && old.hash != (tokens.Hash{}) && ix.byHash[old.hash] == old {
		delete(ix.byHash, old.hash)
	}
	entry := new(indexEntry) // only now: an ignored entry costs nothing
	*entry = e
	ix.byID[id] = entry
	if !e.active {
		ix.ended[id] = struct{}{}
		return
	}
	delete(ix.ended, id)
	if e.hash != (tokens.Hash{}) {
		ix.byHash[e.hash] = entry
		ix.neg.remove(e.hash)
	}
}

// applyBatch applies entries loaded in bulk under one hold of the lock.
func (ix *grantIndex) applyBatch(batch []indexEntry) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := range batch {
		ix.applyLocked(batch[i])
	}
}

// lookup returns the grant of an active token's hash, if the index holds
// it, or reports that h was refused before and nothing since has made it
// live: one look under the read lock either way.
func (ix *grantIndex) lookup(h tokens.Hash) (info workflow.GrantInfo, found, dead bool) {
	ix.mu.RLock()
	e, ok := ix.byHash[h]
	if ok {
		info = e.info()
	} else {
		dead = ix.neg.has(h)
	}
	ix.mu.RUnlock()
	return info, ok, dead
}

// settle looks h up once more after the feed caught up and, if it is still
// unknown, remembers that, atomically with respect to apply.
func (ix *grantIndex) settle(h tokens.Hash) (workflow.GrantInfo, bool) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if e, ok := ix.byHash[h]; ok {
		return e.info(), true
	}
	ix.neg.add(h)
	return workflow.GrantInfo{}, false
}

// prune forgets tombstones whose expiry passed before cutoff: their tokens
// are refused by the expiry check whatever the index holds.
func (ix *grantIndex) prune(cutoff time.Time) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for id := range ix.ended {
		if e := ix.byID[id]; e == nil || e.expires < cutoff.Unix() {
			delete(ix.byID, id)
			delete(ix.ended, id)
		}
	}
}

// size reports the number of live grants the index holds and tombstones.
func (ix *grantIndex) size() (live, dead int) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byHash), len(ix.byID) - len(ix.byHash)
}

// negativeCacheSize bounds the hashes remembered as refused: two
// generations of at most this many each.
const negativeCacheSize = 50_000

// negativeCache remembers refused hashes in two generations: when the
// young one is full it becomes the old one and the old one is dropped, so
// memory stays bounded and recently refused hashes are kept.
type negativeCache struct {
	young, old map[tokens.Hash]struct{}
	max        int
}

func newNegativeCache(max int) negativeCache {
	return negativeCache{young: map[tokens.Hash]struct{}{}, old: map[tokens.Hash]struct{}{}, max: max}
}

func (c *negativeCache) has(h tokens.Hash) bool {
	if _, ok := c.young[h]; ok {
		return true
	}
	_, ok := c.old[h]
	return ok
}

func (c *negativeCache) add(h tokens.Hash) {
	if len(c.young) >= c.max {
		c.old, c.young = c.young, make(map[tokens.Hash]struct{}, c.max/4)
	}
	c.young[h] = struct{}{}
}

func (c *negativeCache) remove(h tokens.Hash) {
	delete(c.young, h)
	delete(c.old, h)
}

// GrantByTokenHash finds the active grant whose current token has hash h:
// from memory when the index holds it or knows it to be dead; otherwise
// after catching up with the change feed, so a token another process has
// just issued is found.
func (s *Store) GrantByTokenHash(ctx context.Context, h tokens.Hash) (workflow.GrantInfo, error) {
	g, found, dead := s.index.lookup(h)
	switch {
	case found:
		return g, nil
	case dead:
		return workflow.GrantInfo{}, workflow.ErrNotFound
	}
	if err := s.feed.catchUp(ctx); err != nil {
		return workflow.GrantInfo{}, fmt.Errorf("grant by token: %w", err)
	}
	if g, ok := s.index.settle(h); ok {
		return g, nil
	}
	return workflow.GrantInfo{}, workflow.ErrNotFound
}

// IndexSize reports how many live grants this process holds in memory.
func (s *Store) IndexSize() int {
	live, _ := s.index.size()
	return live
}
