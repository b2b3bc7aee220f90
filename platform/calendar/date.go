// Package calendar holds civil dates and the working-day calendar in China Standard Time: one
// Date type and one strict "YYYY-MM-DD" parser for every date a service reads, conversions to
// and from google.type.Date for protos, and the holiday calendar (法定节假日 and the make-up
// working days of 调休) that working-day deadlines count against, and the quiet hours during
// which residents are not sent messages that can wait (QuietHours).
package calendar

import (
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
)

// chinaTime is China Standard Time. A fixed UTC+8 zone rather than Asia/Shanghai from tzdata:
// China has kept UTC+8 without daylight saving since 1991, so the two agree on every date a
// calendar holds, and the distroless image need not carry a zone database for it.
var chinaTime = time.FixedZone("CST", 8*60*60)

// TimeZone returns China Standard Time (UTC+8), the zone dates and deadlines are kept in.
func TimeZone() *time.Location { return chinaTime }

// Date is a civil date in China Standard Time. The zero Date is no date.
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

// ParseDate parses a date written "2026-10-01", strictly: four digits, two and two, and a day
// that exists (2026-02-30 does not). time.Parse alone would accept a signed year.
func ParseDate(s string) (Date, error) {
	if !isDateShape(s) {
		return Date{}, fmt.Errorf("%q: want a date written YYYY-MM-DD", s)
	}
	t, err := time.ParseInLocation(time.DateOnly, s, chinaTime)
	if err != nil {
		return Date{}, fmt.Errorf("%q: want a date written YYYY-MM-DD that exists", s)
	}
	return DateOf(t), nil
}

// CheckDate accepts what ParseDate accepts: the check for a date kept as "YYYY-MM-DD" text, such
// as a filter value compared with a TEXT column.
func CheckDate(s string) error {
	_, err := ParseDate(s)
	return err
}

func isDateShape(s string) bool {
	if len(s) != len(time.DateOnly) {
		return false
	}
	for i := range len(s) {
		switch {
		case i == 4 || i == 7:
			if s[i] != '-' {
				return false
			}
		case s[i] < '0' || s[i] > '9':
			return false
		}
	}
	return true
}

// FromProto returns the date a google.type.Date holds. Only a full date is one: the type also
// allows a year alone, a month and day without a year, and so on, and those are refused, as is
// a day that does not exist.
func FromProto(p *date.Date) (Date, error) {
	y, m, d := int(p.GetYear()), time.Month(p.GetMonth()), int(p.GetDay())
	if y < 1 || y > 9999 || m < time.January || m > time.December || d < 1 {
		return Date{}, fmt.Errorf("%04d-%02d-%02d: want a full date (year, month and day)", y, m, d)
	}
	dt := Date{y, m, d}
	if DateOf(dt.Start()) != dt {
		return Date{}, fmt.Errorf("%s: no such day", dt)
	}
	return dt, nil
}

// Proto returns the date as a google.type.Date; the zero Date gives nil (no date).
func (d Date) Proto() *date.Date {
	if d.IsZero() {
		return nil
	}
	return &date.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
}

// IsZero reports whether d is the zero Date (no date).
func (d Date) IsZero() bool { return d == Date{} }

// Start returns midnight at the start of the date, China Standard Time.
func (d Date) Start() time.Time { return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, chinaTime) }

// Weekday returns the date's day of the week.
func (d Date) Weekday() time.Weekday { return d.Start().Weekday() }

// IsWeekend reports whether the date is a Saturday or a Sunday.
func (d Date) IsWeekend() bool {
	wd := d.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// AddDays returns the date n days later (earlier for negative n).
func (d Date) AddDays(n int) Date { return DateOf(d.Start().AddDate(0, 0, n)) }

// DaysSince returns how many days d is after e (negative when before).
func (d Date) DaysSince(e Date) int {
	// Both are midnights of a zone without daylight saving, so every day is 24 hours.
	return int(d.Start().Sub(e.Start()).Hours() / 24)
}

// Compare returns -1, 0 or +1 as d is before, the same as or after e.
func (d Date) Compare(e Date) int { return d.Start().Compare(e.Start()) }

// String returns "2026-10-01".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }
