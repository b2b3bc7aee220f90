package limits

import (
	"math"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// buckets are token buckets by key, at most a fixed number of them: the least recently used
// go first. A bucket dropped and made again starts full, which is what a caller idle long
// enough to be dropped would have anyway.
type buckets struct {
	cache *lru.Cache[string, *bucket]
}

// bucket is a limiter with the limit it was made for; a caller whose limit changed (a token
// with other roles) gets a new one.
type bucket struct {
	lim *rate.Limiter
	l   Limit
}

func newBuckets(size int) *buckets {
	c, err := lru.New[string, *bucket](size)
	if err != nil {
		// Only for a size below 1, which Config.Check refuses.
		panic("limits: " + err.Error())
	}
	return &buckets{cache: c}
}

func (b *buckets) get(key string, l Limit) *bucket {
	if bk, ok := b.cache.Get(key); ok && bk.l == l {
		return bk
	}
	fresh := &bucket{lim: rate.NewLimiter(l.Rate, l.Burst), l: l}
	// Two first calls of one caller at once must share one bucket.
	if prev, loaded, _ := b.cache.PeekOrAdd(key, fresh); loaded {
		if prev.l == l {
			return prev
		}
		b.cache.Add(key, fresh)
	}
	return fresh
}

// take takes a token from key's bucket at now; when there is none it takes nothing and says
// how long until there is one.
func (b *buckets) take(key string, l Limit, now time.Time) (bool, time.Duration) {
	bk := b.get(key, l)
	if bk.lim.AllowN(now, 1) {
		return true, 0
	}
	return false, untilOne(bk.lim.TokensAt(now), l)
}

// peek reports whether key's bucket holds a token at now, taking none, and if not how long
// until it does.
func (b *buckets) peek(key string, l Limit, now time.Time) (bool, time.Duration) {
	bk, ok := b.cache.Get(key)
	if !ok || bk.l != l {
		return true, 0
	}
	if t := bk.lim.TokensAt(now); t < 1 {
		return false, untilOne(t, l)
	}
	return true, 0
}

// untilOne is how long a bucket holding tokens takes to hold one, rounded up to a millisecond.
func untilOne(tokens float64, l Limit) time.Duration {
	secs := (1 - tokens) / float64(l.Rate)
	d := time.Duration(math.Ceil(secs*1000)) * time.Millisecond
	return max(d, time.Millisecond)
}
