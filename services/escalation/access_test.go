package escalation_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// Bad input: each refused with the canonical code naming the field, and nothing written.
func TestBadInput(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "垃圾桶满溢", "垃圾桶满溢", 10)
		need, err := e.demands.CreateDemand(e.staff(erqiao), &demandv1.CreateDemandRequest{Demand: &demandv1.Demand{
			Kind: demandv1.DemandKind_DEMAND_KIND_NEED, Category: typev1.Category_CATEGORY_CHILDCARE, Channel: demandv1.Channel_CHANNEL_WALK_IN,
			Title: "周三下午托管", CommunityCode: erqiao,
		}})
		if err != nil {
			t.Fatal(err)
		}
		street := e.street(jiangnan)
		created, err := e.cases.CreateCase(e.staff(erqiao), &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: d.GetName()}})
		if err != nil {
			t.Fatal(err)
		}
		c := created.GetCase()
		staff := e.staff(erqiao)
		for _, tc := range []struct {
			name  string
			call  func() error
			code  codes.Code
			field string
		}{
			{"unknown colour", func() error {
				_, err := e.cases.ClassifyCase(staff, &escalationv1.ClassifyCaseRequest{Name: c.GetName(), Colour: 7})
				return err
			}, codes.InvalidArgument, "colour"},
			{"no colour", func() error {
				_, err := e.cases.ClassifyCase(staff, &escalationv1.ClassifyCaseRequest{Name: c.GetName()})
				return err
			}, codes.InvalidArgument, "colour"},
			{"override without a reason", func() error {
				_, err := e.cases.ClassifyCase(street, &escalationv1.ClassifyCaseRequest{Name: c.GetName(), Colour: yellow})
				return err
			}, codes.InvalidArgument, "reason"},
			{"de-escalation below green", func() error {
				_, err := e.cases.DeescalateCase(staff, &escalationv1.DeescalateCaseRequest{Name: c.GetName(), Reason: "社区能办"})
				return err
			}, codes.FailedPrecondition, ""},
			{"unconfigured department", func() error {
				_, err := e.cases.AssignCase(staff, &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "departments/police"})
				return err
			}, codes.InvalidArgument, "unit"},
			{"a department for a green case", func() error {
				_, err := e.cases.AssignCase(staff, &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "departments/power"})
				return err
			}, codes.InvalidArgument, "unit"},
			{"a unit outside the case's region", func() error {
				_, err := e.cases.AssignCase(staff, &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "regions/" + fujing})
				return err
			}, codes.InvalidArgument, "unit"},
			{"a unit not in the tree", func() error {
				_, err := e.cases.AssignCase(staff, &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "regions/450105999999"})
				return err
			}, codes.InvalidArgument, "unit"},
			{"a malformed unit", func() error {
				_, err := e.cases.AssignCase(staff, &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "power"})
				return err
			}, codes.InvalidArgument, "unit"},
			{"resolution without a note", func() error {
				_, err := e.cases.ResolveCase(staff, &escalationv1.ResolveCaseRequest{Name: c.GetName()})
				return err
			}, codes.InvalidArgument, "resolution_note"},
			{"closing without a reason", func() error {
				_, err := e.cases.CloseCaseUnresolved(staff, &escalationv1.CloseCaseUnresolvedRequest{Name: c.GetName(), Reason: " "})
				return err
			}, codes.InvalidArgument, "reason"},
			{"a second case for the demand", func() error {
				_, err := e.cases.CreateCase(staff, &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: d.GetName()}})
				return err
			}, codes.AlreadyExists, ""},
			{"a case for a need", func() error {
				_, err := e.cases.CreateCase(staff, &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: need.GetDemand().GetName()}})
				return err
			}, codes.InvalidArgument, "case.demand"},
			{"a demand that does not exist", func() error {
				_, err := e.cases.CreateCase(staff, &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: "demands/01JAAAAAAAAAAAAAAAAAAAAAAA"}})
				return err
			}, codes.InvalidArgument, "case.demand"},
			{"a demand out of scope reads as missing", func() error {
				_, err := e.cases.CreateCase(e.staff(peihong), &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: need.GetDemand().GetName()}})
				return err
			}, codes.InvalidArgument, "case.demand"},
			{"an unknown colour on create", func() error {
				_, err := e.cases.CreateCase(staff, &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: d.GetName()}, Colour: 9})
				return err
			}, codes.InvalidArgument, "colour"},
			{"a stale etag", func() error {
				_, err := e.cases.EscalateCase(staff, &escalationv1.EscalateCaseRequest{Name: c.GetName(), Reason: "社区无力解决", Etag: `"stale"`})
				return err
			}, codes.Aborted, ""},
			{"a co-handling meeting on a green case", func() error {
				_, err := e.cases.CreateCaseMeeting(staff, &escalationv1.CreateCaseMeetingRequest{Parent: c.GetName(), Meeting: &escalationv1.CaseMeeting{
					MeetingDate: "2026-11-02", Decisions: "议定", Participants: []*escalationv1.Participant{
						{DisplayName: "自管小组", Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_RESIDENTS},
						{DisplayName: "二桥西社区", Kind: escalationv1.ParticipantKind_PARTICIPANT_KIND_GOVERNMENT}}}})
				return err
			}, codes.FailedPrecondition, ""},
			{"a meeting of a case that does not exist", func() error {
				_, err := e.cases.ListCaseMeetings(staff, &escalationv1.ListCaseMeetingsRequest{Parent: "cases/01JAAAAAAAAAAAAAAAAAAAAAAA"})
				return err
			}, codes.NotFound, ""},
			{"a bad filter", func() error {
				_, err := e.cases.ListCases(staff, &escalationv1.ListCasesRequest{Filter: "colour = BLUE"})
				return err
			}, codes.InvalidArgument, "filter"},
			{"a bad order", func() error {
				_, err := e.cases.ListCases(staff, &escalationv1.ListCasesRequest{OrderBy: "title"})
				return err
			}, codes.InvalidArgument, "order_by"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				err := tc.call()
				apierrtest.WantCode(t, err, tc.code)
				if tc.field != "" {
					apierrtest.WantField(t, err, tc.field)
				}
			})
		}
		// Nothing was written: the case took only its opening step.
		if h := e.history(c.GetName()); len(h) != 1 {
			t.Fatalf("history after refusals: %v", h)
		}

		// An extension past one the level above refused.
		if _, err := e.cases.RequestExtension(staff, &escalationv1.RequestExtensionRequest{Name: c.GetName(), Workdays: 3, Reason: "需协调物业"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.cases.DecideExtension(staff, &escalationv1.DecideExtensionRequest{Name: c.GetName(), Grant: false, Reason: "社区自己不能批"})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		_, err = e.cases.DecideExtension(street, &escalationv1.DecideExtensionRequest{Name: c.GetName(), Grant: false})
		apierrtest.WantField(t, err, "reason")
		if _, err := e.cases.DecideExtension(street, &escalationv1.DecideExtensionRequest{Name: c.GetName(), Grant: false, Reason: "时限内可以办结"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.cases.RequestExtension(staff, &escalationv1.RequestExtensionRequest{Name: c.GetName(), Workdays: 5, Reason: "再延"})
		apierrtest.WantField(t, err, "workdays")
		granted, err := e.cases.RequestExtension(staff, &escalationv1.RequestExtensionRequest{Name: c.GetName(), Workdays: 1, Reason: "延一天"})
		if err != nil {
			t.Fatal(err)
		}
		if granted.GetCase().GetExtension().GetState() != escalationv1.ExtensionState_EXTENSION_STATE_PENDING {
			t.Fatalf("extension %v", granted.GetCase().GetExtension())
		}
		ok, err := e.cases.DecideExtension(street, &escalationv1.DecideExtensionRequest{Name: c.GetName(), Grant: true})
		if err != nil {
			t.Fatal(err)
		}
		// One more working day: Friday.
		if got := ok.GetCase().GetResolveDeadline().AsTime(); !got.Equal(cst(2026, 11, 7, 0, 0)) {
			t.Errorf("extended deadline %v", got)
		}
	})
}

// Authorization by role, level, unit and region: out of scope reads like missing.
func TestAuthorization(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "垃圾桶满溢", "垃圾桶满溢", 10)
		e.toCase(erqiao, d.GetName())
		c := e.caseOf(d.GetName())
		for _, tc := range []struct {
			name string
			call func() error
			code codes.Code
		}{
			{"another community's staff", func() error {
				_, err := e.cases.GetCase(e.staff(fujing), &escalationv1.GetCaseRequest{Name: c.GetName()})
				return err
			}, codes.NotFound},
			{"another sub-district's officer", func() error {
				_, err := e.cases.EscalateCase(e.street(nahong), &escalationv1.EscalateCaseRequest{Name: c.GetName(), Reason: "越权"})
				return err
			}, codes.NotFound},
			{"a department it is not assigned to", func() error {
				_, err := e.cases.GetCase(e.department("power"), &escalationv1.GetCaseRequest{Name: c.GetName()})
				return err
			}, codes.NotFound},
			{"a department without its claim", func() error {
				_, err := e.cases.GetCase(e.as(auth.RoleDepartment, district), &escalationv1.GetCaseRequest{Name: c.GetName()})
				return err
			}, codes.NotFound},
			{"a resident", func() error {
				_, err := e.cases.ListCases(e.resident("res-"+erqiao, erqiao), &escalationv1.ListCasesRequest{})
				return err
			}, codes.PermissionDenied},
			{"a grid worker classifying", func() error {
				_, err := e.cases.ClassifyCase(e.as(auth.RoleGridWorker, erqiao+"001"), &escalationv1.ClassifyCaseRequest{Name: c.GetName(), Colour: green})
				return err
			}, codes.PermissionDenied},
			{"a partner", func() error {
				_, err := e.cases.GetCaseBoard(e.asPrincipal(auth.Principal{Subject: "p", Roles: []auth.Role{auth.RolePartner}, Partner: "partners/01JAAAAAAAAAAAAAAAAAAAAAAA", Scope: []string{erqiao}}), &escalationv1.GetCaseBoardRequest{})
				return err
			}, codes.PermissionDenied},
			{"a board of a region out of scope", func() error {
				_, err := e.cases.GetCaseBoard(e.staff(fujing), &escalationv1.GetCaseBoardRequest{RegionCode: erqiao})
				return err
			}, codes.PermissionDenied},
			{"a system caller acting for a unit", func() error {
				_, err := e.cases.AcceptCase(e.system(), &escalationv1.AcceptCaseRequest{Name: c.GetName()})
				return err
			}, codes.PermissionDenied},
		} {
			t.Run(tc.name, func(t *testing.T) { apierrtest.WantCode(t, tc.call(), tc.code) })
		}
		// A grid worker of the community reads it; the community's board counts it.
		if _, err := e.cases.GetCase(e.as(auth.RoleGridWorker, erqiao+"001"), &escalationv1.GetCaseRequest{Name: c.GetName()}); err != nil {
			t.Fatal(err)
		}
		board, err := e.cases.GetCaseBoard(e.staff(erqiao), &escalationv1.GetCaseBoardRequest{RegionCode: erqiao})
		if err != nil || board.GetOpen() != 1 || board.GetColours()[0].GetOpen() != 1 || len(board.GetUnits()) != 1 || board.GetUnits()[0].GetUnitDisplayName() != "二桥西社区" {
			t.Fatalf("board %v, %v", board, err)
		}
		other, err := e.cases.GetCaseBoard(e.staff(fujing), &escalationv1.GetCaseBoardRequest{})
		if err != nil || other.GetOpen() != 0 {
			t.Fatalf("another community's board %v, %v", other, err)
		}
		// The list filters and pages.
		for _, f := range []struct {
			filter string
			want   int
		}{
			{"colour = GREEN", 1}, {"colour = RED", 0}, {"level = COMMUNITY", 1}, {"status = ASSIGNED", 1},
			{`unit = "regions/` + erqiao + `"`, 1}, {"overdue = true", 0}, {"open = true", 1}, {"escalated = false", 1},
			{`region_code = "` + jiangnan + `"`, 1}, {`region_code = "` + nahong + `"`, 0}, {"category = ENVIRONMENT", 1},
		} {
			resp, err := e.cases.ListCases(e.districtOfficer(), &escalationv1.ListCasesRequest{Filter: f.filter, OrderBy: "resolve_deadline"})
			if err != nil || len(resp.GetCases()) != f.want {
				t.Errorf("filter %q: %d cases, %v; want %d", f.filter, len(resp.GetCases()), err, f.want)
			}
		}
		e.clock.Set(cst(2026, 11, 9, 9, 0))
		resp, err := e.cases.ListCases(e.districtOfficer(), &escalationv1.ListCasesRequest{Filter: "overdue = true"})
		if err != nil || len(resp.GetCases()) != 1 {
			t.Errorf("overdue after the deadline: %v, %v", resp.GetCases(), err)
		}
	})
}

// ListCases pages with tokens bound to their query, in every order.
func TestListPages(t *testing.T) {
	forEachBackend(t, monday, func(t *testing.T, e *env) {
		var names []string
		for i, cat := range []typev1.Category{typev1.Category_CATEGORY_ENVIRONMENT, typev1.Category_CATEGORY_SAFETY, typev1.Category_CATEGORY_INFRASTRUCTURE} {
			e.clock.Set(monday.Add(timeHours(i)))
			d := e.problem(erqiao, cat, "问题"+string(rune('甲'+i)), "说明", 5)
			resp, err := e.cases.CreateCase(e.staff(erqiao), &escalationv1.CreateCaseRequest{Case: &escalationv1.Case{Demand: d.GetName()}})
			if err != nil {
				t.Fatal(err)
			}
			names = append(names, resp.GetCase().GetName())
		}
		for _, order := range []string{"", "create_time", "resolve_deadline", "colour desc"} {
			var got []string
			token := ""
			for {
				resp, err := e.cases.ListCases(e.districtOfficer(), &escalationv1.ListCasesRequest{PageSize: 2, PageToken: token, OrderBy: order})
				if err != nil {
					t.Fatalf("order %q: %v", order, err)
				}
				for _, c := range resp.GetCases() {
					got = append(got, c.GetName())
				}
				if token = resp.GetNextPageToken(); token == "" {
					break
				}
			}
			if len(got) != 3 {
				t.Errorf("order %q: %v", order, got)
			}
		}
		resp, _ := e.cases.ListCases(e.districtOfficer(), &escalationv1.ListCasesRequest{OrderBy: "colour desc"})
		if resp.GetCases()[0].GetColour() != red || resp.GetCases()[2].GetColour() != green {
			t.Errorf("colour desc: %v", resp.GetCases())
		}
		first, _ := e.cases.ListCases(e.districtOfficer(), &escalationv1.ListCasesRequest{PageSize: 1})
		if first.GetCases()[0].GetName() != names[2] {
			t.Errorf("newest first: %v", first.GetCases()[0].GetName())
		}
		_, err := e.cases.ListCases(e.districtOfficer(), &escalationv1.ListCasesRequest{PageSize: 1, PageToken: first.GetNextPageToken(), Filter: "colour = RED"})
		apierrtest.WantCode(t, err, codes.InvalidArgument)
	})
}

func timeHours(n int) time.Duration { return time.Duration(n) * time.Hour }
