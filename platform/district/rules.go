// Package district holds a district's operating rules: the three-colour list (三色清单) that
// gives each category of problem a default colour and the level responsible for it, the time
// limits of each colour, when an unresolved case moves up a level, and the holiday calendar
// (法定节假日 and 调休 make-up working days) that working-day limits count against. The calendar
// itself, and the Date it is made of, are platform/calendar's: contracts' due dates count
// working days too. The colour rules and limits move to the escalation service when it is built.
//
// The rules come from one YAML file per district, shipped in the district's Kubernetes overlay
// next to its region tree and loaded as strictly as the tree: unknown keys, unknown categories,
// missing colours and contradictory limits are errors naming the file and the key, e.g.
//
//	rules.yaml: colour_rules[3].category: unknown category "PARKING"
//
// A [Rules] value is immutable once parsed, so it is safe for concurrent use.
package district

import (
	"fmt"
	"slices"
	"strings"

	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
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

// ColourRule is a category's default place on the three-colour list. An officer may recolour a
// single case (a cable fault can be yellow or red); the rule is where a new case starts.
type ColourRule struct {
	Category typev1.Category
	Colour   Colour
	// Level is the level responsible, always Colour.Level().
	Level region.Level
}

// TimeLimits are the limits for cases of one colour, each counted from the moment the problem
// was reported.
type TimeLimits struct {
	// Acknowledge: the responsible level has taken the case on (签收).
	Acknowledge Limit
	// Reply: the resident has heard back, with progress or the outcome (事事有回音).
	Reply Limit
	// Resolve: the case is resolved (办结).
	Resolve Limit
}

// Rules are a district's operating rules. Build them with [Parse], [Load] or [Demo].
type Rules struct {
	district   string
	colour     map[typev1.Category]ColourRule
	limits     map[Colour]TimeLimits
	escalation map[region.Level]Limit
	cal        *calendar.Calendar
}

// District returns the 6-digit code of the district the rules are for; it must be the root of
// the district's region tree.
func (r *Rules) District() string { return r.district }

// ColourRule returns the rule for category c; ok is false for CATEGORY_UNSPECIFIED or a
// category the rules do not know (parsing guarantees every other category has one).
func (r *Rules) ColourRule(c typev1.Category) (rule ColourRule, ok bool) {
	rule, ok = r.colour[c]
	return rule, ok
}

// ColourRules returns every category's rule, in the order of the category enum.
func (r *Rules) ColourRules() []ColourRule {
	out := make([]ColourRule, 0, len(r.colour))
	for _, c := range categories() {
		out = append(out, r.colour[c])
	}
	return out
}

// TimeLimits returns the limits for cases of colour c (zero for an invalid colour).
func (r *Rules) TimeLimits(c Colour) TimeLimits { return r.limits[c] }

// EscalateAfter returns how long a case may stay unresolved at level l before it moves up one
// level (community → sub-district → district). ok is false for the district, the top of the
// ladder, and for the grid, which is never responsible for a case.
func (r *Rules) EscalateAfter(l region.Level) (after Limit, ok bool) {
	after, ok = r.escalation[l]
	return after, ok
}

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

// Calendar returns the holiday calendar working-day limits count against.
func (r *Rules) Calendar() *calendar.Calendar { return r.cal }

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
