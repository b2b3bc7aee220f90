package district

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/jiayuan/jiayuan/platform/calendar"
)

// Bounds on a limit: anything outside them is a typo (72000h) rather than a rule.
const (
	maxClock    = 366 * 24 * time.Hour
	maxWorkdays = 250 // about a year of working days
)

// Limit is a time limit, either on the clock ("2h": runs on through nights, weekends and
// holidays) or in working days ("3 workdays": counted from the day after the start, skipping
// weekends and holidays unless they are make-up working days, and ending at midnight after the
// last one, as administrative deadlines are). The zero Limit is no limit.
type Limit struct {
	clock    time.Duration
	workdays int
}

// ClockLimit returns a limit of d on the clock.
func ClockLimit(d time.Duration) Limit { return Limit{clock: d} }

// WorkdayLimit returns a limit of n working days.
func WorkdayLimit(n int) Limit { return Limit{workdays: n} }

var workdayLimit = regexp.MustCompile(`^([0-9]+) workdays?$`)

// ParseLimit parses "90m", "2h", "1h30m" (clock time, Go duration syntax, hours at most) or
// "1 workday", "3 workdays".
func ParseLimit(s string) (Limit, error) {
	if m := workdayLimit.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n < 1 || n > maxWorkdays {
			return Limit{}, fmt.Errorf("%q: want 1 to %d workdays", s, maxWorkdays)
		}
		return WorkdayLimit(n), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return Limit{}, fmt.Errorf("%q: want a clock duration such as \"2h\" or \"90m\", or working days such as \"3 workdays\"", s)
	}
	if d < time.Minute || d > maxClock {
		return Limit{}, fmt.Errorf("%q: a clock limit must be between 1m and %s", s, formatDuration(maxClock))
	}
	return ClockLimit(d), nil
}

// Clock returns the limit's clock duration; ok is false for a working-day limit.
func (l Limit) Clock() (d time.Duration, ok bool) { return l.clock, l.clock > 0 }

// Workdays returns the limit's number of working days; ok is false for a clock limit.
func (l Limit) Workdays() (n int, ok bool) { return l.workdays, l.workdays > 0 }

// IsZero reports whether l is no limit at all.
func (l Limit) IsZero() bool { return l.clock == 0 && l.workdays == 0 }

// String returns the limit as a rules file writes it ("2h", "3 workdays").
func (l Limit) String() string {
	switch {
	case l.workdays == 1:
		return "1 workday"
	case l.workdays > 0:
		return fmt.Sprintf("%d workdays", l.workdays)
	case l.clock > 0:
		return formatDuration(l.clock)
	}
	return "none"
}

// Due returns when the limit runs out for something that started at from: from plus the clock
// duration, or the end (midnight, China Standard Time) of the n-th working day after from's
// day by cal. A nil cal counts Monday to Friday as working days. The zero Limit returns from.
func (l Limit) Due(from time.Time, cal *calendar.Calendar) time.Time {
	if l.workdays > 0 {
		return cal.AddWorkdays(from, l.workdays)
	}
	return from.Add(l.clock)
}

// NoLaterThan reports whether a limit of a always runs out no later than one of b, whatever the
// calendar: both on the clock or both in working days and a ≤ b, or a on the clock within b's
// working days taken as whole days (n working days always span at least n days). When not, hint
// says why if the reason is not plain length ("" then).
func NoLaterThan(a, b Limit) (ok bool, hint string) {
	switch {
	case a.clock > 0 && b.clock > 0:
		return a.clock <= b.clock, ""
	case a.workdays > 0 && b.workdays > 0:
		return a.workdays <= b.workdays, ""
	case a.clock > 0 && b.workdays > 0:
		return a.clock <= time.Duration(b.workdays)*24*time.Hour, ""
	}
	return false, " (working days can outlast a clock limit over a holiday: give both in the same unit)"
}

// formatDuration writes d without the zero units time.Duration.String adds: "2h", "1h30m".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
