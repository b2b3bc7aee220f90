package demand_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/assembly"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand"
)

// TestEveryMethodHasPolicy enumerates what the demand server registers: each method has a
// policy (deny by default would refuse it otherwise), and the policies name no method that
// does not exist.
func TestEveryMethodHasPolicy(t *testing.T) {
	e := start(t, sqlstoretest.SQLiteBackend())
	info := e.srv.GRPC().GetServiceInfo()
	policies, err := assembly.Policies(demand.Policies())
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.CheckCoverage(info, policies); err != nil {
		t.Fatal(err)
	}
	registered := map[string]bool{}
	for svc, si := range info {
		for _, m := range si.Methods {
			registered["/"+svc+"/"+m.Name] = true
		}
	}
	for m := range demand.Policies() {
		if !registered[m] {
			t.Errorf("policy for unregistered method %s", m)
		}
	}
	if n := len(info["jiayuan.demand.v1.DemandService"].Methods); n != 32 {
		t.Errorf("DemandService has %d methods, the test expects 32: review its policies", n)
	}
	if _, ok := info["jiayuan.events.v1.EventFeedService"]; !ok {
		t.Error("the event feed is not registered")
	}
}

func TestAuthorization(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		reporter := &demandv1.Reporter{Name: "覃秀兰", Phone: "13907710021"}
		d := demandOf(demandv1.DemandKind_DEMAND_KIND_NEED, typev1.Category_CATEGORY_ELDERLY_CARE, demandv1.Channel_CHANNEL_WALK_IN, "楼梯口需要加装扶手")
		d.GridCode, d.Reporter, d.Address = erqiaoG1, reporter, "二桥西社区3栋2单元501"
		staffDemand := e.createDemand(e.staff(), d)

		t.Run("another community", func(t *testing.T) {
			fujingStaff := e.as(auth.RoleCommunityStaff, fujing)
			_, err := e.client.GetDemand(fujingStaff, &demandv1.GetDemandRequest{Name: staffDemand.GetName()})
			apierrtest.WantCode(t, err, codes.NotFound)
			list, err := e.client.ListDemands(fujingStaff, &demandv1.ListDemandsRequest{})
			if err != nil || len(list.GetDemands()) != 0 {
				t.Fatalf("富景 lists %v, %v", list.GetDemands(), err)
			}
			_, err = e.client.ChangeDemandStatus(fujingStaff, &demandv1.ChangeDemandStatusRequest{
				Name: staffDemand.GetName(), Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "已受理"})
			apierrtest.WantCode(t, err, codes.NotFound)
			_, err = e.client.ListTimelineEntries(fujingStaff, &demandv1.ListTimelineEntriesRequest{Parent: staffDemand.GetName()})
			apierrtest.WantCode(t, err, codes.NotFound)
			count, err := e.client.CountDemands(fujingStaff, &demandv1.CountDemandsRequest{})
			if err != nil || count.GetTotal() != 0 {
				t.Fatalf("富景 counts %v, %v", count, err)
			}
			_, err = e.client.CountDemands(fujingStaff, &demandv1.CountDemandsRequest{RegionCode: erqiao})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
			if got := e.getDemand(e.staff(), staffDemand.GetName()); got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED {
				t.Fatalf("refused change moved it to %v", got.GetStatus())
			}
		})

		t.Run("residents", func(t *testing.T) {
			wang, li := e.resident("resident-wang"), e.resident("resident-li")
			own := e.createDemand(wang, demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_ENVIRONMENT, demandv1.Channel_CHANNEL_ONLINE, "小区门口污水外溢"))
			if own.GetReporter().GetPhone() != "13907710021" {
				t.Fatalf("the filer sees their own phone masked: %v", own.GetReporter())
			}
			names := func(ctx context.Context) []string {
				t.Helper()
				list, err := e.client.ListDemands(ctx, &demandv1.ListDemandsRequest{})
				if err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, d := range list.GetDemands() {
					out = append(out, d.GetName())
				}
				return out
			}
			if got := names(wang); len(got) != 1 || got[0] != own.GetName() {
				t.Fatalf("the filer lists %v, want only %s", got, own.GetName())
			}
			// Another resident of the community does not see it, nor the staff's record …
			if got := names(li); len(got) != 0 {
				t.Fatalf("another resident lists %v", got)
			}
			for _, n := range []string{own.GetName(), staffDemand.GetName()} {
				_, err := e.client.GetDemand(li, &demandv1.GetDemandRequest{Name: n})
				apierrtest.WantCode(t, err, codes.NotFound)
			}
			// … until they support it.
			if _, err := e.client.SupportDemand(li, &demandv1.SupportDemandRequest{Name: own.GetName()}); err != nil {
				t.Fatal(err)
			}
			if got := names(li); len(got) != 1 || got[0] != own.GetName() {
				t.Fatalf("a supporter lists %v", got)
			}
			seen := e.getDemand(li, own.GetName())
			if seen.GetReporter().GetPhone() != personal.MaskPhone("13907710021") {
				t.Fatalf("a supporter sees the filer's phone %q", seen.GetReporter().GetPhone())
			}
			// Residents file online only.
			for _, ch := range []demandv1.Channel{demandv1.Channel_CHANNEL_WALK_IN, demandv1.Channel_CHANNEL_GRID_WORKER_VISIT} {
				_, err := e.client.CreateDemand(wang, &demandv1.CreateDemandRequest{Demand: demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_ENVIRONMENT, ch, "小区门口污水外溢")})
				apierrtest.WantField(t, err, "demand.channel")
			}
			// Nor do they move demands or count them.
			_, err := e.client.ChangeDemandStatus(wang, &demandv1.ChangeDemandStatusRequest{Name: own.GetName(), Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "自己受理"})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
			_, err = e.client.CountDemands(wang, &demandv1.CountDemandsRequest{})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
		})

		t.Run("masking", func(t *testing.T) {
			tests := []struct {
				name   string
				ctx    context.Context
				masked bool
			}{
				{"grid worker of the demand's grid", e.as(auth.RoleGridWorker, erqiaoG1), false},
				{"community staff", e.as(auth.RoleCommunityStaff, erqiao), false},
				{"grid worker of another grid", e.as(auth.RoleGridWorker, erqiaoG2), true},
				{"street officer", e.as(auth.RoleStreetOfficer, jiangnan), true},
				{"district officer", e.as(auth.RoleDistrictOfficer, district), true},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					resp, err := e.client.GetDemand(tt.ctx, &demandv1.GetDemandRequest{Name: staffDemand.GetName()})
					if err != nil {
						t.Fatal(err)
					}
					list, err := e.client.ListDemands(tt.ctx, &demandv1.ListDemandsRequest{})
					if err != nil {
						t.Fatal(err)
					}
					i := slices.IndexFunc(list.GetDemands(), func(l *demandv1.Demand) bool { return l.GetName() == staffDemand.GetName() })
					if i < 0 {
						t.Fatalf("the list %v lacks %s", list.GetDemands(), staffDemand.GetName())
					}
					for _, got := range []*demandv1.Demand{resp.GetDemand(), list.GetDemands()[i]} {
						r := got.GetReporter()
						if tt.masked {
							if r.GetName() != personal.MaskName(reporter.GetName()) || r.GetPhone() != personal.MaskPhone(reporter.GetPhone()) ||
								got.GetAddress() == d.GetAddress() {
								t.Fatalf("sees %v at %q, want it masked", r, got.GetAddress())
							}
						} else if r.GetName() != reporter.GetName() || r.GetPhone() != reporter.GetPhone() || got.GetAddress() != d.GetAddress() {
							t.Fatalf("sees %v at %q, want it whole", r, got.GetAddress())
						}
					}
				})
			}
		})

		t.Run("roles without a policy", func(t *testing.T) {
			partnerCtx := e.asPrincipal(auth.Principal{Subject: "tea", Roles: []auth.Role{auth.RolePartner}, Scope: []string{erqiao},
				Partner: "partnerGroups/01JAAAAAAAAAAAAAAAAAAAAAAA"})
			_, err := e.client.CreateDemand(partnerCtx, &demandv1.CreateDemandRequest{Demand: needOf("周三下午托管")})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
			_, err = e.client.MarkDuplicate(e.as(auth.RoleGridWorker, erqiaoG1), &demandv1.MarkDuplicateRequest{Name: staffDemand.GetName(), DuplicateOf: staffDemand.GetName()})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
			_, err = e.client.CreateProject(e.as(auth.RoleGridWorker, erqiaoG1), &demandv1.CreateProjectRequest{Project: childcareProject()})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
			stream, err := e.feed.Watch(e.staff(), &eventsv1.WatchRequest{})
			if err == nil {
				_, err = stream.Recv()
			}
			apierrtest.WantCode(t, err, codes.PermissionDenied)
		})
	})
}
