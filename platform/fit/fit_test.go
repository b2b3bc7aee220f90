package fit

import (
	"slices"
	"strings"
	"testing"
	"time"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

// The demand service's domain tests (match_test.go) cover every part of the model through a
// project; these cover what a search asks differently: several categories, any level of the
// region tree, one window, and no partner record.

const (
	district  = "450105"
	street    = "450105001"
	community = "450105001001"
	other     = "450105001002"
)

func wed(start, end string) *typev1.WeeklyWindow {
	return &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: start, EndTime: end}
}

func childcare(tags ...string) []*partnerv1.Capability {
	return []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, Tags: tags}}
}

// explained is Explain, checked against Score: callers rank by Score and explain the page they
// return, so the two must agree.
func explained(t *testing.T, need Need, offer Offer, rec *Record, today time.Time) (Parts, []string) {
	t.Helper()
	p, reasons := Explain(need, offer, rec, today)
	if s := Score(need, offer, rec, today); s != p {
		t.Fatalf("Score %+v, Explain %+v", s, p)
	}
	if p.Total() < 0 || p.Total() > 100 {
		t.Fatalf("total %d outside 0–100", p.Total())
	}
	return p, reasons
}

func TestFitRanksClosestAndBestMatch(t *testing.T) {
	wednesday := wed("15:00", "18:00")
	need := Need{
		Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE},
		Tags:       []string{"作业辅导"},
		Place:      Place{Code: community, Path: []string{district, street, community}},
		Schedule:   []*typev1.WeeklyWindow{wednesday},
	}
	offers := map[string]Offer{
		"local, tagged, available": {Capabilities: childcare("作业辅导"), ServiceAreas: []string{community}, Availability: []*typev1.WeeklyWindow{wednesday}},
		"local, available":         {Capabilities: childcare(), ServiceAreas: []string{community}, Availability: []*typev1.WeeklyWindow{wednesday}},
		"street-wide, available":   {Capabilities: childcare(), ServiceAreas: []string{street}, Availability: []*typev1.WeeklyWindow{wednesday}},
		"district-wide":            {Capabilities: childcare(), ServiceAreas: []string{district}},
		"other community":          {Capabilities: childcare(), ServiceAreas: []string{other}},
		"wrong category":           {Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_LEGAL_AID}}, ServiceAreas: []string{community}},
	}
	order := []string{"local, tagged, available", "local, available", "street-wide, available", "district-wide", "other community", "wrong category"}
	scores := map[string]int{}
	for name, o := range offers {
		p, reasons := explained(t, need, o, nil, time.Time{})
		scores[name] = p.Total()
		if p.Total() > 0 && len(reasons) == 0 {
			t.Errorf("%s scored %d with no reasons", name, p.Total())
		}
	}
	ranked := slices.Clone(order)
	slices.SortStableFunc(ranked, func(a, b string) int { return scores[b] - scores[a] })
	if !slices.Equal(ranked, order) {
		t.Fatalf("ranking = %v (scores %v), want %v", ranked, scores, order)
	}
}

func TestSearchParts(t *testing.T) {
	path := []string{district, street, community}
	tests := []struct {
		name    string
		need    Need
		offer   Offer
		want    Parts
		reasons []string // exactly
	}{
		{
			name:    "a capability in any category asked for",
			need:    Need{Categories: []typev1.Category{typev1.Category_CATEGORY_LEGAL_AID, typev1.Category_CATEGORY_CHILDCARE}},
			offer:   Offer{Capabilities: childcare()},
			want:    Parts{Capability: 25, Availability: 15},
			reasons: []string{"capability childcare"},
		},
		{
			name:    "no category asked for scores none",
			need:    Need{Tags: []string{"托管"}},
			offer:   Offer{Capabilities: childcare("托管")},
			want:    Parts{Capability: 5, Availability: 15},
			reasons: []string{"tags 托管"},
		},
		{
			name:    "a sub-district searched: itself",
			need:    Need{Place: Place{Code: street, Path: path[:2]}},
			offer:   Offer{ServiceAreas: []string{street}},
			want:    Parts{ServiceArea: 20, Availability: 15},
			reasons: []string{"serves 450105001"},
		},
		{
			name:    "a sub-district searched: the district one level up",
			need:    Need{Place: Place{Code: street, Path: path[:2], Name: func(c string) string { return map[string]string{district: "江南区", street: "江南街道"}[c] }}},
			offer:   Offer{ServiceAreas: []string{district}},
			want:    Parts{ServiceArea: 12, Availability: 15},
			reasons: []string{"serves 江南区 (includes 江南街道)"},
		},
		{
			name:    "a sub-district searched: a community within it",
			need:    Need{Place: Place{Code: street, Path: path[:2]}},
			offer:   Offer{ServiceAreas: []string{other}},
			want:    Parts{ServiceArea: 10, Availability: 15},
			reasons: []string{"serves 450105001002 within 450105001"},
		},
		{
			name:    "no place searched scores no area",
			need:    Need{Place: Place{Path: []string{""}}},
			offer:   Offer{ServiceAreas: []string{community}},
			want:    Parts{Availability: 15},
			reasons: nil,
		},
		{
			name:    "a window, covered by a longer one",
			need:    Need{Schedule: []*typev1.WeeklyWindow{wed("15:00", "18:00")}},
			offer:   Offer{Availability: []*typev1.WeeklyWindow{wed("14:00", "18:00")}},
			want:    Parts{Availability: 15},
			reasons: []string{"available Wed 15:00–18:00"},
		},
		{
			name:    "a window, half covered",
			need:    Need{Schedule: []*typev1.WeeklyWindow{wed("15:00", "17:00")}},
			offer:   Offer{Availability: []*typev1.WeeklyWindow{wed("16:00", "20:00")}},
			want:    Parts{Availability: 7},
			reasons: []string{"available Wed 16:00–17:00 (60 of 120 scheduled minutes)"},
		},
		{
			name:    "no record: no load, track record or recency",
			need:    Need{Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}},
			offer:   Offer{Capabilities: childcare()},
			want:    Parts{Capability: 25, Availability: 15},
			reasons: []string{"capability childcare"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, reasons := explained(t, tt.need, tt.offer, nil, time.Time{})
			if p != tt.want || !slices.Equal(reasons, tt.reasons) {
				t.Fatalf("got %+v %q, want %+v %q", p, reasons, tt.want, tt.reasons)
			}
		})
	}
}

func TestRecord(t *testing.T) {
	today := time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC)
	rec := &Record{ActiveCommitments: 1, ActivityCount: 4, LastActivity: time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)}
	p, reasons := explained(t, Need{}, Offer{}, rec, today)
	if want := (Parts{Availability: 15, Load: 7, TrackRecord: 4, Recency: 10}); p != want {
		t.Fatalf("parts %+v, want %+v", p, want)
	}
	if want := []string{"1 active commitment", "4 activities delivered", "last activity 2026-03-01 (10 days ago)"}; !slices.Equal(reasons, want) {
		t.Fatalf("reasons %q, want %q", reasons, want)
	}
	// An empty record still scores the load: free partners rank above busy ones.
	if p, reasons := explained(t, Need{}, Offer{}, &Record{}, today); p.Load != 10 || !slices.Contains(reasons, "no active commitments") {
		t.Fatalf("empty record: %+v %q", p, reasons)
	}
}

func TestAvailable(t *testing.T) {
	want := wed("15:00", "18:00")
	tests := []struct {
		name string
		have []*typev1.WeeklyWindow
		ok   bool
	}{
		{"overlapping", []*typev1.WeeklyWindow{wed("17:00", "20:00")}, true},
		{"touching", []*typev1.WeeklyWindow{wed("18:00", "20:00"), wed("13:00", "15:00")}, false},
		{"another day", []*typev1.WeeklyWindow{{Weekday: typev1.Weekday_WEEKDAY_THURSDAY, StartTime: "15:00", EndTime: "18:00"}}, false},
		{"malformed", []*typev1.WeeklyWindow{wed("15:00", "25:00")}, false},
		{"none", nil, false},
	}
	for _, tt := range tests {
		if got := Available(want, tt.have); got != tt.ok {
			t.Errorf("%s: Available = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestEachUnion(t *testing.T) {
	var got []string
	eachUnion([][2]int{{50, 60}, {0, 10}, {5, 20}, {20, 30}, {55, 58}}, func(s, e int) {
		got = append(got, strings.Join([]string{clock(s), clock(e)}, "–"))
	})
	if want := []string{"00:00–00:30", "00:50–01:00"}; !slices.Equal(got, want) {
		t.Fatalf("union %q, want %q", got, want)
	}
}

// A search and a match score every candidate and explain only the page they return: Score
// against Explain is what that saves per candidate.
func BenchmarkScore(b *testing.B) {
	wednesday := wed("15:00", "18:00")
	need := Need{
		Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}, Tags: []string{"作业辅导"},
		Place:    Place{Code: community, Path: []string{district, street, community}, Name: func(string) string { return "二桥西社区" }},
		Schedule: []*typev1.WeeklyWindow{wednesday},
	}
	offer := Offer{
		Capabilities: childcare("作业辅导", "志愿服务"),
		ServiceAreas: []string{street}, Availability: []*typev1.WeeklyWindow{wed("14:00", "16:00"), wed("15:30", "18:00")},
	}
	rec := &Record{ActiveCommitments: 1, ActivityCount: 4, LastActivity: time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)}
	today := time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC)
	for _, bc := range []struct {
		name string
		rec  *Record
	}{{"search", nil}, {"match", rec}} {
		b.Run(bc.name+"/explained", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Explain(need, offer, bc.rec, today)
			}
		})
		b.Run(bc.name+"/score", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				Score(need, offer, bc.rec, today)
			}
		})
	}
}

// TestContractOutcomes: a contract kept raises the track record, a breach lowers it, within the
// part's bounds; two partners alike but for that rank the keeper first.
func TestContractOutcomes(t *testing.T) {
	for _, tc := range []struct {
		rec  Record
		want int
	}{
		{Record{ActivityCount: 3}, 3},
		{Record{ActivityCount: 3, ContractsFulfilled: 1}, 7},
		{Record{ActivityCount: 3, ContractsBreached: 1}, 0},
		{Record{ActivityCount: 9, ContractsFulfilled: 2}, 10},
		{Record{ActivityCount: 9, ContractsFulfilled: 1, ContractsBreached: 1}, 9},
	} {
		if got := Score(Need{}, Offer{}, &tc.rec, time.Time{}).TrackRecord; got != tc.want {
			t.Errorf("%+v: track record %d, want %d", tc.rec, got, tc.want)
		}
	}
	_, why := Explain(Need{}, Offer{}, &Record{ActivityCount: 2, ContractsBreached: 1}, time.Time{})
	if !strings.Contains(strings.Join(why, "; "), "1 contract(s) breached") {
		t.Errorf("reasons %v do not name the breach", why)
	}
}

// A match ranks on the search's score plus RecordPoints: that must be Score's total with the
// record, whatever the need, offer and record.
func TestRecordPointsCompleteTheSearchScore(t *testing.T) {
	today := time.Date(2026, time.March, 11, 12, 0, 0, 0, time.UTC)
	need := Need{Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}, Tags: []string{"作业辅导"},
		Place: Place{Code: community, Path: []string{district, street, community}}, Schedule: []*typev1.WeeklyWindow{wed("15:00", "18:00")}}
	offers := []Offer{
		{},
		{Capabilities: childcare("作业辅导"), ServiceAreas: []string{community}, Availability: []*typev1.WeeklyWindow{wed("14:00", "19:00")}},
		{Capabilities: childcare(), ServiceAreas: []string{district}, Availability: []*typev1.WeeklyWindow{wed("16:00", "17:00")}},
	}
	records := []Record{
		{},
		{ActiveCommitments: 5, ActivityCount: 40, ContractsBreached: 3},
		{ActiveCommitments: 1, ActivityCount: 4, ContractsFulfilled: 1, LastActivity: time.Date(2026, time.March, 1, 0, 0, 0, 0, time.UTC)},
		{LastActivity: time.Date(2025, time.June, 1, 0, 0, 0, 0, time.UTC)},
	}
	for i, offer := range offers {
		for j, rec := range records {
			searched := Score(need, offer, nil, today).Total()
			if got, want := searched+RecordPoints(rec, today), Score(need, offer, &rec, today).Total(); got != want {
				t.Errorf("offer %d, record %d: search score %d + record points = %d, want the match's %d", i, j, searched, got, want)
			}
		}
	}
	if RecordPoints(Record{}, today) != pointsLoadMax {
		t.Errorf("an empty record scores %d, want the whole load part", RecordPoints(Record{}, today))
	}
}
