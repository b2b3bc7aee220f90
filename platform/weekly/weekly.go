// Package weekly reads jiayuan.type.v1.WeeklyWindow, the "every Wednesday 15:00–18:00" that
// partners' availability and projects' schedules are made of, so every service reads it alike.
package weekly

import (
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

// Minute returns the minute of the day of an "HH:MM" time (00:00–23:59). By hand rather than
// with time.Parse: matching reads every window of every candidate, and time.Parse was a tenth
// of the scoring.
func Minute(hhmm string) (int, bool) {
	if len(hhmm) != 5 || hhmm[2] != ':' {
		return 0, false
	}
	for _, i := range [...]int{0, 1, 3, 4} {
		if hhmm[i] < '0' || hhmm[i] > '9' {
			return 0, false
		}
	}
	h := int(hhmm[0]-'0')*10 + int(hhmm[1]-'0')
	m := int(hhmm[3]-'0')*10 + int(hhmm[4]-'0')
	if h > 23 || m > 59 {
		return 0, false
	}
	return h*60 + m, true
}

// Bounds returns a window's start and end as minutes of the day; ok is false for a window
// without a weekday, with a malformed time, or ending before it starts.
func Bounds(w *typev1.WeeklyWindow) (start, end int, ok bool) {
	s, okS := Minute(w.GetStartTime())
	e, okE := Minute(w.GetEndTime())
	return s, e, okS && okE && s < e && w.GetWeekday() != typev1.Weekday_WEEKDAY_UNSPECIFIED
}

// DayLabel is the short English name of a weekday ("Wed"), as reasons shown to staff use it.
func DayLabel(d typev1.Weekday) string {
	labels := [...]string{"", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}
	if int(d) < 0 || int(d) >= len(labels) {
		return d.String()
	}
	return labels[d]
}
