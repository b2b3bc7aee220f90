package domain

import (
	"testing"
	"time"
)

func TestDay(t *testing.T) {
	cases := []struct {
		at   time.Time
		want int
	}{
		{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 20260101},
		// 16:00 UTC is midnight in China Standard Time: the next local day.
		{time.Date(2025, 12, 31, 16, 0, 0, 0, time.UTC), 20260101},
		{time.Date(2025, 12, 31, 15, 59, 59, 0, time.UTC), 20251231},
	}
	for _, c := range cases {
		if got := Day(c.at); got != c.want {
			t.Errorf("Day(%v) = %d, want %d", c.at, got, c.want)
		}
	}
	if d, ok := DayOfDate("2026-02-28"); !ok || d != 20260228 {
		t.Errorf("DayOfDate = %d, %v", d, ok)
	}
	if _, ok := DayOfDate("2026-02-30"); ok {
		t.Error("2026-02-30 is a date")
	}
	if got := DateOfDay(20260301).Format(time.DateOnly); got != "2026-03-01" {
		t.Errorf("DateOfDay = %s", got)
	}
}

func TestMedian(t *testing.T) {
	cases := []struct {
		name string
		h    map[string]int64
		want time.Duration
		ok   bool
	}{
		{"empty", map[string]int64{}, 0, false},
		{"one bucket", map[string]int64{Bucket(3 * time.Hour): 5}, 4 * time.Hour, true},
		{"lower half", map[string]int64{Bucket(30 * time.Minute): 3, Bucket(30 * time.Hour): 2}, time.Hour, true},
		{"upper half", map[string]int64{Bucket(30 * time.Minute): 2, Bucket(30 * time.Hour): 3}, 48 * time.Hour, true},
		{"past a year", map[string]int64{Bucket(400 * 24 * time.Hour): 1}, 365 * 24 * time.Hour, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Median(c.h)
			if got != c.want || ok != c.ok {
				t.Errorf("Median = %v, %v; want %v, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func TestLabels(t *testing.T) {
	for key, want := range map[string]string{"CHANNEL_FOURTH_DAY_MEETING": "逢四说事", "COLOUR_YELLOW": "黄色", "CATEGORY_LEGAL_AID": "法律援助", "SOMETHING_NEW": "SOMETHING_NEW"} {
		if got := Label(key); got != want {
			t.Errorf("Label(%s) = %s, want %s", key, got, want)
		}
	}
}
