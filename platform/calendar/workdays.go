package calendar

import (
	"maps"
	"slices"
	"time"
)

// Calendar is a holiday calendar: public holidays (法定节假日, with the weekdays moved into them)
// and make-up working days (调休), weekend days on which people work. Every other Monday to
// Friday is a working day. A nil *Calendar is the plain Monday-to-Friday week.
type Calendar struct {
	holidays map[Date]string // date → holiday name
	workdays map[Date]string // make-up working day → what it makes up for
	years    map[int]bool    // years with at least one holiday listed
}

// New returns the calendar of the given holidays and make-up working days (date → name). The
// caller has checked them (a make-up day is a weekend day, no date is both); New copies the maps.
func New(holidays, workdays map[Date]string) *Calendar {
	c := &Calendar{holidays: maps.Clone(holidays), workdays: maps.Clone(workdays), years: make(map[int]bool)}
	for d := range holidays {
		c.years[d.Year] = true
	}
	return c
}

// IsWorkingDay reports whether the day of t (China Standard Time) is a working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool { return c.IsWorkday(DateOf(t)) }

// IsWorkday reports whether d is a working day.
func (c *Calendar) IsWorkday(d Date) bool {
	if c != nil {
		if _, ok := c.workdays[d]; ok {
			return true
		}
		if _, ok := c.holidays[d]; ok {
			return false
		}
	}
	return !d.IsWeekend()
}

// Holiday returns the name of the holiday the day of t falls in.
func (c *Calendar) Holiday(t time.Time) (name string, ok bool) {
	if c == nil {
		return "", false
	}
	name, ok = c.holidays[DateOf(t)]
	return name, ok
}

// MakeUpWorkday returns what the day of t is worked for, when it is a make-up working day.
func (c *Calendar) MakeUpWorkday(t time.Time) (name string, ok bool) {
	if c == nil {
		return "", false
	}
	name, ok = c.workdays[DateOf(t)]
	return name, ok
}

// Covers reports whether the calendar lists the holidays of year. The State Council publishes
// each year's arrangement late in the year before; a deadline falling in a year the calendar
// does not cover is counted Monday to Friday, and whoever computes it should warn.
func (c *Calendar) Covers(year int) bool { return c != nil && c.years[year] }

// CoveredUntil returns the end of the last year the calendar covers (midnight starting the
// next, China Standard Time); ok is false when it covers none. Exported as a metric, it lets
// an alert ask for next year's holidays before the year turns.
func (c *Calendar) CoveredUntil() (end time.Time, ok bool) {
	years := c.Years()
	if len(years) == 0 {
		return time.Time{}, false
	}
	return Date{Year: years[len(years)-1] + 1, Month: time.January, Day: 1}.Start(), true
}

// Years returns the years the calendar covers, in order.
func (c *Calendar) Years() []int {
	if c == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(c.years))
}

// AddWorkdays returns the end (midnight, China Standard Time) of the n-th working day after the
// day of from: counting starts the next day (次日起算), so a case reported on Friday evening with
// one working day has until Monday midnight. n < 1 returns from unchanged.
func (c *Calendar) AddWorkdays(from time.Time, n int) time.Time {
	if n < 1 {
		return from
	}
	d := DateOf(from)
	for n > 0 {
		d = d.AddDays(1)
		if c.IsWorkday(d) {
			n--
		}
	}
	return d.AddDays(1).Start()
}
