package calendar_test

import (
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/calendar"
)

func TestQuietHours(t *testing.T) {
	cst := calendar.TimeZone()
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, cst) }
	night, err := calendar.ParseQuietHours("22:00-07:00")
	if err != nil {
		t.Fatal(err)
	}
	lunch, err := calendar.ParseQuietHours("12:00-14:30")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		q     calendar.QuietHours
		t     time.Time
		held  bool
		until time.Time
	}{
		{"evening, before", night, at(10, 21, 59), false, time.Time{}},
		{"at the start", night, at(10, 22, 0), true, at(11, 7, 0)},
		{"before midnight", night, at(10, 23, 30), true, at(11, 7, 0)},
		{"after midnight", night, at(11, 3, 0), true, at(11, 7, 0)},
		{"at the end", night, at(11, 7, 0), false, time.Time{}},
		{"the month's last night", night, at(31, 23, 0), true, time.Date(2026, 4, 1, 7, 0, 0, 0, cst)},
		{"read in UTC", night, time.Date(2026, 3, 10, 15, 0, 0, 0, time.UTC), true, at(11, 7, 0)},
		{"a span within the day", lunch, at(10, 13, 0), true, at(10, 14, 30)},
		{"after it", lunch, at(10, 14, 30), false, time.Time{}},
		{"off", calendar.QuietHours{}, at(10, 23, 0), false, time.Time{}},
	}
	for _, tt := range tests {
		until, held := tt.q.Until(tt.t)
		if held != tt.held || !until.Equal(tt.until) {
			t.Errorf("%s: Until(%v) = %v, %v; want %v, %v", tt.name, tt.t, until, held, tt.until, tt.held)
		}
	}
	for _, bad := range []string{"22:00", "22:00-25:00", "22-07", "07:00-07:00", "night"} {
		if _, err := calendar.ParseQuietHours(bad); err == nil {
			t.Errorf("ParseQuietHours(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"": "off", "off": "off", " 22:30 - 06:45 ": "22:30-06:45"} {
		q, err := calendar.ParseQuietHours(in)
		if err != nil || q.String() != want {
			t.Errorf("ParseQuietHours(%q) = %v, %v; want %s", in, q, err, want)
		}
	}
}
