package domain

import (
	"fmt"
	"sync"
	"time"
)

const dateLayout = "2006-01-02"

// shanghai is the zone of every local date and deadline. Minimal containers often lack tzdata;
// China has kept UTC+8 without daylight saving since 1991, so a fixed zone gives the same dates.
var shanghai = sync.OnceValue(func() *time.Location { return chinaZone("Asia/Shanghai") })

// chinaZone loads the named zone, or falls back to fixed UTC+8 when it cannot be loaded.
func chinaZone(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*60*60)
}

// meetingDaysOfMonth are the days of 逢四说事: the 4th, 14th and 24th.
var meetingDaysOfMonth = [...]int{4, 14, 24}

// ParseDate parses a "YYYY-MM-DD" date strictly, as midnight in Asia/Shanghai: the day must
// exist (2026-02-30 does not) and nothing may be missing or added.
func ParseDate(s string) (time.Time, error) {
	if !isDateShape(s) {
		return time.Time{}, fmt.Errorf("parse date %q: want YYYY-MM-DD", s)
	}
	t, err := time.ParseInLocation(dateLayout, s, shanghai())
	if err != nil {
		return time.Time{}, fmt.Errorf("parse date %q: %w", s, err)
	}
	return t, nil
}

// isDateShape reports whether s is four digits, a dash, two digits, a dash and two digits;
// time.Parse alone would accept a signed year.
func isDateShape(s string) bool {
	if len(s) != len(dateLayout) {
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

// MeetingDays returns the 4th, 14th and 24th of every month from start to end inclusive, as
// "YYYY-MM-DD" dates in order; nil when end is before start. Only the calendar dates of start
// and end count (in their own location), not the time of day.
func MeetingDays(start, end time.Time) []string {
	from, to := dateOf(start), dateOf(end)
	var days []string
	for month := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC); !month.After(to); month = month.AddDate(0, 1, 0) {
		for _, d := range meetingDaysOfMonth {
			day := time.Date(month.Year(), month.Month(), d, 0, 0, 0, 0, time.UTC)
			if !day.Before(from) && !day.After(to) {
				days = append(days, day.Format(dateLayout))
			}
		}
	}
	return days
}

// dateOf is the calendar date of t, as midnight UTC so that dates compare and subtract exactly.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
