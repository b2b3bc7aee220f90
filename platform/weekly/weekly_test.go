package weekly

import (
	"testing"

	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

func TestMinute(t *testing.T) {
	tests := []struct {
		in   string
		want int
		ok   bool
	}{
		{"00:00", 0, true},
		{"15:30", 15*60 + 30, true},
		{"23:59", 23*60 + 59, true},
		{"24:00", 0, false},
		{"12:60", 0, false},
		{"9:30", 0, false},
		{"09-30", 0, false},
		{"0a:30", 0, false},
		{"", 0, false},
		{"09:300", 0, false},
	}
	for _, tt := range tests {
		got, ok := Minute(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("Minute(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBounds(t *testing.T) {
	wed := typev1.Weekday_WEEKDAY_WEDNESDAY
	tests := []struct {
		name       string
		w          *typev1.WeeklyWindow
		start, end int
		ok         bool
	}{
		{"wednesday afternoon", &typev1.WeeklyWindow{Weekday: wed, StartTime: "15:00", EndTime: "18:00"}, 900, 1080, true},
		{"no weekday", &typev1.WeeklyWindow{StartTime: "15:00", EndTime: "18:00"}, 900, 1080, false},
		{"ends before it starts", &typev1.WeeklyWindow{Weekday: wed, StartTime: "18:00", EndTime: "15:00"}, 1080, 900, false},
		{"empty", &typev1.WeeklyWindow{Weekday: wed, StartTime: "15:00", EndTime: "15:00"}, 900, 900, false},
		{"malformed", &typev1.WeeklyWindow{Weekday: wed, StartTime: "3pm", EndTime: "18:00"}, 0, 1080, false},
		{"nil", nil, 0, 0, false},
	}
	for _, tt := range tests {
		s, e, ok := Bounds(tt.w)
		if s != tt.start || e != tt.end || ok != tt.ok {
			t.Errorf("%s: Bounds = %d, %d, %v; want %d, %d, %v", tt.name, s, e, ok, tt.start, tt.end, tt.ok)
		}
	}
}

func TestDayLabel(t *testing.T) {
	for d, want := range map[typev1.Weekday]string{typev1.Weekday_WEEKDAY_MONDAY: "Mon", typev1.Weekday_WEEKDAY_SUNDAY: "Sun", 0: "", 99: "99"} {
		if got := DayLabel(d); got != want {
			t.Errorf("DayLabel(%d) = %q, want %q", d, got, want)
		}
	}
}
