// Package rules holds the escalation service's part of a district's operating rules
// (rules.yaml, read with platform/district, which owns the district code and the calendar):
// the three-colour list (三色清单) that suggests each new case's colour — by category, refined
// by keywords, the households affected and whether the party responsible is outside the
// community — the time limits of each colour, when an unresolved case moves up a level, and the
// district's departments a red case may be assigned to. Problems are errors naming the file
// and the key, e.g.
//
//	rules.yaml: colour_rules[3].category: unknown category "PARKING"
//
// A [Rules] value is immutable once parsed, so it is safe for concurrent use. The deploy checks
// validate every overlay's rules.yaml with [Load].
package rules

import (
	"fmt"
	"slices"
	"strings"

	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/district"
	"github.com/jiayuan/jiayuan/platform/region"
)

// Colour is a problem's place on the three-colour list: who must lead on solving it.
type Colour string

// The colours, from the least to the most senior level responsible.
const (
	// Green: the community can solve it itself (e.g. overflowing rubbish bins).
	Green Colour = "green"
	// Yellow: the sub-district must lead and coordinate (e.g. tangled old network cables).
	Yellow Colour = "yellow"
	// Red: district departments must coordinate (e.g. an old transformer that keeps tripping).
	Red Colour = "red"
)

var colours = [...]Colour{Green, Yellow, Red}

// Colours returns the three colours, green first.
func Colours() []Colour { return slices.Clone(colours[:]) }

// ParseColour returns the colour named s.
func ParseColour(s string) (Colour, error) {
	c := Colour(s)
	if !c.Valid() {
		return "", fmt.Errorf("unknown colour %q (want green, yellow or red)", s)
	}
	return c, nil
}

// Valid reports whether c is one of the three colours.
func (c Colour) Valid() bool { return slices.Contains(colours[:], c) }

// Level returns the level that leads on a problem of colour c: green the community, yellow the
// sub-district, red the district. It is what the colour means, so a rule cannot contradict it.
func (c Colour) Level() region.Level {
	switch c {
	case Green:
		return region.LevelCommunity
	case Yellow:
		return region.LevelSubdistrict
	case Red:
		return region.LevelDistrict
	}
	return ""
}

// Chinese returns the colour's Chinese name (绿, 黄, 红).
func (c Colour) Chinese() string {
	switch c {
	case Green:
		return "绿"
	case Yellow:
		return "黄"
	case Red:
		return "红"
	}
	return ""
}

// colourOfLevel is the inverse of Colour.Level.
func colourOfLevel(l region.Level) (Colour, bool) {
	for _, c := range colours {
		if c.Level() == l {
			return c, true
		}
	}
	return "", false
}

// ColourRule is one line of the three-colour list. A rule without conditions is a category's
// default: where a new case of that category starts. A rule with conditions (keywords,
// households, a party outside the community) raises the suggestion when all of them hold, for
// its category or, without one, for any. The most senior colour of the rules that apply wins;
// staff confirm it or override it for a single case (a cable fault can be yellow or red).
type ColourRule struct {
	// Index is the rule's position in colour_rules, named in a suggestion's reason.
	Index int
	// Category is the category it applies to; CATEGORY_UNSPECIFIED for a conditional rule
	// that applies to every category.
	Category typev1.Category
	Colour   Colour
	// Level is the level responsible, always Colour.Level().
	Level region.Level
	// Keywords: the rule applies when the problem's title or description contains any of them.
	Keywords []string
	// HouseholdsAtLeast: the rule applies when at least this many households are affected.
	HouseholdsAtLeast int
	// OutsideParty: the rule applies when the party responsible is outside the community (a
	// utility, a telecom operator, a property company of another district).
	OutsideParty bool
}

// Conditional reports whether the rule has conditions (else it is a category's default).
func (r ColourRule) Conditional() bool {
	return len(r.Keywords) > 0 || r.HouseholdsAtLeast > 0 || r.OutsideParty
}

// Facts are what a suggestion is made from: what the problem is and how far it reaches.
type Facts struct {
	Category typev1.Category
	// Text is the problem's title and description, searched for keywords.
	Text string
	// Households affected, as the recorder judged it.
	Households int
	// OutsideParty: the party responsible is outside the community.
	OutsideParty bool
}

// Suggestion is the colour the rules suggest for a problem, and why.
type Suggestion struct {
	Colour Colour
	// Reason names the rule that decided it, e.g. "colour_rules[12]: keyword 变压器".
	Reason string
}

// Suggest returns the colour the three-colour list suggests for f: the category's default,
// raised by every conditional rule that applies; the reason names the rule that decided.
func (r *Rules) Suggest(f Facts) Suggestion {
	def, ok := r.colour[f.Category]
	if !ok {
		// An unknown category (never from a validated request) is triaged where it was raised.
		return Suggestion{Colour: Green, Reason: "no rule for the category: the community triages it"}
	}
	best := Suggestion{Colour: def.Colour, Reason: fmt.Sprintf("colour_rules[%d]: category %s", def.Index, CategoryName(f.Category))}
	for _, c := range r.conditional {
		if c.Category != typev1.Category_CATEGORY_UNSPECIFIED && c.Category != f.Category {
			continue
		}
		why, ok := c.applies(f)
		if ok && c.Colour.rank() > best.Colour.rank() {
			best = Suggestion{Colour: c.Colour, Reason: fmt.Sprintf("colour_rules[%d]: %s", c.Index, why)}
		}
	}
	return best
}

// applies reports whether every condition of c holds for f, and says which.
func (c ColourRule) applies(f Facts) (string, bool) {
	var why []string
	if len(c.Keywords) > 0 {
		i := slices.IndexFunc(c.Keywords, func(k string) bool { return strings.Contains(f.Text, k) })
		if i < 0 {
			return "", false
		}
		why = append(why, "keyword "+c.Keywords[i])
	}
	if c.HouseholdsAtLeast > 0 {
		if f.Households < c.HouseholdsAtLeast {
			return "", false
		}
		why = append(why, fmt.Sprintf("%d households affected (at least %d)", f.Households, c.HouseholdsAtLeast))
	}
	if c.OutsideParty {
		if !f.OutsideParty {
			return "", false
		}
		why = append(why, "party responsible outside the community")
	}
	return strings.Join(why, ", "), true
}

// rank orders the colours green < yellow < red.
func (c Colour) rank() int { return slices.Index(colours[:], c) }

// Above returns the colour one level more senior than c; ok is false for red.
func (c Colour) Above() (Colour, bool) {
	i := c.rank()
	if i < 0 || i+1 >= len(colours) {
		return "", false
	}
	return colours[i+1], true
}

// Below returns the colour one level less senior than c; ok is false for green.
func (c Colour) Below() (Colour, bool) {
	i := c.rank()
	if i <= 0 {
		return "", false
	}
	return colours[i-1], true
}

// ColourOfLevel returns the colour whose level leads at l.
func ColourOfLevel(l region.Level) (Colour, bool) { return colourOfLevel(l) }

// TimeLimits are the limits for cases of one colour, each counted from the moment the case
// came to its level (its opening, or its last move up or down).
type TimeLimits struct {
	// Acknowledge: the responsible unit has taken the case on (签收).
	Acknowledge district.Limit
	// Reply: the resident has heard back, with progress or the outcome (事事有回音).
	Reply district.Limit
	// Resolve: the case is resolved (办结).
	Resolve district.Limit
}

// Department is a district department (区职能部门) a red case may be assigned to: housing,
// power supply, urban management… Its callers carry its ID in their token's department claim.
type Department struct {
	// ID is the key the rules, case units ("departments/{id}") and tokens use, e.g. "power".
	ID string
	// Name is what residents and officials read, e.g. "区住房和城乡建设局".
	Name string
	// Contact is where the department is told of the cases assigned to it, in a form the
	// district's messaging gateway understands (a phone, "wecom:<group>"); empty: the gateway
	// routes by the unit's name.
	Contact string
}

// Rules are a district's escalation rules. Build them with [Parse], [Load] or [Demo].
type Rules struct {
	*district.Rules
	colour      map[typev1.Category]ColourRule
	conditional []ColourRule
	limits      map[Colour]TimeLimits
	escalation  map[region.Level]district.Limit
	departments []Department
	// offices are the contacts of the district's, sub-districts' and communities' offices, by
	// region code.
	offices map[string]string
}

// OfficeContact returns where the office of the region with code is told of its cases; ok is
// false when the rules name none.
func (r *Rules) OfficeContact(code string) (contact string, ok bool) {
	contact, ok = r.offices[code]
	return contact, ok
}

// CheckOffices reports the offices whose region is not the district, a sub-district or a
// community of tree:
// a contact for a place the district does not have is a mistake in the file.
func (r *Rules) CheckOffices(tree *region.Tree) error {
	var bad []string
	for code := range r.offices {
		n, ok := tree.Get(code)
		if !ok || (n.Level != region.LevelDistrict && n.Level != region.LevelSubdistrict && n.Level != region.LevelCommunity) {
			bad = append(bad, code)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return fmt.Errorf("rules.yaml: offices: %s: not the district, a sub-district or a community of the region tree", strings.Join(bad, ", "))
	}
	return nil
}

// ColourRule returns the default rule for category c; ok is false for CATEGORY_UNSPECIFIED or
// a category the rules do not know (parsing guarantees every other category has one).
func (r *Rules) ColourRule(c typev1.Category) (rule ColourRule, ok bool) {
	rule, ok = r.colour[c]
	return rule, ok
}

// ColourRules returns every category's default rule, in the order of the category enum.
func (r *Rules) ColourRules() []ColourRule {
	out := make([]ColourRule, 0, len(r.colour))
	for _, c := range categories() {
		out = append(out, r.colour[c])
	}
	return out
}

// ConditionalRules returns the rules with conditions, in file order.
func (r *Rules) ConditionalRules() []ColourRule { return slices.Clone(r.conditional) }

// TimeLimits returns the limits for cases of colour c (zero for an invalid colour).
func (r *Rules) TimeLimits(c Colour) TimeLimits { return r.limits[c] }

// EscalateAfter returns how long a case may stay unresolved at level l before it moves up one
// level (community → sub-district → district). ok is false for the district, the top of the
// ladder, and for the grid, which is never responsible for a case.
func (r *Rules) EscalateAfter(l region.Level) (after district.Limit, ok bool) {
	after, ok = r.escalation[l]
	return after, ok
}

// Department returns the department with id; ok is false when the district has none such.
func (r *Rules) Department(id string) (Department, bool) {
	i := slices.IndexFunc(r.departments, func(d Department) bool { return d.ID == id })
	if i < 0 {
		return Department{}, false
	}
	return r.departments[i], true
}

// Departments returns the district's departments, in file order.
func (r *Rules) Departments() []Department { return slices.Clone(r.departments) }

// NextLevel returns the level a case at l escalates to; ok is false at the district.
func NextLevel(l region.Level) (next region.Level, ok bool) {
	switch l {
	case region.LevelCommunity:
		return region.LevelSubdistrict, true
	case region.LevelSubdistrict:
		return region.LevelDistrict, true
	}
	return "", false
}

// categoryPrefix starts every value name of the Category enum; rules files leave it off.
const categoryPrefix = "CATEGORY_"

// categories returns every category a rule must cover: the enum's values but UNSPECIFIED, in
// number order.
func categories() []typev1.Category {
	var out []typev1.Category
	for n := range typev1.Category_name {
		if c := typev1.Category(n); c != typev1.Category_CATEGORY_UNSPECIFIED {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// CategoryName returns the name rules files use for c: its enum name without "CATEGORY_"
// (ELDERLY_CARE, INFRASTRUCTURE).
func CategoryName(c typev1.Category) string {
	return strings.TrimPrefix(c.String(), categoryPrefix)
}

// ParseCategory returns the category a rules file names s (ELDERLY_CARE, INFRASTRUCTURE, …).
func ParseCategory(s string) (typev1.Category, error) {
	if strings.HasPrefix(s, categoryPrefix) {
		return 0, fmt.Errorf("unknown category %q (write it without the %s prefix: %q)", s, categoryPrefix, strings.TrimPrefix(s, categoryPrefix))
	}
	n, ok := typev1.Category_value[categoryPrefix+s]
	if !ok || typev1.Category(n) == typev1.Category_CATEGORY_UNSPECIFIED {
		return 0, fmt.Errorf("unknown category %q (want one of %s)", s, strings.Join(categoryNames(), ", "))
	}
	return typev1.Category(n), nil
}

func categoryNames() []string {
	var out []string
	for _, c := range categories() {
		out = append(out, CategoryName(c))
	}
	return out
}
