// Package domain holds the escalation service's rules with no I/O: how colours map to levels
// and units, which statuses are open, who acts at which level, how a case's clocks are set on
// the working-day calendar, when the sweeper must look at it, and the replies residents read at
// every step (事事有回音).
package domain

import (
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

// WarnShare is the share of the resolve limit after which the unit is warned.
const WarnShare = 0.8

var colours = map[escalationv1.Colour]rules.Colour{
	escalationv1.Colour_COLOUR_GREEN:  rules.Green,
	escalationv1.Colour_COLOUR_YELLOW: rules.Yellow,
	escalationv1.Colour_COLOUR_RED:    rules.Red,
}

// RuleColour is the rules' colour of c ("" for UNSPECIFIED).
func RuleColour(c escalationv1.Colour) rules.Colour { return colours[c] }

// ProtoColour is the proto colour of c.
func ProtoColour(c rules.Colour) escalationv1.Colour {
	for k, v := range colours {
		if v == c {
			return k
		}
	}
	return escalationv1.Colour_COLOUR_UNSPECIFIED
}

// LevelOf is the level that leads on a case of colour c: green the community, yellow the
// sub-district, red the district.
func LevelOf(c escalationv1.Colour) escalationv1.Level {
	return escalationv1.Level(c) // the enums are numbered alike, on purpose
}

// ColourOf is the colour whose level is l.
func ColourOf(l escalationv1.Level) escalationv1.Colour { return escalationv1.Colour(l) }

// Open reports whether a case in s is still being worked on.
func Open(s escalationv1.CaseStatus) bool {
	switch s {
	case escalationv1.CaseStatus_CASE_STATUS_ASSIGNED, escalationv1.CaseStatus_CASE_STATUS_ACCEPTED, escalationv1.CaseStatus_CASE_STATUS_HANDED_BACK:
		return true
	}
	return false
}

// RoleLevel is the most senior level the caller's official roles act at: community staff the
// community, street officers the sub-district, district officers and administrators the
// district. LEVEL_UNSPECIFIED for anyone else (grid workers, departments, systems, residents).
func RoleLevel(p auth.Principal) escalationv1.Level {
	switch {
	case p.HasRole(auth.RoleDistrictOfficer, auth.RoleAdmin):
		return escalationv1.Level_LEVEL_DISTRICT
	case p.HasRole(auth.RoleStreetOfficer):
		return escalationv1.Level_LEVEL_SUBDISTRICT
	case p.HasRole(auth.RoleCommunityStaff):
		return escalationv1.Level_LEVEL_COMMUNITY
	}
	return escalationv1.Level_LEVEL_UNSPECIFIED
}

// RegionLevel is the case level a region of level l leads at.
func RegionLevel(l region.Level) escalationv1.Level {
	switch l {
	case region.LevelCommunity:
		return escalationv1.Level_LEVEL_COMMUNITY
	case region.LevelSubdistrict:
		return escalationv1.Level_LEVEL_SUBDISTRICT
	case region.LevelDistrict:
		return escalationv1.Level_LEVEL_DISTRICT
	}
	return escalationv1.Level_LEVEL_UNSPECIFIED
}

// Unit names of the two kinds.
const (
	RegionUnitPrefix     = "regions/"
	DepartmentUnitPrefix = "departments/"
)

// OfficeUnit is the unit of the level's own office for a case of community in subdistrict of
// district: the community, the sub-district or the district.
func OfficeUnit(level escalationv1.Level, community, subdistrict, district string) string {
	switch level {
	case escalationv1.Level_LEVEL_COMMUNITY:
		return RegionUnitPrefix + community
	case escalationv1.Level_LEVEL_SUBDISTRICT:
		return RegionUnitPrefix + subdistrict
	}
	return RegionUnitPrefix + district
}

// SetClocks starts c's clocks at start for its colour: the deadlines by the colour's limits on
// the calendar, the escalation time by its level's interval (none at the district), the
// warning time at WarnShare of the resolve limit. What the unit did at the previous level
// (acknowledged, replied, asked for more time, was warned) no longer counts.
func SetClocks(r *rules.Rules, c *escalationv1.Case, start time.Time) {
	cal := r.Calendar()
	lim := r.TimeLimits(RuleColour(c.GetColour()))
	resolve := lim.Resolve.Due(start, cal)
	c.LevelStartTime = timestamppb.New(start)
	c.AcknowledgeDeadline = timestamppb.New(lim.Acknowledge.Due(start, cal))
	c.ReplyDeadline = timestamppb.New(lim.Reply.Due(start, cal))
	c.ResolveDeadline = timestamppb.New(resolve)
	c.WarnTime = timestamppb.New(start.Add(time.Duration(float64(resolve.Sub(start)) * WarnShare)))
	c.EscalateTime = nil
	if after, ok := r.EscalateAfter(RuleColour(c.GetColour()).Level()); ok {
		c.EscalateTime = timestamppb.New(after.Due(start, cal))
	}
	c.AcknowledgeTime, c.ReplyTime, c.Extension, c.Warned = nil, nil, nil, false
}

// SweepDue is when the sweeper must next look at c: its warning, then its escalation; nil for
// a closed case or one with nothing pending.
func SweepDue(c *escalationv1.Case) *time.Time {
	if !Open(c.GetStatus()) {
		return nil
	}
	var due *time.Time
	if !c.GetWarned() && c.GetWarnTime() != nil {
		t := c.GetWarnTime().AsTime()
		due = &t
	}
	for _, ts := range []*timestamppb.Timestamp{c.GetEscalateTime(), c.GetNextDutyDueTime()} {
		if ts == nil {
			continue
		}
		t := ts.AsTime()
		if due == nil || t.Before(*due) {
			due = &t
		}
	}
	return due
}

// DutyDue is when a duty due on date (YYYY-MM-DD, local) counts as overdue: the end of that day
// in China Standard Time.
func DutyDue(date string) (time.Time, error) {
	d, err := calendar.ParseDate(date)
	if err != nil {
		return time.Time{}, err
	}
	return d.AddDays(1).Start(), nil
}

// NextDutyDue is when the earliest duty of meetings neither done nor reported overdue falls
// due; nil when there is none.
func NextDutyDue(meetings []*escalationv1.CaseMeeting) *timestamppb.Timestamp {
	var next *time.Time
	for _, m := range meetings {
		for _, d := range m.GetDuties() {
			if d.GetDone() || d.GetOverdueReported() {
				continue
			}
			t, err := DutyDue(d.GetDueDate())
			if err != nil {
				continue // checked when recorded
			}
			if next == nil || t.Before(*next) {
				next = &t
			}
		}
	}
	if next == nil {
		return nil
	}
	return timestamppb.New(*next)
}

// ExpectedDate is the date a resident is told for deadline: the last day it covers (a
// working-day limit ends at midnight after its last day), in China Standard Time.
func ExpectedDate(deadline time.Time) string {
	d := calendar.DateOf(deadline.Add(-time.Minute))
	return fmt.Sprintf("%d年%d月%d日", d.Year, d.Month, d.Day)
}

var rungLevels = map[escalationv1.MediationRung]escalationv1.Level{
	escalationv1.MediationRung_MEDIATION_RUNG_GRID_WORKER:                 escalationv1.Level_LEVEL_COMMUNITY,
	escalationv1.MediationRung_MEDIATION_RUNG_COMMUNITY_COMMITTEE:         escalationv1.Level_LEVEL_COMMUNITY,
	escalationv1.MediationRung_MEDIATION_RUNG_SUBDISTRICT_JUDICIAL_OFFICE: escalationv1.Level_LEVEL_SUBDISTRICT,
	escalationv1.MediationRung_MEDIATION_RUNG_DISTRICT:                    escalationv1.Level_LEVEL_DISTRICT,
}

var rungNames = map[escalationv1.MediationRung]string{
	escalationv1.MediationRung_MEDIATION_RUNG_GRID_WORKER:                 "网格员调解",
	escalationv1.MediationRung_MEDIATION_RUNG_COMMUNITY_COMMITTEE:         "社区人民调解委员会调解",
	escalationv1.MediationRung_MEDIATION_RUNG_SUBDISTRICT_JUDICIAL_OFFICE: "街道司法所调解",
	escalationv1.MediationRung_MEDIATION_RUNG_DISTRICT:                    "区级调解",
}

// RungLevel is the level a rung of the mediation ladder belongs to.
func RungLevel(r escalationv1.MediationRung) escalationv1.Level { return rungLevels[r] }

// RungName is who mediates on the rung, in Chinese, for replies ("经街道司法所调解").
func RungName(r escalationv1.MediationRung) string { return rungNames[r] }

// RungOf is the rung c's dispute is on: its own, or, before its first session, the lowest rung
// of its level (the grid worker for green, the judicial office for yellow, the district for red).
func RungOf(c *escalationv1.Case) escalationv1.MediationRung {
	if r := c.GetMediationRung(); r != escalationv1.MediationRung_MEDIATION_RUNG_UNSPECIFIED {
		return r
	}
	switch c.GetLevel() {
	case escalationv1.Level_LEVEL_SUBDISTRICT:
		return escalationv1.MediationRung_MEDIATION_RUNG_SUBDISTRICT_JUDICIAL_OFFICE
	case escalationv1.Level_LEVEL_DISTRICT:
		return escalationv1.MediationRung_MEDIATION_RUNG_DISTRICT
	}
	return escalationv1.MediationRung_MEDIATION_RUNG_GRID_WORKER
}

// NextRung is the rung above r; ok is false at the district, the top.
func NextRung(r escalationv1.MediationRung) (escalationv1.MediationRung, bool) {
	if r >= escalationv1.MediationRung_MEDIATION_RUNG_DISTRICT {
		return r, false
	}
	return r + 1, true
}
