// Package district reads a district's operating rules file (rules.yaml, shipped in the
// district's Kubernetes overlay next to its region tree): the district's code and its holiday
// calendar (法定节假日 and 调休 make-up working days) that working-day limits count against,
// which are the platform's, and the sections that belong to a service — the three-colour list,
// time limits and escalation ladder are the escalation service's (services/escalation/rules).
// The calendar itself, and the Date it is made of, are platform/calendar's; [Limit] is a time
// limit counted on it, which any service's section may use.
//
// The file is loaded as strictly as the tree: unknown keys, missing keys and contradictions are
// errors naming the file and the key, e.g.
//
//	rules.yaml: colour_rules[3].category: unknown category "PARKING"
//
// A service reading the file passes its [Section]s to [Load]; every key of the file must be the
// platform's or one of theirs. A [Rules] value is immutable once parsed.
package district

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/yamldoc"
)

// maxHolidaySpan bounds one holiday entry: the longest Chinese public holiday is nine days.
const maxHolidaySpan = 15

// Rules are the platform's part of a district's rules: its code and its calendar.
type Rules struct {
	district string
	cal      *calendar.Calendar
}

// District returns the 6-digit code of the district the rules are for; it must be the root of
// the district's region tree.
func (r *Rules) District() string { return r.district }

// Calendar returns the holiday calendar working-day limits count against.
func (r *Rules) Calendar() *calendar.Calendar { return r.cal }

// Section is a top-level key of the rules file that a service owns. Parse reads its value,
// reporting problems through p under the key; it is called (in the order the sections are
// given) only when the key is present, and a missing key is reported for it.
type Section struct {
	Key   string
	Parse func(p *Parser, raw any)
	// Optional: a file may leave the key out (a section added after districts wrote their
	// files, or one only some districts need).
	Optional bool
}

// platformKeys are the keys this package reads itself.
var platformKeys = []string{"district", "calendar"}

// Load reads and parses a rules file with the given sections. Every problem in the error starts
// with path.
func Load(path string, sections ...Section) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading district rules: %w", err)
	}
	return parse(path, data, sections)
}

// Parse parses and validates a rules document. It is a mapping with exactly these keys:
//
//	district:  the district's 6-digit code, quoted ("450105")
//	calendar:  {holidays: [{name, from, to} or {name, date}], workdays: [{name, date}]},
//	           workdays being weekend days worked in exchange for a holiday (调休)
//
// and one key per section, parsed by the section. All problems found are reported together,
// each naming its key.
func Parse(data []byte, sections ...Section) (*Rules, error) {
	return parse("", data, sections)
}

func parse(source string, data []byte, sections []Section) (*Rules, error) {
	p := &Parser{Problems: yamldoc.New(source)}
	keys := slices.Clone(platformKeys)
	required := slices.Clone(platformKeys)
	for _, s := range sections {
		keys = append(keys, s.Key)
		if !s.Optional {
			required = append(required, s.Key)
		}
	}
	r := &Rules{}
	doc, ok := p.Decode(data, "the document is empty: want a mapping with keys "+strings.Join(keys, ", "))
	if ok {
		if m := p.Mapping(doc, "", keys, required, nil); m != nil {
			p.root(m, r)
			for _, s := range sections {
				if raw, ok := m[s.Key]; ok {
					s.Parse(p, raw)
				}
			}
		}
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

// Parser reads a rules document, collecting every problem with the key it is under. Sections
// use its helpers so that their messages read like the platform's.
type Parser struct {
	*yamldoc.Problems
}

var (
	calendarKeys = []string{"holidays", "workdays"}
	holidayKeys  = []string{"name", "from", "to", "date"}
	workdayKeys  = []string{"name", "date"}
)

// Join names a key under path: Join("", "calendar") = "calendar", Join("calendar", "holidays")
// = "calendar.holidays".
func Join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Mapping checks that raw is a mapping holding only keys from allowed and every key of
// required; it reports problems and returns nil when raw is not a mapping at all. why, when
// set, explains a key that must not be there.
func (p *Parser) Mapping(raw any, path string, allowed, required []string, why map[string]string) map[string]any {
	m, ok := raw.(map[string]any)
	if !ok {
		where := path
		if where == "" {
			where = "the document"
		}
		p.Add("%s: must be a mapping with keys %s, not %s", where, strings.Join(allowed, ", "), yamldoc.Kind(raw))
		return nil
	}
	var unknown []string
	for k := range m {
		if !slices.Contains(allowed, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		if w, ok := why[k]; ok {
			p.Add("%s: unknown key %q (%s)", Join(path, k), k, w)
		} else {
			p.Add("%s: unknown key %q (want %s)", Join(path, k), k, strings.Join(allowed, ", "))
		}
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			if path == "" {
				p.Add("missing key %q", k)
			} else {
				p.Add("%s: missing key %q", path, k)
			}
		}
	}
	return m
}

// Str returns the string at m[key]; ok is false (with a problem reported) when it is there but
// not a non-empty string, and false silently when it is absent.
func (p *Parser) Str(m map[string]any, path, key, example string) (string, bool) {
	raw, present := m[key]
	if !present {
		return "", false
	}
	s, ok := raw.(string)
	switch {
	case !ok:
		p.Add("%s: must be a string, e.g. %s, not %s (put it in quotes)", Join(path, key), example, yamldoc.Kind(raw))
		return "", false
	case strings.TrimSpace(s) == "":
		p.Add("%s: must not be empty", Join(path, key))
		return "", false
	case strings.TrimSpace(s) != s:
		p.Add("%s %q: must not begin or end with spaces", Join(path, key), s)
		return "", false
	}
	return s, true
}

// List returns the list at m[key]; present is whether the key is there at all.
func (p *Parser) List(m map[string]any, path, key string) (list []any, present bool) {
	raw, present := m[key]
	if !present || raw == nil {
		return nil, present
	}
	l, ok := raw.([]any)
	if !ok {
		p.Add("%s: must be a list, not %s", Join(path, key), yamldoc.Kind(raw))
		return nil, false
	}
	return l, true
}

// Limit reads a time limit ("2h", "3 workdays") at m[key]; ok is false when it is absent or
// invalid (reported).
func (p *Parser) Limit(m map[string]any, path, key string) (Limit, bool) {
	raw, present := m[key]
	if !present {
		return Limit{}, false
	}
	s, ok := raw.(string)
	if !ok {
		p.Add("%s: must be a string such as \"2h\" or \"3 workdays\", not %s", Join(path, key), yamldoc.Kind(raw))
		return Limit{}, false
	}
	l, err := ParseLimit(s)
	if err != nil {
		p.Add("%s: %v", Join(path, key), err)
		return Limit{}, false
	}
	return l, true
}

func (p *Parser) root(m map[string]any, r *Rules) {
	if code, ok := p.Str(m, "", "district", `"450105"`); ok {
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			p.Add("district %q: must be a 6-digit district code (GB/T 2260), e.g. \"450105\"", code)
		} else {
			r.district = code
		}
	}
	if raw, ok := m["calendar"]; ok {
		r.cal = p.calendar(raw)
	}
}

func (p *Parser) calendar(raw any) *calendar.Calendar {
	const path = "calendar"
	m := p.Mapping(raw, path, calendarKeys, calendarKeys[:1], nil)
	if m == nil {
		return nil
	}
	holidayNames, workdayNames := make(map[calendar.Date]string), make(map[calendar.Date]string)
	years := make(map[int]bool)            // years with a holiday listed
	seen := make(map[calendar.Date]string) // date → the entry that listed it, for messages
	holidays, present := p.List(m, path, "holidays")
	for i, item := range holidays {
		where := fmt.Sprintf("%s.holidays[%d]", path, i)
		hm := p.Mapping(item, where, holidayKeys, []string{"name"}, nil)
		if hm == nil {
			continue
		}
		name, nameOK := p.Str(hm, where, "name", "国庆节")
		from, to, ok := p.span(hm, where)
		if !ok || !nameOK {
			continue
		}
		for d := from; d.Compare(to) <= 0; d = d.AddDays(1) {
			if prev, dup := seen[d]; dup {
				p.Add("%s: %s is already listed by %s", where, d, prev)
				continue
			}
			seen[d] = fmt.Sprintf("%s (%s)", where, name)
			holidayNames[d] = name
			years[d.Year] = true
		}
	}
	if present && len(holidays) == 0 {
		p.Add("%s.holidays: must list at least one holiday", path)
	}
	workdays, _ := p.List(m, path, "workdays")
	for i, item := range workdays {
		where := fmt.Sprintf("%s.workdays[%d]", path, i)
		wm := p.Mapping(item, where, workdayKeys, workdayKeys, nil)
		if wm == nil {
			continue
		}
		name, nameOK := p.Str(wm, where, "name", "国庆节调休")
		d, ok := p.date(wm, where, "date")
		if !ok || !nameOK {
			continue
		}
		if !d.IsWeekend() {
			p.Add("%s.date %q: is a %s; a make-up working day (调休) is a Saturday or Sunday", where, d, d.Weekday())
			continue
		}
		if prev, dup := seen[d]; dup {
			p.Add("%s.date %q: is already listed by %s", where, d, prev)
			continue
		}
		seen[d] = fmt.Sprintf("%s (%s)", where, name)
		workdayNames[d] = name
	}
	// A make-up day is worked in exchange for a holiday of the same arrangement, so its year must
	// have holidays listed (January's arrangement may use a day of the year before).
	for d := range workdayNames {
		if !years[d.Year] && !years[d.Year+1] {
			p.Add("%s.workdays: %s is in %d, for which no holidays are listed", path, d, d.Year)
		}
	}
	return calendar.New(holidayNames, workdayNames)
}

// span reads a holiday's dates: either date, or from and to (inclusive).
func (p *Parser) span(m map[string]any, where string) (from, to calendar.Date, ok bool) {
	_, hasDate := m["date"]
	_, hasFrom := m["from"]
	_, hasTo := m["to"]
	switch {
	case hasDate && (hasFrom || hasTo):
		p.Add("%s: give either date (one day) or from and to, not both", where)
		return calendar.Date{}, calendar.Date{}, false
	case hasDate:
		d, ok := p.date(m, where, "date")
		return d, d, ok
	case !hasFrom || !hasTo:
		p.Add("%s: give date (one day) or both from and to", where)
		return calendar.Date{}, calendar.Date{}, false
	}
	from, ok1 := p.date(m, where, "from")
	to, ok2 := p.date(m, where, "to")
	if !ok1 || !ok2 {
		return calendar.Date{}, calendar.Date{}, false
	}
	if to.Compare(from) < 0 {
		p.Add("%s.to %q: is before from %q", where, to, from)
		return calendar.Date{}, calendar.Date{}, false
	}
	if days := to.DaysSince(from) + 1; days > maxHolidaySpan {
		p.Add("%s: %s to %s is %d days; no public holiday is longer than %d", where, from, to, days, maxHolidaySpan)
		return calendar.Date{}, calendar.Date{}, false
	}
	return from, to, true
}

func (p *Parser) date(m map[string]any, path, key string) (calendar.Date, bool) {
	raw, present := m[key]
	if !present {
		return calendar.Date{}, false
	}
	s, ok := raw.(string)
	if !ok {
		p.Add("%s: must be a date written YYYY-MM-DD, not %s", Join(path, key), yamldoc.Kind(raw))
		return calendar.Date{}, false
	}
	d, err := calendar.ParseDate(s)
	if err != nil {
		p.Add("%s: %v", Join(path, key), err)
		return calendar.Date{}, false
	}
	return d, true
}
