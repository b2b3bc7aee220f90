package district_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/district"
)

// doc is a rules file of the platform's keys only, with the 2026 holidays that matter here.
const doc = `district: "450105"
calendar:
  holidays:
    - {name: 春节, from: "2026-02-15", to: "2026-02-23"}
    - {name: 国庆节, from: "2026-10-01", to: "2026-10-07"}
  workdays:
    - {name: 春节调休, date: "2026-02-14"}
    - {name: 春节调休, date: "2026-02-28"}
    - {name: 国庆节调休, date: "2026-09-20"}
    - {name: 国庆节调休, date: "2026-10-10"}
`

func parse(t *testing.T, src string, sections ...district.Section) *district.Rules {
	t.Helper()
	r, err := district.Parse([]byte(src), sections...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSections(t *testing.T) {
	var got []string
	sec := district.Section{Key: "things", Parse: func(p *district.Parser, raw any) {
		m := p.Mapping(raw, "things", []string{"a", "b"}, []string{"a"}, nil)
		if s, ok := p.Str(m, "things", "a", "x"); ok {
			got = append(got, s)
		}
	}}
	r := parse(t, doc+"things: {a: one}\n", sec)
	if r.District() != "450105" || len(got) != 1 || got[0] != "one" {
		t.Fatalf("District %q, section saw %v", r.District(), got)
	}
	for _, tc := range []struct {
		name, src string
		sections  []district.Section
		want      []string
	}{
		{"a key no section owns", doc + "things: {a: one}\n", nil, []string{`unknown key "things" (want district, calendar)`}},
		{"a section's key missing", doc, []district.Section{sec}, []string{`missing key "things"`}},
		{"a section's problem", doc + "things: {a: one, c: 2}\n", []district.Section{sec}, []string{`things.c: unknown key "c" (want a, b)`}},
		{"bad district", strings.Replace(doc, `"450105"`, `"4501"`, 1), nil, []string{`district "4501": must be a 6-digit`}},
		{"a make-up day on a weekday", strings.Replace(doc, `date: "2026-10-10"`, `date: "2026-10-09"`, 1), nil, []string{"is a Friday"}},
		{"empty", "", nil, []string{"the document is empty"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := district.Parse([]byte(tc.src), tc.sections...)
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(doc+"extra: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := district.Load(path); err == nil || !strings.Contains(err.Error(), path+`: extra: unknown key "extra"`) {
		t.Fatalf("Load error = %v", err)
	}
	if _, err := district.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "reading district rules") {
		t.Fatalf("Load(missing) error = %v", err)
	}
}

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    district.Limit
		str     string
		wantErr string
	}{
		{in: "2h", want: district.ClockLimit(2 * time.Hour), str: "2h"},
		{in: "90m", want: district.ClockLimit(90 * time.Minute), str: "1h30m"},
		{in: "1m", want: district.ClockLimit(time.Minute), str: "1m"},
		{in: "1 workday", want: district.WorkdayLimit(1), str: "1 workday"},
		{in: "3 workdays", want: district.WorkdayLimit(3), str: "3 workdays"},
		{in: "250 workdays", want: district.WorkdayLimit(250), str: "250 workdays"},
		{in: "251 workdays", wantErr: "want 1 to 250 workdays"},
		{in: "3 days", wantErr: "want a clock duration"},
		{in: "-2h", wantErr: "between 1m and"},
		{in: "9000h", wantErr: "between 1m and"},
		{in: "", wantErr: "want a clock duration"},
	} {
		got, err := district.ParseLimit(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseLimit(%q) = %v, %v; want error containing %q", tc.in, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want || got.String() != tc.str {
			t.Errorf("ParseLimit(%q) = %v (%s), %v; want %v (%s)", tc.in, got, got.String(), err, tc.want, tc.str)
		}
	}
	if ok, _ := district.NoLaterThan(district.ClockLimit(2*time.Hour), district.WorkdayLimit(1)); !ok {
		t.Error("2h is no later than 1 workday")
	}
	if ok, hint := district.NoLaterThan(district.WorkdayLimit(1), district.ClockLimit(30*time.Hour)); ok || hint == "" {
		t.Error("a working day may outlast a clock limit")
	}
}

func cst(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, calendar.TimeZone())
}

func TestCalendarAndDue(t *testing.T) {
	cal := parse(t, doc).Calendar()
	if !cal.IsWorkingDay(cst(2026, 10, 10, 9, 0)) || cal.IsWorkingDay(cst(2026, 10, 7, 9, 0)) {
		t.Error("10-10 is a make-up working day and 10-07 a holiday")
	}
	for _, tc := range []struct {
		name  string
		limit district.Limit
		from  time.Time
		cal   *calendar.Calendar
		want  time.Time
	}{
		{"clock time runs through the holiday", district.ClockLimit(2 * time.Hour), cst(2026, 10, 1, 23, 0), cal, cst(2026, 10, 2, 1, 0)},
		{"one working day from Friday evening is the make-up Saturday", district.WorkdayLimit(1), cst(2026, 2, 13, 18, 0), cal, cst(2026, 2, 15, 0, 0)},
		{"three working days across the Spring Festival", district.WorkdayLimit(3), cst(2026, 2, 13, 18, 0), cal, cst(2026, 2, 26, 0, 0)},
		{"without a calendar only weekends are skipped", district.WorkdayLimit(3), cst(2026, 2, 13, 18, 0), nil, cst(2026, 2, 19, 0, 0)},
		{"five working days over National Day", district.WorkdayLimit(5), cst(2026, 9, 30, 9, 0), cal, cst(2026, 10, 14, 0, 0)},
		{"no limit", district.Limit{}, cst(2026, 3, 3, 9, 0), cal, cst(2026, 3, 3, 9, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.limit.Due(tc.from, tc.cal); !got.Equal(tc.want) {
				t.Errorf("Due(%v) = %v, want %v", tc.from, got.In(calendar.TimeZone()), tc.want)
			}
		})
	}
}
