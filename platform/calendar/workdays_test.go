package calendar_test

import (
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/calendar"
)

func day(s string) calendar.Date {
	d, err := calendar.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

func TestCalendar(t *testing.T) {
	holidays := map[calendar.Date]string{}
	for d := day("2026-10-01"); d.Compare(day("2026-10-08")) <= 0; d = d.AddDays(1) {
		holidays[d] = "国庆节"
	}
	workdays := map[calendar.Date]string{day("2026-09-27"): "国庆节调休", day("2026-10-10"): "国庆节调休"}
	cal := calendar.New(holidays, workdays)
	holidays[day("2026-10-09")] = "changed after New" // New copies

	for _, tc := range []struct {
		day             string
		working         bool
		holiday, makeUp string
	}{
		{day: "2026-09-26", working: false},                 // an ordinary Saturday
		{day: "2026-09-27", working: true, makeUp: "国庆节调休"}, // a Sunday worked
		{day: "2026-09-30", working: true},                  // an ordinary Wednesday
		{day: "2026-10-01", working: false, holiday: "国庆节"}, // a Thursday off
		{day: "2026-10-04", working: false, holiday: "国庆节"}, // a Sunday inside the holiday
		{day: "2026-10-09", working: true},                  // not listed when New ran
		{day: "2026-10-10", working: true, makeUp: "国庆节调休"}, // a Saturday worked
	} {
		at := day(tc.day).Start().Add(10 * time.Hour)
		if got := cal.IsWorkingDay(at); got != tc.working || cal.IsWorkday(day(tc.day)) != tc.working {
			t.Errorf("%s: working = %v, want %v", tc.day, got, tc.working)
		}
		if name, ok := cal.Holiday(at); name != tc.holiday || ok != (tc.holiday != "") {
			t.Errorf("%s: Holiday = %q, %v", tc.day, name, ok)
		}
		if name, ok := cal.MakeUpWorkday(at); name != tc.makeUp || ok != (tc.makeUp != "") {
			t.Errorf("%s: MakeUpWorkday = %q, %v", tc.day, name, ok)
		}
	}
	if !cal.Covers(2026) || cal.Covers(2027) || len(cal.Years()) != 1 {
		t.Errorf("Years() = %v, want [2026]", cal.Years())
	}
	// Reported on the Wednesday before the holiday: the next working days are 10-09 and 10-10.
	if got, want := cal.AddWorkdays(day("2026-09-30").Start().Add(20*time.Hour), 2), day("2026-10-11").Start(); !got.Equal(want) {
		t.Errorf("AddWorkdays = %v, want %v", got, want)
	}
	var none *calendar.Calendar
	if got, want := none.AddWorkdays(day("2026-09-30").Start(), 2), day("2026-10-03").Start(); !got.Equal(want) {
		t.Errorf("nil calendar AddWorkdays = %v, want %v", got, want)
	}
}
