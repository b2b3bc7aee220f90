package domain_test

import (
	"testing"
	"time"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/services/escalation/internal/domain"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

func cst(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, calendar.TimeZone())
}

func TestClocksAndSweepDue(t *testing.T) {
	r := rules.Demo()
	for _, tc := range []struct {
		colour                  escalationv1.Colour
		start                   time.Time
		resolve, escalate, warn time.Time
		noEscalation            bool
	}{
		{escalationv1.Colour_COLOUR_GREEN, cst(2026, 11, 2, 9, 0), cst(2026, 11, 6, 0, 0), cst(2026, 11, 10, 0, 0), cst(2026, 11, 5, 6, 36), false},
		{escalationv1.Colour_COLOUR_YELLOW, cst(2026, 9, 30, 9, 0), cst(2026, 10, 16, 0, 0), cst(2026, 10, 21, 0, 0), time.Time{}, false}, // 10-08, 10-09, the make-up 10-10, 10-12…,
		{escalationv1.Colour_COLOUR_RED, cst(2026, 11, 2, 9, 0), cst(2026, 11, 24, 0, 0), time.Time{}, time.Time{}, true},
	} {
		c := &escalationv1.Case{Colour: tc.colour, Status: escalationv1.CaseStatus_CASE_STATUS_ASSIGNED, Warned: true}
		domain.SetClocks(r, c, tc.start)
		if !c.GetResolveDeadline().AsTime().Equal(tc.resolve) {
			t.Errorf("%v: resolve %v, want %v", tc.colour, c.GetResolveDeadline().AsTime().In(calendar.TimeZone()), tc.resolve)
		}
		if tc.noEscalation != (c.GetEscalateTime() == nil) || (!tc.noEscalation && !c.GetEscalateTime().AsTime().Equal(tc.escalate)) {
			t.Errorf("%v: escalate %v, want %v", tc.colour, c.GetEscalateTime(), tc.escalate)
		}
		if !tc.warn.IsZero() && !c.GetWarnTime().AsTime().Equal(tc.warn) {
			t.Errorf("%v: warn %v, want %v", tc.colour, c.GetWarnTime().AsTime().In(calendar.TimeZone()), tc.warn)
		}
		if c.GetWarned() {
			t.Errorf("%v: a new level keeps the old warning", tc.colour)
		}
		// The sweeper looks first at the warning, then at the escalation.
		if due := domain.SweepDue(c); due == nil || !due.Equal(c.GetWarnTime().AsTime()) {
			t.Errorf("%v: sweep due %v", tc.colour, due)
		}
		c.Warned = true
		if due := domain.SweepDue(c); (due == nil) != tc.noEscalation {
			t.Errorf("%v: after the warning, sweep due %v", tc.colour, due)
		}
		c.Status = escalationv1.CaseStatus_CASE_STATUS_RESOLVED
		if domain.SweepDue(c) != nil {
			t.Errorf("%v: a resolved case is swept", tc.colour)
		}
	}
}

func TestLevelsAndDates(t *testing.T) {
	for _, tc := range []struct {
		role auth.Role
		want escalationv1.Level
	}{
		{auth.RoleCommunityStaff, escalationv1.Level_LEVEL_COMMUNITY},
		{auth.RoleStreetOfficer, escalationv1.Level_LEVEL_SUBDISTRICT},
		{auth.RoleDistrictOfficer, escalationv1.Level_LEVEL_DISTRICT},
		{auth.RoleAdmin, escalationv1.Level_LEVEL_DISTRICT},
		{auth.RoleDepartment, escalationv1.Level_LEVEL_UNSPECIFIED},
		{auth.RoleGridWorker, escalationv1.Level_LEVEL_UNSPECIFIED},
	} {
		if got := domain.RoleLevel(auth.Principal{Roles: []auth.Role{tc.role}}); got != tc.want {
			t.Errorf("RoleLevel(%s) = %v", tc.role, got)
		}
	}
	for c, l := range map[escalationv1.Colour]escalationv1.Level{
		escalationv1.Colour_COLOUR_GREEN: escalationv1.Level_LEVEL_COMMUNITY, escalationv1.Colour_COLOUR_YELLOW: escalationv1.Level_LEVEL_SUBDISTRICT,
		escalationv1.Colour_COLOUR_RED: escalationv1.Level_LEVEL_DISTRICT,
	} {
		if domain.LevelOf(c) != l || domain.ColourOf(l) != c || domain.ProtoColour(domain.RuleColour(c)) != c {
			t.Errorf("%v ↔ %v", c, l)
		}
	}
	if got := domain.ExpectedDate(cst(2026, 10, 11, 0, 0)); got != "2026年10月10日" {
		t.Errorf("a working-day deadline is told as its last day: %s", got)
	}
	if got := domain.ExpectedDate(cst(2026, 10, 11, 14, 0)); got != "2026年10月11日" {
		t.Errorf("a clock deadline is told as its own day: %s", got)
	}
}
