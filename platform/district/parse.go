package district

import (
	"fmt"
	"os"
	"slices"
	"strings"

	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/yamldoc"
)

// maxHolidaySpan bounds one holiday entry: the longest Chinese public holiday is nine days.
const maxHolidaySpan = 15

// Load reads and parses a rules file. Every problem in the error starts with path.
func Load(path string) (*Rules, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading district rules: %w", err)
	}
	return parse(path, data)
}

// Parse parses and validates a rules document. It is a mapping with exactly these keys:
//
//	district:      the district's 6-digit code, quoted ("450105")
//	colour_rules:  one {category, colour, level} per category of the shared taxonomy (category
//	               without its CATEGORY_ prefix; colour green, yellow or red; level optional,
//	               and when given the colour's own: community, subdistrict, district)
//	time_limits:   for each colour {acknowledge, reply, resolve}, each "2h"-style clock time
//	               or "3 workdays"; acknowledge ≤ reply ≤ resolve
//	escalation:    {community, subdistrict}: how long a case may stay unresolved at that level
//	               before it moves up one, no shorter than that level's colour's resolve limit
//	calendar:      {holidays: [{name, from, to} or {name, date}], workdays: [{name, date}]},
//	               workdays being weekend days worked in exchange for a holiday (调休)
//
// All problems found are reported together, each naming its key, e.g.
//
//	colour_rules[3].category: unknown category "PARKING" (want one of ELDERLY_CARE, …)
func Parse(data []byte) (*Rules, error) {
	return parse("", data)
}

func parse(source string, data []byte) (*Rules, error) {
	p := &parser{Problems: yamldoc.New(source)}
	r := &Rules{
		colour:     make(map[typev1.Category]ColourRule),
		limits:     make(map[Colour]TimeLimits),
		escalation: make(map[region.Level]Limit),
	}
	if doc, ok := p.Decode(data, "the document is empty: want a mapping with keys "+strings.Join(rootKeys, ", ")); ok {
		p.rules(doc, r)
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	return r, nil
}

type parser struct {
	*yamldoc.Problems
}

var (
	rootKeys       = []string{"district", "colour_rules", "time_limits", "escalation", "calendar"}
	colourRuleKeys = []string{"category", "colour", "level"}
	limitKeys      = []string{"acknowledge", "reply", "resolve"}
	escalationKeys = []string{string(region.LevelCommunity), string(region.LevelSubdistrict)}
	calendarKeys   = []string{"holidays", "workdays"}
	holidayKeys    = []string{"name", "from", "to", "date"}
	workdayKeys    = []string{"name", "date"}
)

// join names a key under path: join("", "calendar") = "calendar", join("calendar", "holidays")
// = "calendar.holidays".
func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping checks that raw is a mapping holding only keys from allowed and every key of
// required; it reports problems and returns nil when raw is not a mapping at all. why, when
// set, explains a key that must not be there.
func (p *parser) mapping(raw any, path string, allowed, required []string, why map[string]string) map[string]any {
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
			p.Add("%s: unknown key %q (%s)", join(path, k), k, w)
		} else {
			p.Add("%s: unknown key %q (want %s)", join(path, k), k, strings.Join(allowed, ", "))
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

// str returns the string at m[key]; ok is false (with a problem reported) when it is there but
// not a non-empty string, and false silently when it is absent.
func (p *parser) str(m map[string]any, path, key, example string) (string, bool) {
	raw, present := m[key]
	if !present {
		return "", false
	}
	s, ok := raw.(string)
	switch {
	case !ok:
		p.Add("%s: must be a string, e.g. %s, not %s (put it in quotes)", join(path, key), example, yamldoc.Kind(raw))
		return "", false
	case strings.TrimSpace(s) == "":
		p.Add("%s: must not be empty", join(path, key))
		return "", false
	case strings.TrimSpace(s) != s:
		p.Add("%s %q: must not begin or end with spaces", join(path, key), s)
		return "", false
	}
	return s, true
}

func (p *parser) list(m map[string]any, path, key string) ([]any, bool) {
	raw, present := m[key]
	if !present || raw == nil {
		return nil, present
	}
	l, ok := raw.([]any)
	if !ok {
		p.Add("%s: must be a list, not %s", join(path, key), yamldoc.Kind(raw))
		return nil, false
	}
	return l, true
}

func (p *parser) rules(doc any, r *Rules) {
	m := p.mapping(doc, "", rootKeys, rootKeys, nil)
	if m == nil {
		return
	}
	if code, ok := p.str(m, "", "district", `"450105"`); ok {
		if len(code) != 6 || strings.Trim(code, "0123456789") != "" {
			p.Add("district %q: must be a 6-digit district code (GB/T 2260), e.g. \"450105\"", code)
		} else {
			r.district = code
		}
	}
	if raw, ok := m["colour_rules"]; ok {
		p.colourRules(raw, r)
	}
	limitsOK := false
	if raw, ok := m["time_limits"]; ok {
		limitsOK = p.timeLimits(raw, r)
	}
	if raw, ok := m["escalation"]; ok {
		p.escalation(raw, r, limitsOK)
	}
	if raw, ok := m["calendar"]; ok {
		r.cal = p.calendar(raw)
	}
}

func (p *parser) colourRules(raw any, r *Rules) {
	const path = "colour_rules"
	rules, ok := raw.([]any)
	if !ok {
		p.Add("%s: must be a list of {category, colour, level}, not %s", path, yamldoc.Kind(raw))
		return
	}
	first := make(map[typev1.Category]int)
	for i, item := range rules {
		where := fmt.Sprintf("%s[%d]", path, i)
		m := p.mapping(item, where, colourRuleKeys, colourRuleKeys[:2], nil)
		if m == nil {
			continue
		}
		var rule ColourRule
		catOK, colourOK := false, false
		if s, ok := p.str(m, where, "category", "ELDERLY_CARE"); ok {
			c, err := ParseCategory(s)
			switch prev, dup := first[c]; {
			case err != nil:
				p.Add("%s.category: %v", where, err)
			case dup:
				p.Add("%s.category %q: duplicate, already given by %s[%d]", where, s, path, prev)
			default:
				first[c] = i
				rule.Category, catOK = c, true
			}
		}
		if s, ok := p.str(m, where, "colour", "green"); ok {
			c, err := ParseColour(s)
			if err != nil {
				p.Add("%s.colour: %v", where, err)
			} else {
				rule.Colour, rule.Level, colourOK = c, c.Level(), true
			}
		}
		if s, ok := p.str(m, where, "level", "community"); ok {
			l, err := region.ParseLevel(s)
			switch {
			case err != nil:
				p.Add("%s.level: %v", where, err)
			case colourOK && l != rule.Colour.Level():
				p.Add("%s.level %q: colour %s means the %s leads (三色清单: green community, yellow subdistrict, red district); drop level or make it %s",
					where, s, rule.Colour, rule.Colour.Level(), rule.Colour.Level())
			}
		}
		if catOK && colourOK {
			r.colour[rule.Category] = rule
		}
	}
	var missing []string
	for _, c := range categories() {
		if _, given := first[c]; !given {
			missing = append(missing, CategoryName(c))
		}
	}
	if len(missing) > 0 {
		p.Add("%s: no rule for %s (every category needs one)", path, strings.Join(missing, ", "))
	}
}

// timeLimits parses the limits of every colour; it reports whether all of them parsed, so that
// escalation can be checked against them.
func (p *parser) timeLimits(raw any, r *Rules) bool {
	const path = "time_limits"
	names := make([]string, len(colours))
	for i, c := range colours {
		names[i] = string(c)
	}
	m := p.mapping(raw, path, names, names, nil)
	if m == nil {
		return false
	}
	all := true
	for _, c := range colours {
		cr, ok := m[string(c)]
		if !ok {
			all = false
			continue
		}
		where := join(path, string(c))
		lm := p.mapping(cr, where, limitKeys, limitKeys, nil)
		if lm == nil {
			all = false
			continue
		}
		var tl TimeLimits
		ack, ok1 := p.limit(lm, where, "acknowledge")
		reply, ok2 := p.limit(lm, where, "reply")
		resolve, ok3 := p.limit(lm, where, "resolve")
		tl.Acknowledge, tl.Reply, tl.Resolve = ack, reply, resolve
		if !ok1 || !ok2 || !ok3 {
			all = false
			continue
		}
		if ok, hint := noLaterThan(ack, reply); !ok {
			p.Add("%s.acknowledge %q: must not end after reply %q%s", where, ack, reply, hint)
			all = false
		}
		if ok, hint := noLaterThan(reply, resolve); !ok {
			p.Add("%s.reply %q: must not end after resolve %q%s", where, reply, resolve, hint)
			all = false
		}
		r.limits[c] = tl
	}
	return all
}

func (p *parser) limit(m map[string]any, path, key string) (Limit, bool) {
	raw, present := m[key]
	if !present {
		return Limit{}, false
	}
	s, ok := raw.(string)
	if !ok {
		p.Add("%s: must be a string such as \"2h\" or \"3 workdays\", not %s", join(path, key), yamldoc.Kind(raw))
		return Limit{}, false
	}
	l, err := ParseLimit(s)
	if err != nil {
		p.Add("%s: %v", join(path, key), err)
		return Limit{}, false
	}
	return l, true
}

func (p *parser) escalation(raw any, r *Rules, limitsOK bool) {
	const path = "escalation"
	m := p.mapping(raw, path, escalationKeys, escalationKeys, map[string]string{
		string(region.LevelDistrict): "the district is the top of the ladder: its cases do not move up",
		string(region.LevelGrid):     "a grid is never responsible for a case: list community and subdistrict",
	})
	if m == nil {
		return
	}
	for _, key := range escalationKeys {
		l, ok := p.limit(m, path, key)
		if !ok {
			continue
		}
		level := region.Level(key)
		colour, _ := colourOfLevel(level)
		if limitsOK {
			resolve := r.limits[colour].Resolve
			if ok, hint := noLaterThan(resolve, l); !ok {
				p.Add("%s %q: a case must not move up before its %s resolve limit %q runs out%s",
					join(path, key), l, colour, resolve, hint)
				continue
			}
		}
		r.escalation[level] = l
	}
}

func (p *parser) calendar(raw any) *calendar.Calendar {
	const path = "calendar"
	m := p.mapping(raw, path, calendarKeys, calendarKeys[:1], nil)
	if m == nil {
		return nil
	}
	holidayNames, workdayNames := make(map[calendar.Date]string), make(map[calendar.Date]string)
	years := make(map[int]bool)            // years with a holiday listed
	seen := make(map[calendar.Date]string) // date → the entry that listed it, for messages
	holidays, present := p.list(m, path, "holidays")
	for i, item := range holidays {
		where := fmt.Sprintf("%s.holidays[%d]", path, i)
		hm := p.mapping(item, where, holidayKeys, []string{"name"}, nil)
		if hm == nil {
			continue
		}
		name, nameOK := p.str(hm, where, "name", "国庆节")
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
	workdays, _ := p.list(m, path, "workdays")
	for i, item := range workdays {
		where := fmt.Sprintf("%s.workdays[%d]", path, i)
		wm := p.mapping(item, where, workdayKeys, workdayKeys, nil)
		if wm == nil {
			continue
		}
		name, nameOK := p.str(wm, where, "name", "国庆节调休")
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
func (p *parser) span(m map[string]any, where string) (from, to calendar.Date, ok bool) {
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

func (p *parser) date(m map[string]any, path, key string) (calendar.Date, bool) {
	raw, present := m[key]
	if !present {
		return calendar.Date{}, false
	}
	s, ok := raw.(string)
	if !ok {
		p.Add("%s: must be a date written YYYY-MM-DD, not %s", join(path, key), yamldoc.Kind(raw))
		return calendar.Date{}, false
	}
	d, err := calendar.ParseDate(s)
	if err != nil {
		p.Add("%s: %v", join(path, key), err)
		return calendar.Date{}, false
	}
	return d, true
}
