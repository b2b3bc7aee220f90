package district

import (
	"fmt"
	"maps"
	"slices"
	"time"
)

// chinaTime is China Standard Time. A fixed UTC+8 zone rather than Asia/Shanghai from tzdata:
// China has kept UTC+8 without daylight saving since 1991, so the two agree on every date a
// calendar holds, and the distroless image need not carry a zone database for it.
var chinaTime = time.FixedZone("CST", 8*60*60)

// TimeZone returns China Standard Time (UTC+8), the zone calendars and deadlines are kept in.
func TimeZone() *time.Location { return chinaTime }

// Date is a civil date in China Standard Time.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the date of t in China Standard Time.
func DateOf(t time.Time) Date {
	y, m, d := t.In(chinaTime).Date()
	return Date{y, m, d}
}

// ParseDate parses "2026-10-01".
func ParseDate(s string) (Date, error) {
	t, err := time.ParseInLocation(time.DateOnly, s, chinaTime)
	if err != nil {
		return Date{}, fmt.Errorf("%q: want a date written YYYY-MM-DD", s)
	}
	return DateOf(t), nil
}

// Start returns midnight at the start of the date, China Standard Time.
func (d Date) Start() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, chinaTime) }

// Weekday returns the date's day of the week.
func (d Date) Weekday() time.Weekday { return d.Start().Weekday() }

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.Start().AddDate(0, 0, n)) }

// String returns "2026-10-01".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

func (d Date) weekend() bool {
	wd := d.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// Calendar is a holiday calendar: public holidays (法定节假日, with the weekdays moved into them)
// and make-up working days (调休), weekend days on which people work. Every other Monday to
// Friday is a working day. A nil *Calendar is the plain Monday-to-Friday week.
type Calendar struct {
	holidays map[Date]string // date → holiday name
	workdays map[Date]string // make-up working day → what it makes up for
	years    map[int]bool    // years with at least one holiday listed
}

// IsWorkingDay reports whether the day of t (China Standard Time) is a working day.
func (c *Calendar) IsWorkingDay(t time.Time) bool { return c.isWorkday(DateOf(t)) }

func (c *Calendar) isWorkday(d Date) bool {
	if c != nil {
		if _, ok := c.workdays[d]; ok {
			return true
		}
		if _, ok := c.holidays[d]; ok {
			return false
		}
	}
	return !d.weekend()
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
		if c.isWorkday(d) {
			n--
		}
	}
	return d.AddDays(1).Start()
}
