package store

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/reporting/migrations"
)

func yyyymmdd(t time.Time) int { return t.Year()*10000 + int(t.Month())*100 + t.Day() }

// TestSumEqualsDailySum checks, on both back ends, that a period's sum (whole months from
// monthly_aggregates, ragged ends from aggregates) equals the plain sum of its days, for
// periods of every shape: within a month, across a year's end, whole months, from the start.
func TestSumEqualsDailySum(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db := b.Open(t)
			if err := db.Migrate(ctx, "reporting", migrations.FS()); err != nil {
				t.Fatal(err)
			}
			s := New()
			start := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
			daily := map[int]int64{}
			err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
				deltas := map[Agg]int64{}
				for i := range 150 {
					d := yyyymmdd(start.AddDate(0, 0, i))
					v := int64(i%7 + 1)
					daily[d] += v
					for _, r := range []string{"450105", "450105001"} {
						deltas[Agg{Region: r, Key: Key{Day: d, Measure: "m", Dimension: "x"}}] += v
					}
				}
				s.AddAll(ctx, tx, deltas)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			periods := [][2]int{{20251101, 20251130}, {20251115, 20260214}, {20251201, 20260131}, {0, 20260115}, {20260301, 20260331}, {20251231, 20260101}}
			for range 40 {
				a := rng.IntN(160) - 5
				l := rng.IntN(120)
				periods = append(periods, [2]int{yyyymmdd(start.AddDate(0, 0, a)), yyyymmdd(start.AddDate(0, 0, a+l))})
			}
			for _, p := range periods {
				var want int64
				for d, v := range daily {
					if d >= p[0] && d <= p[1] {
						want += v
					}
				}
				got, err := s.Sum(ctx, db.Reads(), []string{"450105", "450105001"}, p[0], p[1], []string{"m"})
				if err != nil {
					t.Fatal(err)
				}
				if got["450105"].Get("m", "x") != want || got["450105001"].Get("m", "x") != want {
					t.Errorf("%v: got %d/%d, want %d (parts %v)", p, got["450105"].Get("m", "x"), got["450105001"].Get("m", "x"), want, split(p[0], p[1]))
				}
			}
		})
	}
}
