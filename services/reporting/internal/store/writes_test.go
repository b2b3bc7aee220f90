package store

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/reporting/migrations"
)

// TestBatchWrites runs the feeds' batch writes on both back ends, with more rows than one
// SQLite statement takes: applied ids are fresh once, states read back as written, figures and
// skipped counts add up across batches.
func TestBatchWrites(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			db := b.Open(t)
			if err := db.Migrate(ctx, "reporting", migrations.FS()); err != nil {
				t.Fatal(err)
			}
			s := New()
			in := func(fn func(ctx context.Context, tx sqlstore.Tx) error) {
				t.Helper()
				if err := db.InTx(ctx, fn); err != nil {
					t.Fatal(err)
				}
			}
			ids := func(from, to int) []string {
				var out []string
				for i := from; i < to; i++ {
					out = append(out, fmt.Sprintf("ev-%04d", i))
				}
				return out
			}

			// Applied ids: 1,200 fresh, then an overlapping batch where only the new ones are.
			tests := []struct {
				name      string
				ids       []string
				wantFresh []string
			}{
				{"first", ids(0, 1200), ids(0, 1200)},
				{"overlapping", ids(1100, 1300), ids(1200, 1300)},
				{"replayed", ids(0, 1300), nil},
			}
			for _, tt := range tests {
				in(func(ctx context.Context, tx sqlstore.Tx) error {
					fresh, err := s.FirstApplies(ctx, tx, "demand", tt.ids)
					if err != nil {
						return err
					}
					if got := slices.Sorted(maps.Keys(fresh)); !slices.Equal(got, tt.wantFresh) {
						t.Errorf("%s: %d fresh, want %d", tt.name, len(got), len(tt.wantFresh))
					}
					return nil
				})
			}
			in(func(ctx context.Context, tx sqlstore.Tx) error {
				fresh, err := s.FirstApplies(ctx, tx, "partner", ids(0, 3))
				if len(fresh) != 3 {
					t.Errorf("another source's ids: %d fresh, want 3", len(fresh))
				}
				return err
			})

			// States: 700 demands written, read back, one moved.
			var demands []Demand
			var names []string
			for i := range 700 {
				d := Demand{Name: fmt.Sprintf("demands/%04d", i), Community: "450105001001", Status: int32(i % 9), SubmitUS: int64(i) * 1e6, Solved: i%2 == 0, Unsolved: i%3 == 0}
				demands, names = append(demands, d), append(names, d.Name)
			}
			in(func(ctx context.Context, tx sqlstore.Tx) error { s.PutDemands(ctx, tx, demands); return nil })
			demands[5].Status, demands[5].Solved = 6, true
			in(func(ctx context.Context, tx sqlstore.Tx) error { s.PutDemands(ctx, tx, demands[5:6]); return nil })
			got, err := s.GetDemands(ctx, db, append(names, "demands/none"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 700 || got["demands/0005"] != demands[5] || got["demands/0699"] != demands[699] {
				t.Errorf("demands read back: %d, [5] %+v, [699] %+v", len(got), got["demands/0005"], got["demands/0699"])
			}
			p := Project{Name: "projects/p", Community: "450105001001", Status: 3, ListType: 2, Matched: true}
			c := Case{Name: "cases/c", Community: "450105001002", Colour: 2, Open: true, Closed: true}
			in(func(ctx context.Context, tx sqlstore.Tx) error {
				s.PutProjects(ctx, tx, []Project{p})
				s.PutCases(ctx, tx, []Case{c})
				return nil
			})
			if got, err := s.GetProjects(ctx, db, []string{"projects/p", "projects/q"}); err != nil || len(got) != 1 || got["projects/p"] != p {
				t.Errorf("projects %v, %v", got, err)
			}
			if got, err := s.GetCases(ctx, db, []string{"cases/c"}); err != nil || len(got) != 1 || got["cases/c"] != c {
				t.Errorf("cases %v, %v", got, err)
			}

			// Figures: 600 rows a batch, twice; a zero delta writes nothing.
			deltas := map[Agg]int64{}
			for i := range 600 {
				deltas[Agg{Region: "450105", Key: Key{Day: 20260601 + i%3, Measure: "partner_minutes", Dimension: fmt.Sprintf("partners/%03d", i)}}] = int64(i)
			}
			deltas[Agg{Region: "450105", Key: Key{Day: 20260601, Measure: "zero"}}] = 0
			for range 2 {
				in(func(ctx context.Context, tx sqlstore.Tx) error { s.AddAll(ctx, tx, deltas); return nil })
			}
			sums, err := s.Sum(ctx, db, []string{"450105"}, 20260601, 20260630, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := sums["450105"].Total("partner_minutes"), int64(2*599*600/2); got != want {
				t.Errorf("partner_minutes %d, want %d", got, want)
			}
			var zeros int64
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM aggregates WHERE measure = 'zero'`).Scan(&zeros); err != nil || zeros != 0 {
				t.Errorf("zero delta rows %d (%v)", zeros, err)
			}

			// Skipped counts add up.
			for range 2 {
				in(func(ctx context.Context, tx sqlstore.Tx) error {
					s.SkipAll(ctx, tx, "contract", map[string]int64{"a.B": 2, "a.C": 1})
					return nil
				})
			}
			skipped, err := s.ListSkipped(ctx, db)
			if err != nil {
				t.Fatal(err)
			}
			want := []Skipped{{"contract", "a.B", 4}, {"contract", "a.C", 2}}
			if !slices.Equal(skipped, want) {
				t.Errorf("skipped %v, want %v", skipped, want)
			}
		})
	}
}

// compareAgg orders by region, then measure, then day, then dimension: each field decides
// only when those before it are equal.
func TestCompareAgg(t *testing.T) {
	agg := func(region, measure string, day int, dim string) Agg {
		return Agg{Region: region, Key: Key{Day: day, Measure: measure, Dimension: dim}}
	}
	base := agg("110105001", "m", 20260101, "d")
	for _, tc := range []struct {
		name string
		a, b Agg
		want int
	}{
		{"equal", base, base, 0},
		{"region first", agg("110105001", "z", 20270101, "z"), agg("110105002", "a", 20250101, "a"), -1},
		{"then measure", agg("110105001", "b", 20250101, "z"), agg("110105001", "a", 20270101, "a"), 1},
		{"then day", agg("110105001", "m", 20250101, "z"), agg("110105001", "m", 20270101, "a"), -1},
		{"then dimension", agg("110105001", "m", 20260101, "b"), agg("110105001", "m", 20260101, "a"), 1},
	} {
		if got := compareAgg(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: compareAgg = %d, want %d", tc.name, got, tc.want)
		}
	}
}
