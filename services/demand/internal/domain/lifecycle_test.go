package domain

import (
	"slices"
	"testing"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// allDemandStatuses includes UNSPECIFIED and one value past the last, which must never move.
func allDemandStatuses() []demandv1.DemandStatus {
	var out []demandv1.DemandStatus
	for v := range int32(len(demandv1.DemandStatus_name) + 1) {
		out = append(out, demandv1.DemandStatus(v))
	}
	return out
}

func allProjectStatuses() []demandv1.ProjectStatus {
	var out []demandv1.ProjectStatus
	for v := range int32(len(demandv1.ProjectStatus_name) + 1) {
		out = append(out, demandv1.ProjectStatus(v))
	}
	return out
}

func TestDemandMoveAllowed(t *testing.T) {
	const (
		need    = demandv1.DemandKind_DEMAND_KIND_NEED
		problem = demandv1.DemandKind_DEMAND_KIND_PROBLEM
	)
	// Every allowed move, written out independently of the table in lifecycle.go; every other
	// combination of kind, from and to must be refused.
	type move struct {
		from, to demandv1.DemandStatus
	}
	both := []move{
		{submitted, accepted}, {submitted, rejected},
		{accepted, resolved}, {accepted, closedUnresolved}, {accepted, rejected},
		{inProject, resolved}, {inProject, closedUnresolved},
		// A demand in a case is resolved or closed by its case (the escalation feed), not by hand.
		{resolved, closed}, {resolved, accepted},
		{closedUnresolved, closed}, {closedUnresolved, accepted},
		{rejected, accepted},
	}
	allowed := map[demandv1.DemandKind][]move{
		need:    both,
		problem: append(slices.Clone(both), move{accepted, inCase}),
		demandv1.DemandKind_DEMAND_KIND_UNSPECIFIED: both,
	}
	for kind, moves := range allowed {
		for _, from := range allDemandStatuses() {
			for _, to := range allDemandStatuses() {
				want := slices.Contains(moves, move{from, to})
				if got := DemandMoveAllowed(kind, from, to); got != want {
					t.Errorf("DemandMoveAllowed(%v, %v, %v) = %v, want %v", kind, from, to, got, want)
				}
			}
		}
	}
}

func TestDemandMovers(t *testing.T) {
	staff := []auth.Role{auth.RoleCommunityStaff, auth.RoleStreetOfficer, auth.RoleDistrictOfficer, auth.RoleAdmin}
	tests := []struct {
		name     string
		from, to demandv1.DemandStatus
		want     []auth.Role
	}{
		{"grid worker accepts", submitted, accepted, append(slices.Clone(staff), auth.RoleGridWorker)},
		{"rejecting is for staff", submitted, rejected, staff},
		{"reopening is for staff", rejected, accepted, staff},
		{"resolving is for staff", accepted, resolved, staff},
		{"case is a move of some kind", accepted, inCase, staff},
		{"no such move", submitted, resolved, nil},
		{"into a project only through a project", accepted, inProject, nil},
		{"duplicate only through MarkDuplicate", accepted, duplicate, nil},
		{"closed is final", closed, accepted, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DemandMovers(tt.from, tt.to)
			if !sameRoles(got, tt.want) {
				t.Fatalf("DemandMovers(%v, %v) = %v, want %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
	// A caller appending to the result must not widen the next answer.
	r := DemandMovers(accepted, resolved)
	_ = append(r[:1], auth.RoleResident)
	if got := DemandMovers(accepted, resolved); !sameRoles(got, staff) {
		t.Fatalf("DemandMovers after a caller's append = %v, want %v", got, staff)
	}
}

func sameRoles(a, b []auth.Role) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestDemandStatusPredicates(t *testing.T) {
	tests := []struct {
		name string
		f    func(demandv1.DemandStatus) bool
		want []demandv1.DemandStatus
	}{
		{"ReasonRequired", ReasonRequired, []demandv1.DemandStatus{rejected, closedUnresolved}},
		{"Open", Open, []demandv1.DemandStatus{submitted, accepted, inProject, inCase}},
		{"Rateable", Rateable, []demandv1.DemandStatus{resolved, closedUnresolved, closed}},
		{"Duplicable", Duplicable, []demandv1.DemandStatus{submitted, accepted}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range allDemandStatuses() {
				if got, want := tt.f(s), slices.Contains(tt.want, s); got != want {
					t.Errorf("%s(%v) = %v, want %v", tt.name, s, got, want)
				}
			}
		})
	}
}

func TestProjectMoveAllowed(t *testing.T) {
	type move struct{ from, to demandv1.ProjectStatus }
	allowed := []move{
		{proposed, approved}, {proposed, cancelled},
		{approved, matching}, {approved, cancelled},
		{matching, approved}, {matching, cancelled},
		{contractPending, contracted}, {contractPending, matching}, {contractPending, cancelled},
		{contracted, delivering}, {contracted, cancelled},
		{delivering, completed}, {delivering, cancelled},
		{contractExpired, completed}, {contractExpired, cancelled},
	}
	for _, from := range allProjectStatuses() {
		for _, to := range allProjectStatuses() {
			want := slices.Contains(allowed, move{from, to})
			if got := ProjectMoveAllowed(from, to); got != want {
				t.Errorf("ProjectMoveAllowed(%v, %v) = %v, want %v", from, to, got, want)
			}
		}
	}
}

func TestProjectStatusPredicates(t *testing.T) {
	tests := []struct {
		name string
		f    func(demandv1.ProjectStatus) bool
		want []demandv1.ProjectStatus
	}{
		{"Matchable", Matchable, []demandv1.ProjectStatus{approved, matching}},
		{"Committed", Committed, []demandv1.ProjectStatus{contractPending, contracted, delivering}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, s := range allProjectStatuses() {
				if got, want := tt.f(s), slices.Contains(tt.want, s); got != want {
					t.Errorf("%s(%v) = %v, want %v", tt.name, s, got, want)
				}
			}
		})
	}
}

func TestDemandFollowsProject(t *testing.T) {
	for _, to := range allProjectStatuses() {
		got, ok := DemandFollowsProject(to)
		var want demandv1.DemandStatus
		switch to {
		case completed:
			want = resolved
		case cancelled:
			want = accepted
		}
		if wantOK := want != demandv1.DemandStatus_DEMAND_STATUS_UNSPECIFIED; ok != wantOK || got != want {
			t.Errorf("DemandFollowsProject(%v) = %v, %v; want %v, %v", to, got, ok, want, wantOK)
		}
	}
}

func TestStatusLabels(t *testing.T) {
	demandLabels := map[demandv1.DemandStatus]string{
		submitted:        "已提交",
		accepted:         "已受理",
		rejected:         "未受理",
		inProject:        "已纳入项目",
		inCase:           "办理中",
		resolved:         "已解决",
		closedUnresolved: "未解决办结",
		closed:           "已办结",
		duplicate:        "已合并",
	}
	for _, s := range allDemandStatuses() {
		if got := StatusLabel(s); got != demandLabels[s] {
			t.Errorf("StatusLabel(%v) = %q, want %q", s, got, demandLabels[s])
		}
	}
	projectLabels := map[demandv1.ProjectStatus]string{
		proposed:        "已立项待审",
		approved:        "已批准",
		matching:        "匹配中",
		contractPending: "待签约",
		contracted:      "已签约",
		delivering:      "实施中",
		completed:       "已完成",
		cancelled:       "已取消",
		contractExpired: "契约已到期",
	}
	for _, s := range allProjectStatuses() {
		if got := ProjectStatusLabel(s); got != projectLabels[s] {
			t.Errorf("ProjectStatusLabel(%v) = %q, want %q", s, got, projectLabels[s])
		}
	}
}

func TestCaseMove(t *testing.T) {
	for _, tc := range []struct {
		from            demandv1.DemandStatus
		open, resolvedC bool
		to              demandv1.DemandStatus
		ok              bool
	}{
		{accepted, true, false, inCase, true},
		{submitted, true, false, inCase, true},
		{resolved, true, false, inCase, true}, // reopened after an unsatisfied rating
		{inCase, true, false, inCase, false},  // already there
		{inCase, false, true, resolved, true},
		{inCase, false, false, closedUnresolved, true},
		{closed, false, true, resolved, false}, // closed for good meanwhile: it stays
		{duplicate, true, false, inCase, false},
		{inProject, true, false, inCase, false},
	} {
		to, ok := CaseMove(tc.from, tc.open, tc.resolvedC)
		if to != tc.to || ok != tc.ok {
			t.Errorf("CaseMove(%v, open %v, resolved %v) = %v, %v; want %v, %v", tc.from, tc.open, tc.resolvedC, to, ok, tc.to, tc.ok)
		}
	}
}
