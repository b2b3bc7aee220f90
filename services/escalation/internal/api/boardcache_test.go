package api

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/services/escalation/internal/store"
)

// TestBoardCache: when a board is counted again and when it is not.
func TestBoardCache(t *testing.T) {
	t0 := time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC)
	erqiao := boardKey(&store.Scope{Communities: []string{"450105001001"}}, "")
	fujing := boardKey(&store.Scope{Communities: []string{"450105001002"}}, "")
	department := boardKey(&store.Scope{All: true, Unit: "departments/power"}, "")
	district := boardKey(&store.Scope{All: true}, "")
	for _, k := range []string{erqiao, fujing, department} {
		if k == district {
			t.Fatalf("key %q is the district's", k)
		}
	}
	type read struct {
		key string
		at  time.Time
		// before runs first (a change, a pause).
		before func(c *boardCache)
		counts bool
	}
	for _, tc := range []struct {
		name  string
		ttl   time.Duration
		reads []read
	}{
		{"the same scope and moment: once", time.Minute, []read{{key: erqiao, at: t0, counts: true}, {key: erqiao, at: t0}, {key: erqiao, at: t0.Add(59 * time.Second)}}},
		{"each scope its own count", time.Minute, []read{{key: erqiao, at: t0, counts: true}, {key: fujing, at: t0, counts: true},
			{key: department, at: t0, counts: true}, {key: district, at: t0, counts: true}, {key: erqiao, at: t0}}},
		{"a change on the replica", time.Minute, []read{{key: erqiao, at: t0, counts: true},
			{key: erqiao, at: t0, before: func(c *boardCache) { c.changed() }, counts: true}, {key: erqiao, at: t0}}},
		{"the clock a ttl on", time.Minute, []read{{key: erqiao, at: t0, counts: true}, {key: erqiao, at: t0.Add(time.Minute), counts: true}}},
		{"the clock set back", time.Minute, []read{{key: erqiao, at: t0, counts: true}, {key: erqiao, at: t0.Add(-time.Second), counts: true}}},
		{"a ttl passed in real time", 20 * time.Millisecond, []read{{key: erqiao, at: t0, counts: true},
			{key: erqiao, at: t0, before: func(*boardCache) { time.Sleep(30 * time.Millisecond) }, counts: true}}},
		{"no cache", 0, []read{{key: erqiao, at: t0, counts: true}, {key: erqiao, at: t0, counts: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newBoardCache(tc.ttl)
			n := 0
			// Each board carries the number of its count; a read must get its own key's last.
			last := map[string]int{}
			for i, r := range tc.reads {
				if r.before != nil {
					r.before(c)
				}
				counted := false
				e, err := c.get(t.Context(), r.key, r.at, func(context.Context) (store.Board, time.Time, error) {
					counted = true
					n++
					return store.Board{Colours: map[escalationv1.Colour]store.ColourLine{escalationv1.Colour_COLOUR_GREEN: {Open: n}}}, time.Time{}, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if counted {
					last[r.key] = n
				}
				if counted != r.counts {
					t.Errorf("read %d: counted %v, want %v", i, counted, r.counts)
				}
				if got := e.board.Colours[escalationv1.Colour_COLOUR_GREEN].Open; got != last[r.key] {
					t.Errorf("read %d: board of count %d, want its scope's last (%d)", i, got, last[r.key])
				}
			}
		})
	}
}

// TestBoardCacheOneCountAtATime: callers of one scope that miss together share one count.
func TestBoardCacheOneCountAtATime(t *testing.T) {
	c := newBoardCache(time.Minute)
	var counts atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			_, err := c.get(t.Context(), "k", time.Unix(0, 0), func(context.Context) (store.Board, time.Time, error) {
				counts.Add(1)
				<-release
				return store.Board{}, time.Time{}, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if n := counts.Load(); n != 1 {
		t.Errorf("%d counts for 8 callers at once, want 1", n)
	}
}
