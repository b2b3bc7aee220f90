package rules

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/district"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/yamldoc"
)

// Load reads and parses a rules file. Every problem in the error starts with path.
func Load(path string) (*Rules, error) {
	r := newRules()
	base, err := district.Load(path, r.sections()...)
	if err != nil {
		return nil, err
	}
	r.Rules = base
	return r, nil
}

// Parse parses and validates a rules document: platform/district's keys (district, calendar)
// and these, all required:
//
//	colour_rules:  a list of rules. One {category, colour} per category of the shared taxonomy
//	               (category without its CATEGORY_ prefix; colour green, yellow or red; level
//	               optional, and when given the colour's own: community, subdistrict, district)
//	               is that category's default. A rule with conditions — keywords (a list: any
//	               of them in the title or description), households_at_least (a number),
//	               outside_party (true: the party responsible is outside the community) —
//	               raises the suggestion when all its conditions hold, for its category or,
//	               with none given, for every category. The most senior colour wins.
//	time_limits:   for each colour {acknowledge, reply, resolve}, each "2h"-style clock time
//	               or "3 workdays"; acknowledge ≤ reply ≤ resolve
//	escalation:    {community, subdistrict}: how long a case may stay unresolved at that level
//	               before it moves up one, no shorter than that level's colour's resolve limit
//	departments:   [{id, name}]: the district departments red cases are assigned to; id is
//	               lower-case letters, digits and _ (e.g. power), carried in department callers'
//	               tokens; contact (optional) is where the department is told of its cases
//	offices:       [{region, contact}] (optional): where the district's, each sub-district's and
//	               each community's office is told of the cases assigned to it (wecom:<group>, …)
//
// All problems found are reported together, each naming its key, e.g.
//
//	colour_rules[3].category: unknown category "PARKING" (want one of ELDERLY_CARE, …)
func Parse(data []byte) (*Rules, error) {
	r := newRules()
	base, err := district.Parse(data, r.sections()...)
	if err != nil {
		return nil, err
	}
	r.Rules = base
	return r, nil
}

func newRules() *Rules {
	return &Rules{
		colour:     make(map[typev1.Category]ColourRule),
		limits:     make(map[Colour]TimeLimits),
		escalation: make(map[region.Level]district.Limit),
		offices:    make(map[string]string),
	}
}

// sections are the keys of the rules file this service owns, parsed into r. time_limits comes
// before escalation, which is checked against it.
func (r *Rules) sections() []district.Section {
	limitsOK := false
	return []district.Section{
		{Key: "colour_rules", Parse: func(p *district.Parser, raw any) { colourRules(p, raw, r) }},
		{Key: "time_limits", Parse: func(p *district.Parser, raw any) { limitsOK = timeLimits(p, raw, r) }},
		{Key: "escalation", Parse: func(p *district.Parser, raw any) { escalation(p, raw, r, limitsOK) }},
		{Key: "departments", Parse: func(p *district.Parser, raw any) { departments(p, raw, r) }},
		{Key: "offices", Parse: func(p *district.Parser, raw any) { offices(p, raw, r) }, Optional: true},
	}
}

var (
	colourRuleKeys = []string{"category", "colour", "level", "keywords", "households_at_least", "outside_party"}
	limitKeys      = []string{"acknowledge", "reply", "resolve"}
	escalationKeys = []string{string(region.LevelCommunity), string(region.LevelSubdistrict)}
	departmentKeys = []string{"id", "name", "contact"}
	officeKeys     = []string{"region", "contact"}
	// contactPattern: an address the district's messaging gateway understands (a phone
	// number, a WeChat Work group, an e-mail address…), with no spaces or control characters.
	contactPattern = regexp.MustCompile(`^[^\s\x00-\x1f]{3,200}$`)
	departmentID   = regexp.MustCompile(`^[a-z][a-z0-9_]{1,30}$`)
)

// maxKeywords bounds a rule's keywords: the list is searched for every new case.
const maxKeywords = 50

func colourRules(p *district.Parser, raw any, r *Rules) {
	const path = "colour_rules"
	list, ok := raw.([]any)
	if !ok {
		p.Add("%s: must be a list of {category, colour, …}, not %s", path, yamldoc.Kind(raw))
		return
	}
	first := make(map[typev1.Category]int)
	for i, item := range list {
		where := fmt.Sprintf("%s[%d]", path, i)
		m := p.Mapping(item, where, colourRuleKeys, []string{"colour"}, nil)
		if m == nil {
			continue
		}
		rule := ColourRule{Index: i}
		ok := true
		if s, present := p.Str(m, where, "category", "ELDERLY_CARE"); present {
			c, err := ParseCategory(s)
			if err != nil {
				p.Add("%s.category: %v", where, err)
				ok = false
			} else {
				rule.Category = c
			}
		} else if _, given := m["category"]; given {
			ok = false
		}
		if s, present := p.Str(m, where, "colour", "green"); present {
			c, err := ParseColour(s)
			if err != nil {
				p.Add("%s.colour: %v", where, err)
				ok = false
			} else {
				rule.Colour, rule.Level = c, c.Level()
			}
		} else {
			ok = false
		}
		if s, present := p.Str(m, where, "level", "community"); present {
			l, err := region.ParseLevel(s)
			switch {
			case err != nil:
				p.Add("%s.level: %v", where, err)
			case rule.Colour != "" && l != rule.Colour.Level():
				p.Add("%s.level %q: colour %s means the %s leads (三色清单: green community, yellow subdistrict, red district); drop level or make it %s",
					where, s, rule.Colour, rule.Colour.Level(), rule.Colour.Level())
			}
		}
		if !conditions(p, m, where, &rule) {
			ok = false
		}
		if !ok {
			continue
		}
		if rule.Conditional() {
			r.conditional = append(r.conditional, rule)
			continue
		}
		// A default: one per category.
		if _, given := m["category"]; !given {
			p.Add("%s: a rule without conditions is a category's default: give its category, or a condition (keywords, households_at_least, outside_party)", where)
			continue
		}
		if prev, dup := first[rule.Category]; dup {
			p.Add("%s.category %q: duplicate, already given by %s[%d]", where, CategoryName(rule.Category), path, prev)
			continue
		}
		first[rule.Category] = i
		r.colour[rule.Category] = rule
	}
	var missing []string
	for _, c := range categories() {
		if _, given := first[c]; !given {
			missing = append(missing, CategoryName(c))
		}
	}
	if len(missing) > 0 {
		p.Add("%s: no rule for %s (every category needs a rule without conditions)", path, strings.Join(missing, ", "))
	}
}

// conditions reads a rule's keywords, households_at_least and outside_party; false when one is
// invalid (reported).
func conditions(p *district.Parser, m map[string]any, where string, rule *ColourRule) bool {
	ok := true
	if list, present := p.List(m, where, "keywords"); present {
		if len(list) == 0 || len(list) > maxKeywords {
			p.Add("%s.keywords: must list 1 to %d keywords", where, maxKeywords)
			ok = false
		}
		for j, k := range list {
			s, isStr := k.(string)
			switch {
			case !isStr:
				p.Add("%s.keywords[%d]: must be a string, not %s", where, j, yamldoc.Kind(k))
				ok = false
			case strings.TrimSpace(s) == "" || strings.TrimSpace(s) != s:
				p.Add("%s.keywords[%d] %q: must be a word or phrase without surrounding spaces", where, j, s)
				ok = false
			case slices.Contains(rule.Keywords, s):
				p.Add("%s.keywords[%d] %q: listed twice", where, j, s)
				ok = false
			default:
				rule.Keywords = append(rule.Keywords, s)
			}
		}
	}
	if raw, present := m["households_at_least"]; present {
		n, isNum := raw.(json.Number)
		v, err := n.Int64()
		if !isNum || err != nil || v < 1 || v > 100000 {
			p.Add("%s.households_at_least: must be a whole number from 1 to 100000, not %v", where, raw)
			ok = false
		} else {
			rule.HouseholdsAtLeast = int(v)
		}
	}
	if raw, present := m["outside_party"]; present {
		b, isBool := raw.(bool)
		switch {
		case !isBool:
			p.Add("%s.outside_party: must be true or false, not %s", where, yamldoc.Kind(raw))
			ok = false
		case !b:
			p.Add("%s.outside_party: false is no condition; leave the key out", where)
			ok = false
		default:
			rule.OutsideParty = true
		}
	}
	return ok
}

// timeLimits parses the limits of every colour; it reports whether all of them parsed, so that
// escalation can be checked against them.
func timeLimits(p *district.Parser, raw any, r *Rules) bool {
	const path = "time_limits"
	names := make([]string, len(colours))
	for i, c := range colours {
		names[i] = string(c)
	}
	m := p.Mapping(raw, path, names, names, nil)
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
		where := district.Join(path, string(c))
		lm := p.Mapping(cr, where, limitKeys, limitKeys, nil)
		if lm == nil {
			all = false
			continue
		}
		ack, ok1 := p.Limit(lm, where, "acknowledge")
		reply, ok2 := p.Limit(lm, where, "reply")
		resolve, ok3 := p.Limit(lm, where, "resolve")
		if !ok1 || !ok2 || !ok3 {
			all = false
			continue
		}
		if ok, hint := district.NoLaterThan(ack, reply); !ok {
			p.Add("%s.acknowledge %q: must not end after reply %q%s", where, ack, reply, hint)
			all = false
		}
		if ok, hint := district.NoLaterThan(reply, resolve); !ok {
			p.Add("%s.reply %q: must not end after resolve %q%s", where, reply, resolve, hint)
			all = false
		}
		r.limits[c] = TimeLimits{Acknowledge: ack, Reply: reply, Resolve: resolve}
	}
	return all
}

func escalation(p *district.Parser, raw any, r *Rules, limitsOK bool) {
	const path = "escalation"
	m := p.Mapping(raw, path, escalationKeys, escalationKeys, map[string]string{
		string(region.LevelDistrict): "the district is the top of the ladder: its cases do not move up",
		string(region.LevelGrid):     "a grid is never responsible for a case: list community and subdistrict",
	})
	if m == nil {
		return
	}
	for _, key := range escalationKeys {
		l, ok := p.Limit(m, path, key)
		if !ok {
			continue
		}
		level := region.Level(key)
		colour, _ := colourOfLevel(level)
		if limitsOK {
			resolve := r.limits[colour].Resolve
			if ok, hint := district.NoLaterThan(resolve, l); !ok {
				p.Add("%s %q: a case must not move up before its %s resolve limit %q runs out%s",
					district.Join(path, key), l, colour, resolve, hint)
				continue
			}
		}
		r.escalation[level] = l
	}
}

func departments(p *district.Parser, raw any, r *Rules) {
	const path = "departments"
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		p.Add("%s: must be a list of {id, name}: the departments red cases go to, not %s", path, yamldoc.Kind(raw))
		return
	}
	for i, item := range list {
		where := fmt.Sprintf("%s[%d]", path, i)
		m := p.Mapping(item, where, departmentKeys, []string{"id", "name"}, nil)
		if m == nil {
			continue
		}
		id, idOK := p.Str(m, where, "id", "power")
		name, nameOK := p.Str(m, where, "name", "区住房和城乡建设局")
		if !idOK || !nameOK {
			continue
		}
		if !departmentID.MatchString(id) {
			p.Add("%s.id %q: must be 2 to 31 lower-case letters, digits or _, starting with a letter (e.g. urban_management)", where, id)
			continue
		}
		if len([]rune(name)) > 50 {
			p.Add("%s.name: at most 50 characters", where)
			continue
		}
		if _, dup := r.Department(id); dup {
			p.Add("%s.id %q: duplicate", where, id)
			continue
		}
		contact, ok := optionalContact(p, m, where)
		if !ok {
			continue
		}
		r.departments = append(r.departments, Department{ID: id, Name: name, Contact: contact})
	}
}

// optionalContact reads m's contact, if any; ok is false when it is there and wrong.
func optionalContact(p *district.Parser, m map[string]any, where string) (string, bool) {
	if _, there := m["contact"]; !there {
		return "", true
	}
	contact, ok := p.Str(m, where, "contact", "wecom:jiangnan-power")
	if !ok {
		return "", false
	}
	if !contactPattern.MatchString(contact) {
		p.Add("%s.contact: 3 to 200 characters with no spaces (a phone number, wecom:<group>, an e-mail address)", where)
		return "", false
	}
	return contact, true
}

// offices are the contacts of the district, sub-district and community offices cases are
// assigned to. A region is the district's, a sub-district's or a community's code of the district; the tree itself is checked
// when the service starts (Rules.CheckOffices), since the rules file is parsed without it.
func offices(p *district.Parser, raw any, r *Rules) {
	const path = "offices"
	list, ok := raw.([]any)
	if !ok {
		p.Add("%s: must be a list of {region, contact}: where the community and sub-district offices are told of their cases, not %s", path, yamldoc.Kind(raw))
		return
	}
	for i, item := range list {
		where := fmt.Sprintf("%s[%d]", path, i)
		m := p.Mapping(item, where, officeKeys, officeKeys, nil)
		if m == nil {
			continue
		}
		code, ok := p.Str(m, where, "region", "450105001")
		if !ok {
			continue
		}
		if err := region.CheckCode(code); err != nil || len(code) > region.LevelCommunity.CodeLen() {
			p.Add("%s.region %q: must be the code of the district (6 digits), a sub-district (9) or a community (12)", where, code)
			continue
		}
		contact, ok := optionalContact(p, m, where)
		if !ok {
			continue
		}
		if _, dup := r.offices[code]; dup {
			p.Add("%s.region %q: duplicate", where, code)
			continue
		}
		r.offices[code] = contact
	}
}
