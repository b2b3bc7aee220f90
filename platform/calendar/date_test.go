package calendar_test

import (
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/calendar"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		in   string
		want calendar.Date // zero when refused
	}{
		{"2026-02-28", calendar.Date{Year: 2026, Month: time.February, Day: 28}},
		{"2028-02-29", calendar.Date{Year: 2028, Month: time.February, Day: 29}},
		{"2025-12-04", calendar.Date{Year: 2025, Month: time.December, Day: 4}},
		{"0001-01-01", calendar.Date{Year: 1, Month: time.January, Day: 1}},
		{"2026-02-29", calendar.Date{}}, // not a leap year
		{"2026-02-30", calendar.Date{}}, // no such day
		{"2026-04-31", calendar.Date{}},
		{"2026-13-01", calendar.Date{}}, // no such month
		{"2026-00-10", calendar.Date{}}, // no month zero
		{"2026-01-00", calendar.Date{}}, // no day zero
		{"2026-1-04", calendar.Date{}},  // unpadded month
		{"2026-01-4", calendar.Date{}},  // unpadded day
		{"+026-01-04", calendar.Date{}}, // signed year
		{"2026/01/04", calendar.Date{}}, // wrong separator
		{"2026-01-04 ", calendar.Date{}},
		{"2026-01-04T00:00:00Z", calendar.Date{}},
		{"２０２６-01-04", calendar.Date{}}, // full-width digits
		{"", calendar.Date{}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := calendar.ParseDate(tt.in)
			if tt.want.IsZero() {
				if err == nil {
					t.Fatalf("ParseDate(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Fatalf("String() = %q, want %q", got.String(), tt.in)
			}
			start := got.Start()
			if _, off := start.Zone(); off != 8*3600 || start.Hour() != 0 || start.Minute() != 0 || calendar.DateOf(start) != got {
				t.Fatalf("Start() = %v, want midnight at UTC+8 of %v", start, got)
			}
		})
	}
}

func TestDateOfCountsInChina(t *testing.T) {
	// 16:30 UTC is already the next day in China.
	if got, want := calendar.DateOf(time.Date(2026, 10, 7, 16, 30, 0, 0, time.UTC)), (calendar.Date{Year: 2026, Month: 10, Day: 8}); got != want {
		t.Fatalf("DateOf = %v, want %v", got, want)
	}
	if got, want := calendar.DateOf(time.Date(2026, 10, 7, 15, 59, 0, 0, time.UTC)), (calendar.Date{Year: 2026, Month: 10, Day: 7}); got != want {
		t.Fatalf("DateOf = %v, want %v", got, want)
	}
}

func TestDateArithmetic(t *testing.T) {
	d := calendar.Date{Year: 2026, Month: time.February, Day: 27}
	if got := d.AddDays(2); got != (calendar.Date{Year: 2026, Month: time.March, Day: 1}) {
		t.Errorf("AddDays(2) = %v", got)
	}
	if got := d.AddDays(-58); got != (calendar.Date{Year: 2025, Month: time.December, Day: 31}) {
		t.Errorf("AddDays(-58) = %v", got)
	}
	if n := d.AddDays(400).DaysSince(d); n != 400 {
		t.Errorf("DaysSince = %d, want 400", n)
	}
	if n := d.DaysSince(d.AddDays(3)); n != -3 {
		t.Errorf("DaysSince = %d, want -3", n)
	}
	if d.Compare(d.AddDays(1)) != -1 || d.AddDays(1).Compare(d) != 1 || d.Compare(d) != 0 {
		t.Error("Compare")
	}
	if !d.AddDays(1).IsWeekend() || d.IsWeekend() || d.Weekday() != time.Friday {
		t.Errorf("2026-02-27 is a Friday; weekday %v", d.Weekday())
	}
}

func TestProto(t *testing.T) {
	tests := []struct {
		name string
		in   *date.Date
		want calendar.Date // zero when refused
	}{
		{name: "full", in: &date.Date{Year: 2026, Month: 10, Day: 1}, want: calendar.Date{Year: 2026, Month: time.October, Day: 1}},
		{name: "leap day", in: &date.Date{Year: 2028, Month: 2, Day: 29}, want: calendar.Date{Year: 2028, Month: time.February, Day: 29}},
		{name: "nil"},
		{name: "year only", in: &date.Date{Year: 2026}},
		{name: "anniversary without a year", in: &date.Date{Month: 10, Day: 1}},
		{name: "month without a day", in: &date.Date{Year: 2026, Month: 10}},
		{name: "no such day", in: &date.Date{Year: 2026, Month: 2, Day: 29}},
		{name: "no such month", in: &date.Date{Year: 2026, Month: 13, Day: 1}},
		{name: "negative", in: &date.Date{Year: -1, Month: 1, Day: 1}},
		{name: "year 10000", in: &date.Date{Year: 10000, Month: 1, Day: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := calendar.FromProto(tt.in)
			if tt.want.IsZero() {
				if err == nil {
					t.Fatalf("FromProto(%v) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("FromProto(%v) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if back := got.Proto(); !proto.Equal(back, tt.in) {
				t.Fatalf("Proto() = %v, want %v", back, tt.in)
			}
		})
	}
	if (calendar.Date{}).Proto() != nil {
		t.Error("the zero Date's proto is not nil")
	}
}
