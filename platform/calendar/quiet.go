package calendar

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// QuietHours is a daily span of local time (22:00–07:00, say) during which messages to
// residents that are not urgent are held until it ends. The zero QuietHours holds nothing.
type QuietHours struct {
	start, end int // minutes of the day; the span may wrap past midnight
	loc        *time.Location
}

// ParseQuietHours reads "HH:MM-HH:MM" in China Standard Time; "" and "off" hold nothing. The
// span may wrap past midnight ("22:00-07:00"); it must not be empty.
func ParseQuietHours(s string) (QuietHours, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "off" {
		return QuietHours{}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	start, okS := minuteOf(strings.TrimSpace(from))
	end, okE := minuteOf(strings.TrimSpace(to))
	if !ok || !okS || !okE {
		return QuietHours{}, fmt.Errorf("%q: want HH:MM-HH:MM, e.g. 22:00-07:00, or off", s)
	}
	if start == end {
		return QuietHours{}, errors.New("quiet hours that start when they end: say off for none")
	}
	return QuietHours{start: start, end: end, loc: chinaTime}, nil
}

// Set reports whether q holds anything.
func (q QuietHours) Set() bool { return q.loc != nil }

func (q QuietHours) String() string {
	if !q.Set() {
		return "off"
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.start/60, q.start%60, q.end/60, q.end%60)
}

// Until returns when the quiet hours around t end, and whether t is within them at all.
func (q QuietHours) Until(t time.Time) (time.Time, bool) {
	if !q.Set() {
		return time.Time{}, false
	}
	local := t.In(q.loc)
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	endOn := func(day int) time.Time { return time.Date(y, mo, day, q.end/60, q.end%60, 0, 0, q.loc) }
	switch {
	case q.start < q.end && m >= q.start && m < q.end:
		return endOn(d), true
	case q.start > q.end && m >= q.start:
		return endOn(d + 1), true // past midnight: tomorrow morning
	case q.start > q.end && m < q.end:
		return endOn(d), true
	}
	return time.Time{}, false
}

// minuteOf returns the minute of the day of an "HH:MM" time (00:00–23:59).
func minuteOf(hhmm string) (int, bool) {
	t, err := time.Parse("15:04", hhmm)
	if err != nil || len(hhmm) != 5 {
		return 0, false
	}
	return t.Hour()*60 + t.Minute(), true
}
