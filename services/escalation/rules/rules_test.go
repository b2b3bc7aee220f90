package rules_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/district"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

func TestDemo(t *testing.T) {
	r := rules.Demo()
	if r.District() != "450105" || r.District() != region.Demo().Root().Code {
		t.Errorf("District() = %q, want the demo tree's root 450105", r.District())
	}
	for _, tc := range []struct {
		category typev1.Category
		colour   rules.Colour
		level    region.Level
	}{
		{typev1.Category_CATEGORY_INFRASTRUCTURE, rules.Red, region.LevelDistrict},
		{typev1.Category_CATEGORY_ENVIRONMENT, rules.Green, region.LevelCommunity},
		{typev1.Category_CATEGORY_PROPERTY_HOUSING, rules.Yellow, region.LevelSubdistrict},
		{typev1.Category_CATEGORY_ELDERLY_CARE, rules.Green, region.LevelCommunity},
	} {
		rule, ok := r.ColourRule(tc.category)
		if !ok || rule.Category != tc.category || rule.Colour != tc.colour || rule.Level != tc.level {
			t.Errorf("ColourRule(%v) = %+v, %v; want %s at %s", tc.category, rule, ok, tc.colour, tc.level)
		}
	}
	if _, ok := r.ColourRule(typev1.Category_CATEGORY_UNSPECIFIED); ok {
		t.Error("ColourRule(UNSPECIFIED) found a rule")
	}
	// Every category of the proto enum but UNSPECIFIED has exactly one rule, in enum order.
	defaults := r.ColourRules()
	if want := len(typev1.Category_name) - 1; len(defaults) != want {
		t.Fatalf("ColourRules() has %d rules, want %d", len(defaults), want)
	}
	for i, rule := range defaults {
		if rule.Category != typev1.Category(i+1) || rule.Level != rule.Colour.Level() {
			t.Errorf("ColourRules()[%d] = %+v", i, rule)
		}
	}

	green := r.TimeLimits(rules.Green)
	if green.Acknowledge != district.ClockLimit(2*time.Hour) || green.Reply != district.WorkdayLimit(1) || green.Resolve != district.WorkdayLimit(3) {
		t.Errorf("TimeLimits(green) = %+v", green)
	}
	if red := r.TimeLimits(rules.Red); red.Resolve != district.WorkdayLimit(15) {
		t.Errorf("TimeLimits(red).Resolve = %v", red.Resolve)
	}
	for _, tc := range []struct {
		level region.Level
		after district.Limit
		ok    bool
	}{
		{region.LevelCommunity, district.WorkdayLimit(5), true},
		{region.LevelSubdistrict, district.WorkdayLimit(10), true},
		{region.LevelDistrict, district.Limit{}, false},
		{region.LevelGrid, district.Limit{}, false},
	} {
		if after, ok := r.EscalateAfter(tc.level); after != tc.after || ok != tc.ok {
			t.Errorf("EscalateAfter(%s) = %v, %v; want %v, %v", tc.level, after, ok, tc.after, tc.ok)
		}
	}
	if !r.Calendar().Covers(2026) || r.Calendar().Covers(2027) {
		t.Errorf("Calendar().Years() = %v, want [2026]", r.Calendar().Years())
	}
	if string(rules.DemoYAML()) == "" {
		t.Error("DemoYAML() is empty")
	}
}

func TestNextLevel(t *testing.T) {
	for _, tc := range []struct {
		from, to region.Level
		ok       bool
	}{
		{region.LevelCommunity, region.LevelSubdistrict, true},
		{region.LevelSubdistrict, region.LevelDistrict, true},
		{region.LevelDistrict, "", false},
		{region.LevelGrid, "", false},
	} {
		if to, ok := rules.NextLevel(tc.from); to != tc.to || ok != tc.ok {
			t.Errorf("NextLevel(%s) = %q, %v", tc.from, to, ok)
		}
	}
}

// edit returns the demo rules with old replaced by new, failing the test when old is not there
// (so a case cannot silently test the unchanged file).
func edit(t *testing.T, old, new string) string {
	t.Helper()
	src := string(rules.DemoYAML())
	if !strings.Contains(src, old) {
		t.Fatalf("the demo rules do not contain %q", old)
	}
	return strings.Replace(src, old, new, 1)
}

func TestParseRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		doc  func(t *testing.T) string
		want []string // each must appear in the error
	}{
		{
			name: "unknown category",
			doc: func(t *testing.T) string {
				return edit(t, "{category: MEDICAL,", "{category: PARKING,")
			},
			want: []string{`colour_rules[3].category: unknown category "PARKING"`, "colour_rules: no rule for MEDICAL (every category needs a rule without conditions)"},
		},
		{
			name: "category with its enum prefix",
			doc: func(t *testing.T) string {
				return edit(t, "{category: CHILDCARE,", "{category: CATEGORY_CHILDCARE,")
			},
			want: []string{`colour_rules[1].category: unknown category "CATEGORY_CHILDCARE" (write it without the CATEGORY_ prefix: "CHILDCARE")`},
		},
		{
			name: "unspecified category",
			doc: func(t *testing.T) string {
				return edit(t, "{category: OTHER,", "{category: UNSPECIFIED,")
			},
			want: []string{`colour_rules[11].category: unknown category "UNSPECIFIED"`},
		},
		{
			name: "duplicate category",
			doc: func(t *testing.T) string {
				return edit(t, "{category: EDUCATION,", "{category: ELDERLY_CARE,")
			},
			want: []string{`colour_rules[2].category "ELDERLY_CARE": duplicate, already given by colour_rules[0]`, "no rule for EDUCATION"},
		},
		{
			name: "unknown colour",
			doc: func(t *testing.T) string {
				return edit(t, "{category: SAFETY, colour: yellow,", "{category: SAFETY, colour: orange,")
			},
			want: []string{`colour_rules[9].colour: unknown colour "orange" (want green, yellow or red)`},
		},
		{
			name: "level contradicting the colour",
			doc: func(t *testing.T) string {
				return edit(t, "colour: red, level: district}", "colour: red, level: community}")
			},
			want: []string{`colour_rules[10].level "community": colour red means the district leads`},
		},
		{
			name: "unknown level",
			doc: func(t *testing.T) string {
				return edit(t, "colour: red, level: district}", "colour: red, level: city}")
			},
			want: []string{`colour_rules[10].level: unknown level "city"`},
		},
		{
			name: "unknown key in a colour rule",
			doc: func(t *testing.T) string {
				return edit(t, "{category: OTHER, colour: green,", "{category: OTHER, color: green,")
			},
			want: []string{`colour_rules[11].color: unknown key "color" (want category, colour, level, keywords, households_at_least, outside_party)`, `colour_rules[11]: missing key "colour"`},
		},
		{
			name: "unknown top-level key",
			doc: func(t *testing.T) string {
				return edit(t, "escalation:\n", "escalations:\n")
			},
			want: []string{`escalations: unknown key "escalations"`, `missing key "escalation"`},
		},
		{
			name: "district code as a number",
			doc: func(t *testing.T) string {
				return edit(t, `district: "450105"`, `district: 450105`)
			},
			want: []string{`district: must be a string, e.g. "450105", not a number (put it in quotes)`},
		},
		{
			name: "district code too short",
			doc: func(t *testing.T) string {
				return edit(t, `district: "450105"`, `district: "4501"`)
			},
			want: []string{`district "4501": must be a 6-digit district code`},
		},
		{
			name: "limit as a bare number",
			doc: func(t *testing.T) string {
				return edit(t, "{acknowledge: 4h,", "{acknowledge: 4,")
			},
			want: []string{`time_limits.yellow.acknowledge: must be a string such as "2h" or "3 workdays", not a number`},
		},
		{
			name: "limit in days",
			doc: func(t *testing.T) string {
				return edit(t, "resolve: 7 workdays}", "resolve: 7d}")
			},
			want: []string{`time_limits.yellow.resolve: "7d": want a clock duration such as "2h"`},
		},
		{
			name: "limit too short",
			doc: func(t *testing.T) string {
				return edit(t, "{acknowledge: 2h,", "{acknowledge: 30s,")
			},
			want: []string{`time_limits.green.acknowledge: "30s": a clock limit must be between 1m and 8784h`},
		},
		{
			name: "zero workdays",
			doc: func(t *testing.T) string {
				return edit(t, "reply: 1 workday,", "reply: 0 workdays,")
			},
			want: []string{`time_limits.green.reply: "0 workdays": want 1 to 250 workdays`},
		},
		{
			name: "reply after resolve",
			doc: func(t *testing.T) string {
				return edit(t, "reply: 3 workdays, resolve: 15 workdays}", "reply: 20 workdays, resolve: 15 workdays}")
			},
			want: []string{`time_limits.red.reply "20 workdays": must not end after resolve "15 workdays"`},
		},
		{
			name: "working days against a clock limit",
			doc: func(t *testing.T) string {
				return edit(t, "{acknowledge: 2h, reply: 1 workday,", "{acknowledge: 1 workday, reply: 30h,")
			},
			want: []string{`time_limits.green.acknowledge "1 workday": must not end after reply "30h" (working days can outlast a clock limit over a holiday`},
		},
		{
			name: "a colour missing",
			doc: func(t *testing.T) string {
				return edit(t, "  red: {acknowledge: 1 workday, reply: 3 workdays, resolve: 15 workdays}\n", "")
			},
			want: []string{`time_limits: missing key "red"`},
		},
		{
			name: "escalation before the resolve limit",
			doc: func(t *testing.T) string {
				return edit(t, "community: 5 workdays", "community: 2 workdays")
			},
			want: []string{`escalation.community "2 workdays": a case must not move up before its green resolve limit "3 workdays" runs out`},
		},
		{
			name: "escalation from the district",
			doc: func(t *testing.T) string {
				return edit(t, "subdistrict: 10 workdays", "subdistrict: 10 workdays\n  district: 20 workdays")
			},
			want: []string{`escalation.district: unknown key "district" (the district is the top of the ladder`},
		},
		{
			name: "holiday with a bad date",
			doc: func(t *testing.T) string {
				return edit(t, `from: "2026-04-04"`, `from: "2026-04-31"`)
			},
			want: []string{`calendar.holidays[2].from: "2026-04-31": want a date written YYYY-MM-DD`},
		},
		{
			name: "holiday ending before it starts",
			doc: func(t *testing.T) string {
				return edit(t, `to: "2026-06-21"`, `to: "2026-06-18"`)
			},
			want: []string{`calendar.holidays[4].to "2026-06-18": is before from "2026-06-19"`},
		},
		{
			name: "overlapping holidays",
			doc: func(t *testing.T) string {
				return edit(t, `{name: 中秋节, from: "2026-09-25", to: "2026-09-27"}`, `{name: 中秋节, from: "2026-09-25", to: "2026-10-01"}`)
			},
			want: []string{`calendar.holidays[6]: 2026-10-01 is already listed by calendar.holidays[5] (中秋节)`},
		},
		{
			name: "make-up working day on a weekday",
			doc: func(t *testing.T) string {
				return edit(t, `date: "2026-05-09"`, `date: "2026-05-11"`)
			},
			want: []string{`calendar.workdays[3].date "2026-05-11": is a Monday; a make-up working day (调休) is a Saturday or Sunday`},
		},
		{
			name: "make-up working day inside a holiday",
			doc: func(t *testing.T) string {
				return edit(t, `date: "2026-10-10"`, `date: "2026-10-03"`)
			},
			want: []string{`calendar.workdays[5].date "2026-10-03": is already listed by calendar.holidays[6] (国庆节)`},
		},
		{
			name: "make-up working day in a year without holidays",
			doc: func(t *testing.T) string {
				return edit(t, `date: "2026-10-10"`, `date: "2028-10-14"`)
			},
			want: []string{`calendar.workdays: 2028-10-14 is in 2028, for which no holidays are listed`},
		},
		{
			name: "holiday with both date and from",
			doc: func(t *testing.T) string {
				return edit(t, `{name: 元旦, from: "2026-01-01", to: "2026-01-03"}`, `{name: 元旦, date: "2026-01-01", from: "2026-01-01", to: "2026-01-03"}`)
			},
			want: []string{`calendar.holidays[0]: give either date (one day) or from and to, not both`},
		},
		{
			name: "holiday too long",
			doc: func(t *testing.T) string {
				return edit(t, `to: "2026-10-07"`, `to: "2026-10-30"`)
			},
			want: []string{`calendar.holidays[6]: 2026-10-01 to 2026-10-30 is 30 days`},
		},
		{
			name: "duplicate YAML key",
			doc: func(t *testing.T) string {
				return edit(t, `district: "450105"`, "district: \"450105\"\ndistrict: \"450103\"")
			},
			want: []string{`key "district" already set in map`},
		},
		{
			name: "conditional rule with an unknown key",
			doc: func(t *testing.T) string {
				return edit(t, "{households_at_least: 100, colour: yellow}", "{households: 100, colour: yellow}")
			},
			want: []string{`colour_rules[13].households: unknown key "households"`, `colour_rules[13]: a rule without conditions is a category's default: give its category`},
		},
		{
			name: "households not a number",
			doc: func(t *testing.T) string {
				return edit(t, "{households_at_least: 100,", "{households_at_least: many,")
			},
			want: []string{`colour_rules[13].households_at_least: must be a whole number from 1 to 100000, not many`},
		},
		{
			name: "empty keyword",
			doc: func(t *testing.T) string {
				return edit(t, "[变压器, 跳闸,", `[变压器, " ",`)
			},
			want: []string{`colour_rules[14].keywords[1] " ": must be a word or phrase`},
		},
		{
			name: "outside_party false",
			doc: func(t *testing.T) string {
				return edit(t, "{outside_party: true,", "{outside_party: false,")
			},
			want: []string{`colour_rules[12].outside_party: false is no condition`},
		},
		{
			name: "unknown colour in a conditional rule",
			doc: func(t *testing.T) string {
				return edit(t, "{outside_party: true, colour: yellow}", "{outside_party: true, colour: amber}")
			},
			want: []string{`colour_rules[12].colour: unknown colour "amber"`},
		},
		{
			name: "department id with capitals",
			doc: func(t *testing.T) string {
				return edit(t, "{id: power,", "{id: Power,")
			},
			want: []string{`departments[1].id "Power": must be 2 to 31 lower-case letters`},
		},
		{
			name: "duplicate department",
			doc: func(t *testing.T) string {
				return edit(t, "{id: power,", "{id: housing,")
			},
			want: []string{`departments[1].id "housing": duplicate`},
		},
		{
			name: "department contact with a space",
			doc: func(t *testing.T) string {
				return edit(t, `contact: "wecom:jiangnan-power"`, `contact: "wecom jiangnan power"`)
			},
			want: []string{`departments[1].contact: 3 to 200 characters with no spaces`},
		},
		{
			name: "office of a grid",
			doc: func(t *testing.T) string {
				return edit(t, `{region: "450105001", contact:`, `{region: "450105001001001", contact:`)
			},
			want: []string{`offices[1].region "450105001001001": must be the code of the district (6 digits), a sub-district (9) or a community (12)`},
		},
		{
			name: "duplicate office",
			doc: func(t *testing.T) string {
				return edit(t, `{region: "450105001", contact:`, `{region: "450105", contact:`)
			},
			want: []string{`offices[1].region "450105": duplicate`},
		},
		{
			name: "office without a contact",
			doc: func(t *testing.T) string {
				return edit(t, `{region: "450105001", contact: "wecom:jiangnan-street-office"}`, `{region: "450105001"}`)
			},
			want: []string{`offices[1]: missing key "contact"`},
		},
		{
			name: "office with an unknown key",
			doc: func(t *testing.T) string {
				return edit(t, `{region: "450105001", contact:`, `{region: "450105001", phone: "x", contact:`)
			},
			want: []string{`offices[1].phone: unknown key "phone"`},
		},
		{
			name: "no departments",
			doc: func(t *testing.T) string {
				return edit(t, "departments:\n", "departmentz:\n")
			},
			want: []string{`departmentz: unknown key "departmentz"`, `missing key "departments"`},
		},
		{
			name: "empty document",
			doc:  func(*testing.T) string { return "# nothing\n" },
			want: []string{"the document is empty"},
		},
		{
			name: "a list, not a mapping",
			doc:  func(*testing.T) string { return "- a\n- b\n" },
			want: []string{"the document: must be a mapping with keys district, calendar, colour_rules"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := rules.Parse([]byte(tc.doc(t)))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", r)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not contain %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestOffices: the demo's offices are found by region, departments carry their contacts, and
// an office the region tree does not have is refused when the service checks them.
func TestOffices(t *testing.T) {
	r := rules.Demo()
	if c, ok := r.OfficeContact("450105001"); !ok || c != "wecom:jiangnan-street-office" {
		t.Errorf("office 450105001 = %q, %v", c, ok)
	}
	if _, ok := r.OfficeContact("450105003"); ok {
		t.Error("an office the file leaves out has a contact")
	}
	if d, _ := r.Department("power"); d.Contact != "wecom:jiangnan-power" {
		t.Errorf("power's contact = %q", d.Contact)
	}
	if err := r.CheckOffices(region.Demo()); err != nil {
		t.Errorf("the demo's offices: %v", err)
	}
	other, err := rules.Parse([]byte(edit(t, `{region: "450105001", contact:`, `{region: "450105009", contact:`)))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.CheckOffices(region.Demo()); err == nil || !strings.Contains(err.Error(), "offices: 450105009") {
		t.Errorf("an office outside the tree: %v", err)
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(path, []byte(edit(t, "{category: MEDICAL,", "{category: PARKING,")), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := rules.Load(path)
	if want := path + `: colour_rules[3].category: unknown category "PARKING"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Load error = %v, want it to contain %q", err, want)
	}

	if err := os.WriteFile(path, rules.DemoYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := rules.Load(path)
	if err != nil || r.District() != "450105" {
		t.Fatalf("Load(demo copy) = %v, %v", r, err)
	}
	if _, err := rules.Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "reading district rules") {
		t.Fatalf("Load(missing) error = %v", err)
	}
}

func TestParseMinimal(t *testing.T) {
	// The smallest valid file: level left out, one holiday given by date, no make-up days.
	var b strings.Builder
	b.WriteString("district: \"450103\"\ncolour_rules:\n")
	for _, c := range []string{"ELDERLY_CARE", "CHILDCARE", "EDUCATION", "MEDICAL", "LEGAL_AID", "EMPLOYMENT",
		"CULTURE_SPORTS", "PROPERTY_HOUSING", "ENVIRONMENT", "SAFETY", "INFRASTRUCTURE", "OTHER"} {
		b.WriteString("  - {category: " + c + ", colour: yellow}\n")
	}
	b.WriteString(`time_limits:
  green: {acknowledge: 1h, reply: 1h, resolve: 1h}
  yellow: {acknowledge: 90m, reply: 1 workday, resolve: 1 workday}
  red: {acknowledge: 24h, reply: 24h, resolve: 2 workdays}
escalation: {community: 1h, subdistrict: 1 workday}
departments: [{id: power, name: 供电}]
calendar:
  holidays:
    - {name: 元旦, date: "2027-01-01"}
`)
	r, err := rules.Parse([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	rule, _ := r.ColourRule(typev1.Category_CATEGORY_OTHER)
	if rule.Colour != rules.Yellow || rule.Level != region.LevelSubdistrict {
		t.Errorf("OTHER = %+v, want yellow with its level derived", rule)
	}
	if a := r.TimeLimits(rules.Yellow).Acknowledge; a.String() != "1h30m" {
		t.Errorf("yellow acknowledge = %v", a)
	}
	cal := r.Calendar()
	if !cal.Covers(2027) || cal.Covers(2026) || cal.IsWorkingDay(time.Date(2027, 1, 1, 9, 0, 0, 0, calendar.TimeZone())) {
		t.Errorf("calendar: years %v, 2027-01-01 working %v", cal.Years(), cal.IsWorkingDay(time.Date(2027, 1, 1, 9, 0, 0, 0, calendar.TimeZone())))
	}
}

func cst(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, calendar.TimeZone())
}

func TestCalendar(t *testing.T) {
	cal := rules.Demo().Calendar()
	for _, tc := range []struct {
		day     time.Time
		working bool
		holiday string
		makeUp  string
	}{
		{day: cst(2026, 2, 14, 10, 0), working: true, makeUp: "春节调休"}, // a Saturday worked
		{day: cst(2026, 2, 16, 10, 0), working: false, holiday: "春节"}, // a Monday off
		{day: cst(2026, 2, 21, 10, 0), working: false, holiday: "春节"}, // a Saturday inside the holiday
		{day: cst(2026, 3, 2, 10, 0), working: true},                  // an ordinary Monday
		{day: cst(2026, 3, 7, 10, 0), working: false},                 // an ordinary Saturday
		{day: cst(2026, 10, 7, 23, 59), working: false, holiday: "国庆节"},
		{day: cst(2026, 10, 10, 0, 0), working: true, makeUp: "国庆节调休"},
		// 2026-10-07 16:30 UTC is already 10-08 in China: the day counts in China Standard Time.
		{day: time.Date(2026, 10, 7, 16, 30, 0, 0, time.UTC), working: true},
		{day: time.Date(2026, 10, 7, 15, 30, 0, 0, time.UTC), working: false, holiday: "国庆节"},
	} {
		if got := cal.IsWorkingDay(tc.day); got != tc.working {
			t.Errorf("IsWorkingDay(%v) = %v", tc.day, got)
		}
		if name, ok := cal.Holiday(tc.day); name != tc.holiday || ok != (tc.holiday != "") {
			t.Errorf("Holiday(%v) = %q, %v", tc.day, name, ok)
		}
		if name, ok := cal.MakeUpWorkday(tc.day); name != tc.makeUp || ok != (tc.makeUp != "") {
			t.Errorf("MakeUpWorkday(%v) = %q, %v", tc.day, name, ok)
		}
	}

	var none *calendar.Calendar // the plain Monday-to-Friday week
	if none.IsWorkingDay(cst(2026, 10, 1, 9, 0)) != true || none.IsWorkingDay(cst(2026, 10, 3, 9, 0)) || none.Covers(2026) || none.Years() != nil {
		t.Error("nil calendar")
	}
	if _, ok := none.Holiday(cst(2026, 10, 1, 9, 0)); ok {
		t.Error("nil calendar has a holiday")
	}
}

func TestDue(t *testing.T) {
	cal := rules.Demo().Calendar()
	for _, tc := range []struct {
		name  string
		limit district.Limit
		from  time.Time
		cal   *calendar.Calendar
		want  time.Time
	}{
		{
			name:  "clock time runs through the holiday",
			limit: district.ClockLimit(2 * time.Hour), from: cst(2026, 10, 1, 23, 0), cal: cal,
			want: cst(2026, 10, 2, 1, 0),
		},
		{
			name:  "one working day from Friday evening is the make-up Saturday",
			limit: district.WorkdayLimit(1), from: cst(2026, 2, 13, 18, 0), cal: cal,
			want: cst(2026, 2, 15, 0, 0),
		},
		{
			name:  "three working days across the Spring Festival",
			limit: district.WorkdayLimit(3), from: cst(2026, 2, 13, 18, 0), cal: cal,
			want: cst(2026, 2, 26, 0, 0), // 02-14 (调休), 02-24, 02-25
		},
		{
			name:  "without a calendar only weekends are skipped",
			limit: district.WorkdayLimit(3), from: cst(2026, 2, 13, 18, 0), cal: nil,
			want: cst(2026, 2, 19, 0, 0), // 02-16, 02-17, 02-18
		},
		{
			name:  "the start day counts in China Standard Time",
			limit: district.WorkdayLimit(1), from: time.Date(2026, 2, 13, 17, 0, 0, 0, time.UTC), cal: cal, // 02-14 01:00 CST
			want: cst(2026, 2, 25, 0, 0), // 02-15…02-23 off, 02-24 is the first working day after
		},
		{
			name:  "five working days over National Day",
			limit: district.WorkdayLimit(5), from: cst(2026, 9, 30, 9, 0), cal: cal,
			want: cst(2026, 10, 14, 0, 0), // 10-08, 10-09, 10-10 (调休), 10-12, 10-13
		},
		{
			name:  "no limit",
			limit: district.Limit{}, from: cst(2026, 3, 3, 9, 0), cal: cal,
			want: cst(2026, 3, 3, 9, 0),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.limit.Due(tc.from, tc.cal); !got.Equal(tc.want) {
				t.Errorf("Due(%v) = %v, want %v", tc.from, got.In(calendar.TimeZone()), tc.want)
			}
		})
	}
}

func TestCategoryNames(t *testing.T) {
	for n, full := range typev1.Category_name {
		c := typev1.Category(n)
		short := rules.CategoryName(c)
		if "CATEGORY_"+short != full {
			t.Errorf("CategoryName(%v) = %q", c, short)
		}
		got, err := rules.ParseCategory(short)
		if c == typev1.Category_CATEGORY_UNSPECIFIED {
			if err == nil {
				t.Error("ParseCategory(UNSPECIFIED) succeeded")
			}
			continue
		}
		if err != nil || got != c {
			t.Errorf("ParseCategory(%q) = %v, %v", short, got, err)
		}
	}
}

func TestColours(t *testing.T) {
	want := map[rules.Colour]struct {
		level   region.Level
		chinese string
	}{
		rules.Green:  {region.LevelCommunity, "绿"},
		rules.Yellow: {region.LevelSubdistrict, "黄"},
		rules.Red:    {region.LevelDistrict, "红"},
	}
	if cs := rules.Colours(); len(cs) != 3 || cs[0] != rules.Green || cs[2] != rules.Red {
		t.Errorf("Colours() = %v", cs)
	}
	for c, w := range want {
		if c.Level() != w.level || c.Chinese() != w.chinese || !c.Valid() {
			t.Errorf("%s: Level %s Chinese %s", c, c.Level(), c.Chinese())
		}
		if got, err := rules.ParseColour(string(c)); err != nil || got != c {
			t.Errorf("ParseColour(%q) = %v, %v", c, got, err)
		}
	}
	if _, err := rules.ParseColour("Green"); err == nil {
		t.Error("ParseColour is case-insensitive")
	}
	if rules.Colour("blue").Level() != "" || rules.Colour("blue").Valid() {
		t.Error("blue is a colour")
	}
}

func TestSuggest(t *testing.T) {
	r := rules.Demo()
	for _, tc := range []struct {
		name   string
		facts  rules.Facts
		colour rules.Colour
		reason string
	}{
		{"overflowing bins: green by category", rules.Facts{Category: typev1.Category_CATEGORY_ENVIRONMENT, Text: "小区垃圾桶满溢", Households: 30}, rules.Green, "colour_rules[8]: category ENVIRONMENT"},
		{"tangled cables: the telecom operators are outside the community", rules.Facts{Category: typev1.Category_CATEGORY_SAFETY, Text: "新旧网线错综复杂，存在安全隐患", OutsideParty: true}, rules.Yellow, "colour_rules[9]: category SAFETY"},
		{"a green category raised by a party outside", rules.Facts{Category: typev1.Category_CATEGORY_ENVIRONMENT, Text: "垃圾清运公司不来", OutsideParty: true}, rules.Yellow, "colour_rules[12]: party responsible outside the community"},
		{"a whole compound", rules.Facts{Category: typev1.Category_CATEGORY_OTHER, Text: "小区门禁坏了", Households: 240}, rules.Yellow, "colour_rules[13]: 240 households affected (at least 100)"},
		{"a transformer, whatever the category", rules.Facts{Category: typev1.Category_CATEGORY_SAFETY, Text: "老旧变压器经常跳闸"}, rules.Red, "colour_rules[14]: keyword 变压器"},
		{"red by category", rules.Facts{Category: typev1.Category_CATEGORY_INFRASTRUCTURE, Text: "路灯不亮"}, rules.Red, "colour_rules[10]: category INFRASTRUCTURE"},
		{"an unknown category", rules.Facts{}, rules.Green, "no rule for the category"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := r.Suggest(tc.facts)
			if got.Colour != tc.colour || !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("Suggest = %+v, want %s because %q", got, tc.colour, tc.reason)
			}
		})
	}
	if d, ok := r.Department("power"); !ok || d.Name == "" {
		t.Errorf("Department(power) = %+v, %v", d, ok)
	}
	if _, ok := r.Department("police"); ok {
		t.Error("Department(police) found")
	}
	if len(r.Departments()) != 4 || len(r.ConditionalRules()) != 3 {
		t.Errorf("%d departments, %d conditional rules", len(r.Departments()), len(r.ConditionalRules()))
	}
	for _, tc := range []struct {
		c            rules.Colour
		above, below rules.Colour
	}{{rules.Green, rules.Yellow, ""}, {rules.Yellow, rules.Red, rules.Green}, {rules.Red, "", rules.Yellow}} {
		if a, _ := tc.c.Above(); a != tc.above {
			t.Errorf("%s.Above() = %s", tc.c, a)
		}
		if b, _ := tc.c.Below(); b != tc.below {
			t.Errorf("%s.Below() = %s", tc.c, b)
		}
	}
}
