package domain

import (
	"slices"
	"testing"
	"time"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in     string
		ok     bool
		y      int
		m      time.Month
		d      int
		offset int // seconds east of UTC
	}{
		{"2026-02-28", true, 2026, time.February, 28, 8 * 3600},
		{"2028-02-29", true, 2028, time.February, 29, 8 * 3600},
		{"2025-12-04", true, 2025, time.December, 4, 8 * 3600},
		{"2026-02-29", false, 0, 0, 0, 0},  // not a leap year
		{"2026-02-30", false, 0, 0, 0, 0},  // no such day
		{"2026-13-01", false, 0, 0, 0, 0},  // no such month
		{"2026-00-10", false, 0, 0, 0, 0},  // no month zero
		{"2026-1-04", false, 0, 0, 0, 0},   // unpadded month
		{"2026-01-4", false, 0, 0, 0, 0},   // unpadded day
		{"+026-01-04", false, 0, 0, 0, 0},  // signed year
		{"2026/01/04", false, 0, 0, 0, 0},  // wrong separator
		{"2026-01-04 ", false, 0, 0, 0, 0}, // trailing space
		{"", false, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("ParseDate(%q) error = %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if !tt.ok {
			continue
		}
		y, m, d := got.Date()
		_, off := got.Zone()
		if y != tt.y || m != tt.m || d != tt.d || off != tt.offset || got.Hour() != 0 || got.Minute() != 0 {
			t.Errorf("ParseDate(%q) = %v, want %04d-%02d-%02d 00:00 at UTC%+d", tt.in, got, tt.y, tt.m, tt.d, tt.offset/3600)
		}
	}
}

func TestMeetingDays(t *testing.T) {
	date := func(s string) time.Time {
		t.Helper()
		d, err := ParseDate(s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name       string
		start, end time.Time
		want       []string
	}{
		{"one month", date("2026-03-01"), date("2026-03-31"), []string{"2026-03-04", "2026-03-14", "2026-03-24"}},
		{"bounds inclusive", date("2026-03-04"), date("2026-03-24"), []string{"2026-03-04", "2026-03-14", "2026-03-24"}},
		{"bounds just outside", date("2026-03-05"), date("2026-03-23"), []string{"2026-03-14"}},
		{"single meeting day", date("2026-03-14"), date("2026-03-14"), []string{"2026-03-14"}},
		{"single other day", date("2026-03-15"), date("2026-03-15"), nil},
		{"end before start", date("2026-03-24"), date("2026-03-04"), nil},
		{"across a year, February included", date("2025-12-20"), date("2026-02-10"), []string{
			"2025-12-24", "2026-01-04", "2026-01-14", "2026-01-24", "2026-02-04",
		}},
		{
			// 23:30 on the 3rd in UTC is already the 4th in Shanghai: the date of each bound is
			// read in its own location, and the time of day does not matter.
			"dates in their own zone",
			time.Date(2026, time.May, 3, 23, 30, 0, 0, time.UTC).In(shanghai()),
			time.Date(2026, time.May, 4, 23, 59, 0, 0, shanghai()),
			[]string{"2026-05-04"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MeetingDays(tt.start, tt.end); !slices.Equal(got, tt.want) {
				t.Fatalf("MeetingDays = %v, want %v", got, tt.want)
			}
		})
	}
	if n := len(MeetingDays(date("2026-01-01"), date("2026-12-31"))); n != 36 {
		t.Fatalf("a year has %d meeting days, want 36", n)
	}
}
