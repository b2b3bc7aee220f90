package domain

import (
	"fmt"
	"time"

	"github.com/jiayuan/jiayuan/platform/calendar"
)

// shanghai is the zone of every local date and deadline, China Standard Time.
func shanghai() *time.Location { return calendar.TimeZone() }

// meetingDaysOfMonth are the days of 逢四说事: the 4th, 14th and 24th.
var meetingDaysOfMonth = [...]int{4, 14, 24}

// ParseDate parses a "YYYY-MM-DD" date strictly (calendar.ParseDate), as midnight in China
// Standard Time: the day must exist (2026-02-30 does not) and nothing may be missing or added.
func ParseDate(s string) (time.Time, error) {
	d, err := calendar.ParseDate(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse date %w", err)
	}
	return d.Start(), nil
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
				days = append(days, day.Format(time.DateOnly))
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
