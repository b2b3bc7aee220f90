package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
)

// DefaultBoardCache is how long a replica answers a scope's board from its last count: a
// board refreshed every few seconds by many officers costs one count per scope and moment.
const DefaultBoardCache = 2 * time.Second

// maxBoardEntries bounds the boards kept: one per scope and region asked for, which the region
// tree and the callers' scopes bound already; past it the cache starts again empty.
const maxBoardEntries = 1024

// boardCache keeps the last board counted for each (scope, region) for ttl. An entry is keyed
// by everything the count reads (the caller's whole scope: communities, all, unit; and the
// region asked for), so a caller is only ever answered with a count of its own scope. It is
// dropped when this replica commits a change of a case (the store's change hook), so a step
// taken here shows at once; a change on another replica shows within ttl. The board's
// read_time is the moment it was counted.
type boardCache struct {
	ttl time.Duration
	// gen moves on with every committed change of a case on this replica: an entry counted
	// under an older one is not used.
	gen     atomic.Uint64
	mu      sync.Mutex
	entries map[string]boardEntry
	// counting makes the callers of one key that miss at once share a single count.
	counting singleflight.Group
}

type boardEntry struct {
	board store.Board
	// last is the sweeper's last run (zero: never), read with the counts.
	last time.Time
	// now is the service's clock at the count (what overdue is relative to); real is the
	// monotonic time it was taken, which bounds the staleness whatever the clock does.
	now, real time.Time
	gen       uint64
}

// newBoardCache returns a cache keeping boards for ttl; nil (no cache) when ttl <= 0.
func newBoardCache(ttl time.Duration) *boardCache {
	if ttl <= 0 {
		return nil
	}
	return &boardCache{ttl: ttl, entries: map[string]boardEntry{}}
}

// changed drops every entry: a case changed on this replica. Safe on a nil cache.
func (c *boardCache) changed() {
	if c != nil {
		c.gen.Add(1)
	}
}

// boardKey is the cache key of a count in scope and region.
func boardKey(sc *store.Scope, regionCode string) string {
	if sc == nil {
		return "*|" + regionCode
	}
	return fmt.Sprintf("%t|%s|%s|%s", sc.All, sc.Unit, strings.Join(sc.Communities, ","), regionCode)
}

// get returns the board of key as of now, counting it with count when the cache holds none
// young enough (or no cache: c nil).
func (c *boardCache) get(ctx context.Context, key string, now time.Time,
	count func(ctx context.Context) (store.Board, time.Time, error)) (boardEntry, error) {
	fresh := func(ctx context.Context) (boardEntry, error) {
		gen := c.genNow()
		b, last, err := count(ctx)
		return boardEntry{board: b, last: last, now: now, real: time.Now(), gen: gen}, err
	}
	if c == nil {
		return fresh(ctx)
	}
	if e, ok := c.lookup(key, now); ok {
		return e, nil
	}
	// One count per key at a time: the callers that miss while it runs take its result (as
	// stale as a cached one at most). It runs to its end for them even if the caller that
	// started it goes away.
	v, err, _ := c.counting.Do(key, func() (any, error) {
		if e, ok := c.lookup(key, now); ok {
			return e, nil
		}
		e, err := fresh(context.WithoutCancel(ctx))
		if err != nil {
			return boardEntry{}, err
		}
		c.mu.Lock()
		if len(c.entries) >= maxBoardEntries {
			clear(c.entries)
		}
		c.entries[key] = e
		c.mu.Unlock()
		return e, nil
	})
	if err != nil {
		return boardEntry{}, err
	}
	return v.(boardEntry), nil
}

func (c *boardCache) genNow() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// lookup returns key's entry if it may still be shown at now: counted under the current
// generation, less than ttl ago in real time, and neither after now nor more than ttl before
// it on the service's clock (a clock set forward, in tests, counts afresh).
func (c *boardCache) lookup(key string, now time.Time) (boardEntry, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if !ok || e.gen != c.gen.Load() || time.Since(e.real) >= c.ttl || now.Before(e.now) || now.Sub(e.now) >= c.ttl {
		return boardEntry{}, false
	}
	return e, true
}
