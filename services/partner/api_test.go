package partner_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/assembly"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/partner"
)

func childcare(tags ...string) []*partnerv1.Capability {
	return []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE, Tags: tags}}
}

func wed(start, end string) *typev1.WeeklyWindow {
	return &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: start, EndTime: end}
}

func validGroup() *partnerv1.PartnerGroup {
	return &partnerv1.PartnerGroup{
		DisplayName: "茶艺工作室", Kind: partnerv1.GroupKind_GROUP_KIND_MERCHANT, CreditCode: "92450105MA0000033W",
		RegionCode: peihong, ServiceAreas: []string{peihong},
		Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CULTURE_SPORTS, Tags: []string{"茶艺"}}},
		Contact:      &partnerv1.Contact{PersonName: "覃雅琴", Phone: "13807710004"},
	}
}

func validPartner(region string) *partnerv1.Partner {
	return &partnerv1.Partner{
		DisplayName: "唐妈妈", RegionCode: region, ServiceAreas: []string{region},
		Capabilities: childcare("看护"), Availability: []*typev1.WeeklyWindow{wed("15:00", "18:00")},
		Contact: &partnerv1.Contact{PersonName: "唐丽", Phone: "13807710012"},
	}
}

// activate walks a new record to ACTIVE as an administrator.
func (e *env) activateGroup(name string) *partnerv1.PartnerGroup {
	e.t.Helper()
	var g *partnerv1.PartnerGroup
	for _, st := range []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE} {
		resp, err := e.client.ChangePartnerGroupStatus(e.admin(), &partnerv1.ChangePartnerGroupStatusRequest{Name: name, Status: st})
		if err != nil {
			e.t.Fatal(err)
		}
		g = resp.GetPartnerGroup()
	}
	return g
}

func (e *env) activatePartner(name string) *partnerv1.Partner {
	e.t.Helper()
	var p *partnerv1.Partner
	for _, st := range []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE} {
		resp, err := e.client.ChangePartnerStatus(e.admin(), &partnerv1.ChangePartnerStatusRequest{Name: name, Status: st})
		if err != nil {
			e.t.Fatal(err)
		}
		p = resp.GetPartner()
	}
	return p
}

func (e *env) createPartner(ctx context.Context, p *partnerv1.Partner) *partnerv1.Partner {
	e.t.Helper()
	resp, err := e.client.CreatePartner(ctx, &partnerv1.CreatePartnerRequest{Partner: p})
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.GetPartner()
}

func (e *env) countGroups() int {
	e.t.Helper()
	resp, err := e.client.ListPartnerGroups(e.admin(), &partnerv1.ListPartnerGroupsRequest{PageSize: 1000})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(resp.GetPartnerGroups())
}

// TestEveryMethodHasPolicy enumerates what the server registers: each method has a policy
// (deny by default would refuse it otherwise), and the policies name no method that does not
// exist.
func TestEveryMethodHasPolicy(t *testing.T) {
	e := startWithURL(t, sqlstoretest.SQLiteBackend().NewURL(t))
	info := e.srv.GRPC().GetServiceInfo()
	policies, err := assembly.Policies(partner.Policies())
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
	for _, svc := range []string{"jiayuan.partner.v1.PartnerService", "jiayuan.events.v1.EventFeedService"} {
		if _, ok := info[svc]; !ok {
			t.Fatalf("%s not registered", svc)
		}
	}
	for m := range partner.Policies() {
		if !registered[m] {
			t.Errorf("policy for unregistered method %s", m)
		}
	}
	if n := len(info["jiayuan.partner.v1.PartnerService"].Methods); n != 15 {
		t.Errorf("PartnerService has %d methods, the test expects 15: review its policies", n)
	}
}

func TestAuthentication(t *testing.T) {
	// The service's clock runs two hours ahead, so a token valid for an hour has expired.
	later := startWithURL(t, sqlstoretest.SQLiteBackend().NewURL(t), auth.WithClock(func() time.Time { return time.Now().Add(2 * time.Hour) }))
	e := startWithURL(t, sqlstoretest.SQLiteBackend().NewURL(t))
	other, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "other.pem"))
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Token(auth.Principal{Subject: "x", Roles: []auth.Role{auth.RoleAdmin}, Scope: []string{district}}, time.Hour)
	expired, _ := later.signer.Token(auth.Principal{Subject: "x", Roles: []auth.Role{auth.RoleAdmin}, Scope: []string{district}}, time.Hour)
	tests := map[string]struct {
		e   *env
		ctx context.Context
	}{
		"missing": {e, t.Context()},
		"forged":  {e, e.withToken(forged)},
		"expired": {later, later.withToken(expired)},
		"garbage": {e, e.withToken("not.a.jwt")},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := tc.e.client.ListPartners(tc.ctx, &partnerv1.ListPartnersRequest{})
			apierrtest.WantCode(t, err, codes.Unauthenticated)
		})
	}
	if _, err := later.client.ListPartners(later.admin(), &partnerv1.ListPartnersRequest{}); err == nil {
		t.Fatal("the clock skew did not take: fix the test")
	}
	// A role the policy does not list is refused before any handler runs.
	_, err = e.client.DeletePartner(e.as(auth.RoleResident, erqiao), &partnerv1.DeletePartnerRequest{Name: "partners/01JAAAAAAAAAAAAAAAAAAAAAAA"})
	apierrtest.WantCode(t, err, codes.PermissionDenied)
	_, err = e.feed.Watch(e.as(auth.RoleCommunityStaff, erqiao), &eventsv1.WatchRequest{})
	if err == nil {
		// Streams report their status on the first Recv.
		stream, _ := e.feed.Watch(e.as(auth.RoleCommunityStaff, erqiao), &eventsv1.WatchRequest{})
		_, err = stream.Recv()
	}
	apierrtest.WantCode(t, err, codes.PermissionDenied)
}

func TestBadInputNamesFieldAndWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		tests := []struct {
			name  string
			edit  func(g *partnerv1.PartnerGroup)
			field string
		}{
			{"missing display name", func(g *partnerv1.PartnerGroup) { g.DisplayName = "" }, "partner_group.display_name"},
			{"unknown kind", func(g *partnerv1.PartnerGroup) { g.Kind = 99 }, "partner_group.kind"},
			{"credit code checksum", func(g *partnerv1.PartnerGroup) { g.CreditCode = "92450105MA0000033X" }, "partner_group.credit_code"},
			{"credit code charset", func(g *partnerv1.PartnerGroup) { g.CreditCode = "92450105MA0000033I" }, "partner_group.credit_code"},
			{"credit code required", func(g *partnerv1.PartnerGroup) { g.CreditCode = "" }, "partner_group.credit_code"},
			{"region outside the tree", func(g *partnerv1.PartnerGroup) { g.RegionCode = "450105009009" }, "partner_group.region_code"},
			{"region not digits", func(g *partnerv1.PartnerGroup) { g.RegionCode = "450105'; DROP TABLE parties; --" }, "partner_group.region_code"},
			{"service area outside the tree", func(g *partnerv1.PartnerGroup) { g.ServiceAreas = []string{peihong, "450199"} }, "partner_group.service_areas[1]"},
			{"phone", func(g *partnerv1.PartnerGroup) { g.Contact.Phone = "12345" }, "partner_group.contact.phone"},
			{"window backwards", func(g *partnerv1.PartnerGroup) {
				g.Availability = []*typev1.WeeklyWindow{wed("18:00", "15:00")}
			}, "partner_group.availability[0]"},
			{"capability category", func(g *partnerv1.PartnerGroup) { g.Capabilities[0].Category = 0 }, "partner_group.capabilities[0].category"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				g := validGroup()
				tt.edit(g)
				_, err := e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: g})
				apierrtest.WantField(t, err, tt.field)
			})
		}
		_, err := e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup(), RequestId: "not-a-uuid"})
		apierrtest.WantField(t, err, "request_id")
		if n := e.countGroups(); n != 0 {
			t.Fatalf("%d groups written by refused requests", n)
		}

		_, err = e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{Filter: `region_code = "45%' OR '1'='1"`})
		apierrtest.WantField(t, err, "filter")
		_, err = e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{Filter: `status = ACTIVE; DELETE FROM parties`})
		apierrtest.WantField(t, err, "filter")
		_, err = e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{OrderBy: "name; DROP TABLE parties"})
		apierrtest.WantField(t, err, "order_by")
		_, err = e.client.SearchPartners(e.admin(), &partnerv1.SearchPartnersRequest{RegionCode: "450105777"})
		apierrtest.WantField(t, err, "region_code")
		for _, path := range []string{"phone", "contact.phone", "display_name; DROP TABLE parties"} {
			_, err = e.client.SearchPartners(e.admin(), &partnerv1.SearchPartnersRequest{ReadMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", path}}})
			apierrtest.WantField(t, err, "read_mask")
		}
	})
}

func TestPageTokenBoundToQuery(t *testing.T) {
	e := startWithURL(t, sqlstoretest.SQLiteBackend().NewURL(t))
	for i := range 3 {
		p := validPartner(erqiao)
		p.DisplayName = fmt.Sprintf("p%d", i)
		e.createPartner(e.admin(), p)
	}
	first, err := e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{PageSize: 2})
	if err != nil || first.GetNextPageToken() == "" {
		t.Fatalf("first page: %v, %v", first, err)
	}
	_, err = e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{PageSize: 2, PageToken: first.GetNextPageToken(), Filter: "status = APPLIED"})
	apierrtest.WantField(t, err, "page_token")
	_, err = e.client.ListPartnerGroups(e.admin(), &partnerv1.ListPartnerGroupsRequest{PageToken: first.GetNextPageToken()})
	apierrtest.WantField(t, err, "page_token")
	second, err := e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{PageSize: 2, PageToken: first.GetNextPageToken()})
	if err != nil || len(second.GetPartners()) != 1 || second.GetNextPageToken() != "" {
		t.Fatalf("second page: %v, %v", second, err)
	}
}

func TestScopeAndMasking(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		erqiaoStaff := e.as(auth.RoleCommunityStaff, erqiao)
		peihongStaff := e.as(auth.RoleCommunityStaff, peihong)
		p := e.createPartner(erqiaoStaff, validPartner(erqiao))
		if p.GetContact().GetPhone() != "13807710012" {
			t.Fatalf("creator in scope sees masked phone %q", p.GetContact().GetPhone())
		}

		// Another community's staff: the record does not exist for them, in Get or List.
		_, err := e.client.GetPartner(peihongStaff, &partnerv1.GetPartnerRequest{Name: p.GetName()})
		apierrtest.WantCode(t, err, codes.NotFound)
		list, err := e.client.ListPartners(peihongStaff, &partnerv1.ListPartnersRequest{})
		if err != nil || len(list.GetPartners()) != 0 {
			t.Fatalf("out-of-scope list returned %v, %v", list.GetPartners(), err)
		}
		_, err = e.client.UpdatePartner(peihongStaff, &partnerv1.UpdatePartnerRequest{Partner: &partnerv1.Partner{Name: p.GetName(), DisplayName: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		apierrtest.WantCode(t, err, codes.NotFound)
		_, err = e.client.CreatePartner(peihongStaff, &partnerv1.CreatePartnerRequest{Partner: validPartner(erqiao)})
		apierrtest.WantCode(t, err, codes.PermissionDenied)

		// A resident of the community sees the partner, with the contact masked.
		got, err := e.client.GetPartner(e.as(auth.RoleResident, erqiao), &partnerv1.GetPartnerRequest{Name: p.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if c := got.GetPartner().GetContact(); c.GetPhone() != "138****0012" || c.GetPersonName() != "唐*" {
			t.Fatalf("resident sees contact %v, want it masked", c)
		}
		// Staff in scope see it whole; a grid worker of the community's grid too.
		got, err = e.client.GetPartner(e.as(auth.RoleGridWorker, erqiaoG1), &partnerv1.GetPartnerRequest{Name: p.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if got.GetPartner().GetContact().GetPhone() != "138****0012" {
			t.Fatalf("grid worker outside the partner's region sees %q", got.GetPartner().GetContact().GetPhone())
		}
		got, err = e.client.GetPartner(e.as(auth.RoleStreetOfficer, jiangnan), &partnerv1.GetPartnerRequest{Name: p.GetName()})
		if err != nil || got.GetPartner().GetContact().GetPhone() != "13807710012" {
			t.Fatalf("street officer in scope: %v, %v", got.GetPartner().GetContact(), err)
		}
		// Unmasked reads are audited, one line a call; masked ones are not.
		audits := func() int { return strings.Count(e.logs.String(), `"action":"read_personal"`) }
		before := audits()
		if _, err := e.client.GetPartner(e.as(auth.RoleResident, erqiao), &partnerv1.GetPartnerRequest{Name: p.GetName()}); err != nil {
			t.Fatal(err)
		}
		if audits() != before {
			t.Fatal("a masked read was audited as a personal-data read")
		}
		if _, err := e.client.ListPartners(e.as(auth.RoleStreetOfficer, jiangnan), &partnerv1.ListPartnersRequest{}); err != nil {
			t.Fatal(err)
		}
		if audits() != before+1 || !strings.Contains(e.logs.String(), `"subject":"test-street_officer"`) {
			t.Fatalf("unmasked list read: %d audit lines, want %d", audits(), before+1)
		}
		// The list masks the same way.
		list, err = e.client.ListPartners(e.as(auth.RoleResident, erqiao), &partnerv1.ListPartnersRequest{})
		if err != nil || len(list.GetPartners()) != 1 || list.GetPartners()[0].GetContact().GetPhone() != "138****0012" {
			t.Fatalf("resident list: %v, %v", list.GetPartners(), err)
		}
	})
}

func TestIdempotentCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		id := uuid.NewString()
		req := &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup(), RequestId: id}
		first, err := e.client.CreatePartnerGroup(e.admin(), req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.client.CreatePartnerGroup(e.admin(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(first, again) {
			t.Fatalf("replay returned %v, want %v", again, first)
		}
		changed := proto.Clone(req).(*partnerv1.CreatePartnerGroupRequest)
		changed.PartnerGroup.DisplayName = "另一个名字"
		_, err = e.client.CreatePartnerGroup(e.admin(), changed)
		apierrtest.WantField(t, err, "request_id")

		// Concurrent duplicates create one group and all get it back.
		req2 := &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup(), RequestId: uuid.NewString()}
		req2.PartnerGroup.CreditCode = "91450105MA00000558"
		var wg sync.WaitGroup
		names := make([]string, 8)
		errs := make([]error, 8)
		for i := range names {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := e.client.CreatePartnerGroup(e.admin(), req2)
				names[i], errs[i] = resp.GetPartnerGroup().GetName(), err
			}()
		}
		wg.Wait()
		for i := range names {
			if errs[i] != nil || names[i] != names[0] {
				t.Fatalf("duplicate %d: %q, %v; want %q", i, names[i], errs[i], names[0])
			}
		}
		if n := e.countGroups(); n != 2 {
			t.Fatalf("%d groups, want 2", n)
		}
		// The same credit code under a new request is a duplicate organisation.
		_, err = e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup()})
		apierrtest.WantCode(t, err, codes.AlreadyExists)
	})
}

func TestUpdateWithEtag(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		resp, err := e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup()})
		if err != nil {
			t.Fatal(err)
		}
		g := resp.GetPartnerGroup()
		upd := &partnerv1.PartnerGroup{Name: g.GetName(), Etag: g.GetEtag(), Description: "每周四上午开展制茶体验"}
		mask := &fieldmaskpb.FieldMask{Paths: []string{"description"}}
		r1, err := e.client.UpdatePartnerGroup(e.admin(), &partnerv1.UpdatePartnerGroupRequest{PartnerGroup: upd, UpdateMask: mask})
		if err != nil {
			t.Fatal(err)
		}
		if r1.GetPartnerGroup().GetDescription() != upd.GetDescription() || r1.GetPartnerGroup().GetDisplayName() != g.GetDisplayName() || r1.GetPartnerGroup().GetEtag() == g.GetEtag() {
			t.Fatalf("update: %v", r1.GetPartnerGroup())
		}
		// The old etag is stale now.
		_, err = e.client.UpdatePartnerGroup(e.admin(), &partnerv1.UpdatePartnerGroupRequest{PartnerGroup: upd, UpdateMask: mask})
		apierrtest.WantCode(t, err, codes.Aborted)
		// Output-only fields cannot be set through the mask.
		_, err = e.client.UpdatePartnerGroup(e.admin(), &partnerv1.UpdatePartnerGroupRequest{
			PartnerGroup: &partnerv1.PartnerGroup{Name: g.GetName(), Status: partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"status"}}})
		apierrtest.WantField(t, err, "update_mask")
		// A change that breaks a rule is refused whole.
		_, err = e.client.UpdatePartnerGroup(e.admin(), &partnerv1.UpdatePartnerGroupRequest{
			PartnerGroup: &partnerv1.PartnerGroup{Name: g.GetName(), RegionCode: "450105009009"},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"region_code"}}})
		apierrtest.WantField(t, err, "partner_group.region_code")
		got, err := e.client.GetPartnerGroup(e.admin(), &partnerv1.GetPartnerGroupRequest{Name: g.GetName()})
		if err != nil || got.GetPartnerGroup().GetRegionCode() != peihong || got.GetPartnerGroup().GetEtag() != r1.GetPartnerGroup().GetEtag() {
			t.Fatalf("after refused updates: %v, %v", got.GetPartnerGroup(), err)
		}
	})
}

func TestLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.as(auth.RoleCommunityStaff, erqiao)
		p := e.createPartner(e.as(auth.RoleResident, erqiao), validPartner(erqiao))
		if p.GetStatus() != partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED {
			t.Fatalf("new partner is %v", p.GetStatus())
		}
		change := func(ctx context.Context, to partnerv1.PartnerStatus) (*partnerv1.Partner, error) {
			resp, err := e.client.ChangePartnerStatus(ctx, &partnerv1.ChangePartnerStatusRequest{Name: p.GetName(), Status: to, Reason: "test"})
			return resp.GetPartner(), err
		}
		// Skipping verification is not a transition.
		_, err := change(staff, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE)
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		// The partner itself may not verify itself.
		self := e.asPrincipal(auth.Principal{Subject: "tang", Roles: []auth.Role{auth.RolePartner}, Scope: []string{erqiao}, Partner: p.GetName()})
		_, err = change(self, partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED)
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		if _, err := change(staff, partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED); err != nil {
			t.Fatal(err)
		}
		if _, err := change(staff, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE); err != nil {
			t.Fatal(err)
		}
		// A partner keeps its own offer current, but who it is changes through officials.
		upd, err := e.client.UpdatePartner(self, &partnerv1.UpdatePartnerRequest{
			Partner:    &partnerv1.Partner{Name: p.GetName(), Availability: []*typev1.WeeklyWindow{wed("14:00", "18:00")}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"availability"}}})
		if err != nil || upd.GetPartner().GetAvailability()[0].GetStartTime() != "14:00" {
			t.Fatalf("self update of availability: %v, %v", upd, err)
		}
		for _, path := range []string{"display_name", "group", "region_code"} {
			_, err = e.client.UpdatePartner(self, &partnerv1.UpdatePartnerRequest{
				Partner: &partnerv1.Partner{Name: p.GetName(), DisplayName: "x", RegionCode: erqiao}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{path}}})
			apierrtest.WantField(t, err, "update_mask")
		}
		// A partner may pause itself and come back.
		if _, err := change(self, partnerv1.PartnerStatus_PARTNER_STATUS_DORMANT); err != nil {
			t.Fatal(err)
		}
		got, err := change(self, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE)
		if err != nil {
			t.Fatal(err)
		}
		var path []string
		for _, c := range got.GetStatusHistory() {
			path = append(path, strings.TrimPrefix(c.GetToStatus().String(), "PARTNER_STATUS_")+" by "+c.GetActor())
		}
		want := []string{"APPLIED by test-resident", "VERIFIED by test-community_staff", "ACTIVE by test-community_staff", "DORMANT by tang", "ACTIVE by tang"}
		if !slices.Equal(path, want) {
			t.Fatalf("history %v, want %v", path, want)
		}
		// Verified records are withdrawn, not deleted.
		_, err = e.client.DeletePartner(staff, &partnerv1.DeletePartnerRequest{Name: p.GetName()})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		if _, err := change(self, partnerv1.PartnerStatus_PARTNER_STATUS_WITHDRAWN); err != nil {
			t.Fatal(err)
		}
		_, err = change(staff, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE)
		apierrtest.WantCode(t, err, codes.FailedPrecondition)

		// A fresh application can be deleted, with a current etag only.
		q := e.createPartner(staff, validPartner(erqiao))
		_, err = e.client.DeletePartner(staff, &partnerv1.DeletePartnerRequest{Name: q.GetName(), Etag: `"0000000000000000"`})
		apierrtest.WantCode(t, err, codes.Aborted)
		if _, err := e.client.DeletePartner(staff, &partnerv1.DeletePartnerRequest{Name: q.GetName(), Etag: q.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetPartner(staff, &partnerv1.GetPartnerRequest{Name: q.GetName()})
		apierrtest.WantCode(t, err, codes.NotFound)
	})
}

func TestGroupMembers(t *testing.T) {
	e := startWithURL(t, sqlstoretest.SQLiteBackend().NewURL(t))
	resp, err := e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup()})
	if err != nil {
		t.Fatal(err)
	}
	g := resp.GetPartnerGroup()
	p := validPartner(peihong)
	p.Group = g.GetName()
	e.createPartner(e.admin(), p)
	got, err := e.client.GetPartnerGroup(e.admin(), &partnerv1.GetPartnerGroupRequest{Name: g.GetName()})
	if err != nil || got.GetPartnerGroup().GetMemberCount() != 1 {
		t.Fatalf("member count: %v, %v", got.GetPartnerGroup().GetMemberCount(), err)
	}
	_, err = e.client.DeletePartnerGroup(e.admin(), &partnerv1.DeletePartnerGroupRequest{Name: g.GetName()})
	apierrtest.WantCode(t, err, codes.FailedPrecondition)
	p.Group = "partnerGroups/01JAAAAAAAAAAAAAAAAAAAAAAA"
	_, err = e.client.CreatePartner(e.admin(), &partnerv1.CreatePartnerRequest{Partner: p})
	apierrtest.WantField(t, err, "partner.group")
}

func TestSearchRanksByFit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		mk := func(name, region string, areas []string, caps []*partnerv1.Capability, windows ...*typev1.WeeklyWindow) string {
			p := &partnerv1.Partner{DisplayName: name, RegionCode: region, ServiceAreas: areas, Capabilities: caps, Availability: windows}
			return e.activatePartner(e.createPartner(e.admin(), p).GetName()).GetName()
		}
		mk("local tagged", erqiao, []string{erqiao}, childcare("作业辅导"), wed("15:00", "18:00"))
		mk("local", erqiao, []string{erqiao}, childcare(), wed("15:00", "18:00"))
		mk("street-wide", jiangnan, []string{jiangnan}, childcare(), wed("14:00", "18:00"))
		mk("not on wednesday", erqiao, []string{erqiao}, childcare())
		mk("wednesday mornings", erqiao, []string{erqiao}, childcare(), wed("08:00", "10:00"))
		mk("other street", peihong, []string{peihong}, childcare(), wed("15:00", "18:00"))
		mk("legal aid", erqiao, []string{erqiao}, []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_LEGAL_AID}}, wed("15:00", "18:00"))
		e.createPartner(e.admin(), &partnerv1.Partner{DisplayName: "still applied", RegionCode: erqiao, ServiceAreas: []string{erqiao}, Capabilities: childcare()})

		req := &partnerv1.SearchPartnersRequest{
			Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}, Tags: []string{"作业辅导"},
			RegionCode: erqiao, PageSize: 2,
		}
		var got []string
		for range 5 {
			resp, err := e.client.SearchPartners(e.as(auth.RoleCommunityStaff, erqiao), req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetTotalSize() != 5 {
				t.Fatalf("total %d, want 5", resp.GetTotalSize())
			}
			for _, r := range resp.GetResults() {
				got = append(got, r.GetPartner().GetDisplayName())
				if len(r.GetReasons()) == 0 || r.GetScore() <= 0 {
					t.Fatalf("%s: score %d reasons %v", r.GetPartner().GetDisplayName(), r.GetScore(), r.GetReasons())
				}
			}
			if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
				break
			}
		}
		if want := []string{"local tagged", "local", "not on wednesday", "wednesday mornings", "street-wide"}; !slices.Equal(got, want) {
			t.Fatalf("ranking %v, want %v", got, want)
		}
		// Later pages continue the ranking the first page was cut from: a partner that joins
		// between pages neither pushes one out nor shows twice; the next first page has it.
		// Another caller's replay of a token ranks afresh, in that caller's scope.
		req.PageToken = ""
		firstPage, err := e.client.SearchPartners(e.as(auth.RoleCommunityStaff, erqiao), req)
		if err != nil {
			t.Fatal(err)
		}
		mk("joined between pages", erqiao, []string{erqiao}, childcare("作业辅导"), wed("08:00", "10:00"))
		replay := proto.Clone(req).(*partnerv1.SearchPartnersRequest)
		replay.PageToken = firstPage.GetNextPageToken()
		other, err := e.client.SearchPartners(e.as(auth.RoleCommunityStaff, peihong), replay)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range other.GetResults() {
			if r.GetPartner().GetRegionCode() != peihong {
				t.Fatalf("a replayed token showed %s of another scope", r.GetPartner().GetDisplayName())
			}
		}
		got = nil
		for _, r := range firstPage.GetResults() {
			got = append(got, r.GetPartner().GetDisplayName())
		}
		for req.PageToken = firstPage.GetNextPageToken(); req.PageToken != ""; {
			resp, err := e.client.SearchPartners(e.as(auth.RoleCommunityStaff, erqiao), req)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range resp.GetResults() {
				got = append(got, r.GetPartner().GetDisplayName())
			}
			req.PageToken = resp.GetNextPageToken()
		}
		if want := []string{"local tagged", "local", "not on wednesday", "wednesday mornings", "street-wide"}; !slices.Equal(got, want) {
			t.Fatalf("pages after a partner joined: %v, want %v", got, want)
		}
		fresh, err := e.client.SearchPartners(e.as(auth.RoleCommunityStaff, erqiao), req)
		if err != nil {
			t.Fatal(err)
		}
		if fresh.GetTotalSize() != 6 {
			t.Fatalf("a new first page counts %d, want 6 with the partner that joined", fresh.GetTotalSize())
		}
		// With a window, only those available then match.
		resp, err := e.client.SearchPartners(e.as(auth.RoleSystem, district), &partnerv1.SearchPartnersRequest{
			Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}, RegionCode: erqiao, Window: wed("15:00", "18:00"),
		})
		if err != nil {
			t.Fatal(err)
		}
		got = nil
		for _, r := range resp.GetResults() {
			got = append(got, r.GetPartner().GetDisplayName())
		}
		if want := []string{"local", "street-wide"}; !slices.Equal(got[1:], want) || got[0] != "local tagged" {
			t.Fatalf("window search %v", got)
		}
		// The status history comes with the FULL view only.
		for view, wantHistory := range map[partnerv1.PartyView]bool{
			partnerv1.PartyView_PARTY_VIEW_UNSPECIFIED: false, partnerv1.PartyView_PARTY_VIEW_BASIC: false, partnerv1.PartyView_PARTY_VIEW_FULL: true,
		} {
			resp, err := e.client.SearchPartners(e.as(auth.RoleStreetOfficer, "450105003"), &partnerv1.SearchPartnersRequest{
				Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}, RegionCode: peihong, View: view,
			})
			if err != nil {
				t.Fatal(err)
			}
			p := resp.GetResults()[0].GetPartner()
			if p.GetDisplayName() != "other street" || (len(p.GetStatusHistory()) > 0) != wantHistory || p.GetEtag() == "" {
				t.Fatalf("view %v: %v", view, p)
			}
		}
		// A read mask returns the name and the fields it names, whatever the view; the rank and
		// the reasons are the same as for the whole record.
		whole, err := e.client.SearchPartners(e.as(auth.RoleSystem, district), req)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			paths []string
			want  func(r *partnerv1.SearchPartnersResult) *partnerv1.Partner
		}{
			{[]string{"display_name", "capabilities"}, func(r *partnerv1.SearchPartnersResult) *partnerv1.Partner {
				p := r.GetPartner()
				return &partnerv1.Partner{Name: p.GetName(), DisplayName: p.GetDisplayName(), Capabilities: p.GetCapabilities()}
			}},
			// The name alone (a match's pages): no etag, no contact.
			{[]string{"name"}, func(r *partnerv1.SearchPartnersResult) *partnerv1.Partner {
				return &partnerv1.Partner{Name: r.GetPartner().GetName()}
			}},
			{[]string{"display_name"}, func(r *partnerv1.SearchPartnersResult) *partnerv1.Partner {
				p := r.GetPartner()
				return &partnerv1.Partner{Name: p.GetName(), DisplayName: p.GetDisplayName()}
			}},
			{[]string{"contact", "etag", "status_history", "credit_code"}, func(r *partnerv1.SearchPartnersResult) *partnerv1.Partner {
				p := r.GetPartner()
				return &partnerv1.Partner{Name: p.GetName(), Contact: p.GetContact(), Etag: p.GetEtag(), StatusHistory: p.GetStatusHistory()}
			}},
		} {
			masked := proto.CloneOf(req)
			masked.ReadMask, masked.View = &fieldmaskpb.FieldMask{Paths: tc.paths}, partnerv1.PartyView_PARTY_VIEW_FULL
			full := proto.CloneOf(req)
			full.View = partnerv1.PartyView_PARTY_VIEW_FULL
			wholeFull, err := e.client.SearchPartners(e.as(auth.RoleSystem, district), full)
			if err != nil {
				t.Fatal(err)
			}
			got, err := e.client.SearchPartners(e.as(auth.RoleSystem, district), masked)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.GetResults()) != len(whole.GetResults()) || len(got.GetResults()) == 0 {
				t.Fatalf("mask %v: %d results, want %d", tc.paths, len(got.GetResults()), len(whole.GetResults()))
			}
			for i, r := range got.GetResults() {
				w := wholeFull.GetResults()[i]
				if want := tc.want(w); !proto.Equal(r.GetPartner(), want) || r.GetScore() != w.GetScore() || !slices.Equal(r.GetReasons(), w.GetReasons()) {
					t.Fatalf("mask %v: got %v, want %v", tc.paths, r, want)
				}
			}
		}
		// Without reasons: the same order and scores.
		terse := proto.CloneOf(req)
		terse.OmitReasons = true
		unexplained, err := e.client.SearchPartners(e.as(auth.RoleSystem, district), terse)
		if err != nil {
			t.Fatal(err)
		}
		if len(unexplained.GetResults()) != len(whole.GetResults()) {
			t.Fatalf("omit_reasons: %d results, want %d", len(unexplained.GetResults()), len(whole.GetResults()))
		}
		for i, r := range unexplained.GetResults() {
			w := whole.GetResults()[i]
			if len(r.GetReasons()) != 0 || r.GetScore() != w.GetScore() || !proto.Equal(r.GetPartner(), w.GetPartner()) {
				t.Fatalf("omit_reasons: got %v, want %v without reasons", r, w)
			}
		}
		// A token from one search does not page another.
		first, err := e.client.SearchPartners(e.admin(), &partnerv1.SearchPartnersRequest{PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.client.SearchPartners(e.admin(), &partnerv1.SearchPartnersRequest{PageSize: 1, PageToken: first.GetNextPageToken(), RegionCode: erqiao})
		apierrtest.WantField(t, err, "page_token")
		_, err = e.client.SearchPartners(e.as(auth.RoleResident, erqiao), &partnerv1.SearchPartnersRequest{})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
	})
}

func TestActivitiesAndEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		resp, err := e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup()})
		if err != nil {
			t.Fatal(err)
		}
		tea := resp.GetPartnerGroup().GetName()
		act := &partnerv1.ServiceActivity{Partner: tea, CommunityCode: peihong, Title: "手作茶香，非遗流长", Kind: partnerv1.ActivityKind_ACTIVITY_KIND_CULTURE,
			ActivityDate: "2025-11-27", ParticipantCount: 3, PeopleServed: 26, VolunteerMinutes: 450}
		// Only active partners deliver.
		_, err = e.client.RecordActivity(e.admin(), &partnerv1.RecordActivityRequest{Activity: act})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		e.activateGroup(tea)
		// The partner records its own; another community's staff may not: the group is out of
		// their scope, so to them it does not exist (a name in a request is resolved in the
		// caller's scope before anything else is judged).
		self := e.asPrincipal(auth.Principal{Subject: "tea", Roles: []auth.Role{auth.RolePartner}, Scope: []string{peihong}, Partner: tea})
		_, err = e.client.RecordActivity(e.as(auth.RoleCommunityStaff, erqiao), &partnerv1.RecordActivityRequest{Activity: act})
		apierrtest.WantField(t, err, "activity.partner")
		// A grid worker of the group's own community may see it, and may not record for
		// another community.
		elsewhere := proto.Clone(act).(*partnerv1.ServiceActivity)
		elsewhere.CommunityCode = erqiao
		_, err = e.client.RecordActivity(e.as(auth.RoleGridWorker, peihong), &partnerv1.RecordActivityRequest{Activity: elsewhere})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		bad := proto.Clone(act).(*partnerv1.ServiceActivity)
		bad.CommunityCode = jiangnan
		_, err = e.client.RecordActivity(self, &partnerv1.RecordActivityRequest{Activity: bad})
		apierrtest.WantField(t, err, "activity.community_code")
		bad.ActivityDate = "2025-13-01"
		_, err = e.client.RecordActivity(self, &partnerv1.RecordActivityRequest{Activity: bad})
		apierrtest.WantField(t, err, "activity.activity_date")
		rec, err := e.client.RecordActivity(self, &partnerv1.RecordActivityRequest{Activity: act, RequestId: uuid.NewString()})
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetActivity().GetRecorder() != "tea" {
			t.Fatalf("recorder %q", rec.GetActivity().GetRecorder())
		}
		list, err := e.client.ListActivities(e.as(auth.RoleStreetOfficer, "450105003"), &partnerv1.ListActivitiesRequest{Filter: `activity_date >= "2025-11-01"`})
		if err != nil || len(list.GetActivities()) != 1 || !proto.Equal(list.GetActivities()[0], rec.GetActivity()) {
			t.Fatalf("list: %v, %v", list.GetActivities(), err)
		}
		list, err = e.client.ListActivities(e.as(auth.RoleCommunityStaff, erqiao), &partnerv1.ListActivitiesRequest{})
		if err != nil || len(list.GetActivities()) != 0 {
			t.Fatalf("out of scope list: %v, %v", list.GetActivities(), err)
		}

		// The feed carries registration (without personal data), status changes and the activity.
		ctx, cancel := context.WithTimeout(e.as(auth.RoleSystem, district), 10*time.Second)
		defer cancel()
		stream, err := e.feed.Watch(ctx, &eventsv1.WatchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var types []string
		for len(types) < 4 {
			r, err := stream.Recv()
			if err != nil {
				t.Fatalf("after %v: %v", types, err)
			}
			for _, ev := range r.GetEvents() {
				types = append(types, ev.GetType())
				if ev.GetType() == "jiayuan.partner.v1.PartnerRegistered" {
					checkNoContact(t, ev.GetPayload())
				}
			}
		}
		want := []string{"jiayuan.partner.v1.PartnerRegistered", "jiayuan.partner.v1.PartnerStatusChanged", "jiayuan.partner.v1.PartnerStatusChanged", "jiayuan.partner.v1.ActivityRecorded"}
		if !slices.Equal(types, want) {
			t.Fatalf("events %v, want %v", types, want)
		}
	})
}

func checkNoContact(t *testing.T, payload *anypb.Any) {
	t.Helper()
	var reg partnerv1.PartnerRegistered
	if err := payload.UnmarshalTo(&reg); err != nil {
		t.Fatal(err)
	}
	if reg.GetGroup().GetContact() != nil || reg.GetGroup().GetDisplayName() == "" {
		t.Fatalf("registered event carries %v", reg.GetGroup())
	}
}

// TestDatabaseOutage cuts the connection to PostgreSQL under a running service: calls fail
// with UNAVAILABLE (the server does not crash), and succeed again once the database is back.
func TestDatabaseOutage(t *testing.T) {
	pg, ok := sqlstoretest.PostgresBackend(t)
	if !ok {
		t.Skip("needs " + sqlstoretest.PostgresURLEnv)
	}
	dbURL := pg.NewURL(t)
	proxy := newTCPProxy(t, hostPort(t, dbURL))
	e := startWithURL(t, strings.Replace(dbURL, hostPort(t, dbURL), proxy.addr, 1))
	e.createPartner(e.admin(), validPartner(erqiao))

	proxy.cut()
	for range 3 {
		_, err := e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{})
		apierrtest.WantCode(t, err, codes.Unavailable)
	}
	_, err := e.client.CreatePartner(e.admin(), &partnerv1.CreatePartnerRequest{Partner: validPartner(erqiao)})
	apierrtest.WantCode(t, err, codes.Unavailable)

	proxy.restore()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := e.client.ListPartners(e.admin(), &partnerv1.ListPartnersRequest{})
		if err == nil {
			if n := len(list.GetPartners()); n != 1 {
				t.Fatalf("%d partners after the outage, want 1 (the refused create wrote nothing)", n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("service did not recover: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func hostPort(t *testing.T, dbURL string) string {
	t.Helper()
	rest := dbURL[strings.Index(dbURL, "@")+1:]
	return rest[:strings.IndexAny(rest, "/?")]
}

// tcpProxy forwards connections to a target until cut, which closes every connection and
// refuses new ones, as a database host going away would.
type tcpProxy struct {
	addr   string
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{addr: lis.Addr().String(), target: target}
	t.Cleanup(func() { lis.Close(); p.cut() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go pipe(c, up)
			go pipe(up, c)
		}
	}()
	return p
}

func pipe(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				dst.Close()
			}
			return
		}
	}
}

func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *tcpProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

// Searches share the decoded records: concurrent callers who see the contact and callers who
// see it masked must each get theirs, and the race detector must find no write to the shared
// records.
func TestSearchConcurrentCallersMaskTheirOwnCopy(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		p := e.createPartner(e.admin(), &partnerv1.Partner{DisplayName: "家长志愿者", RegionCode: erqiao, ServiceAreas: []string{erqiao},
			Capabilities: childcare(), Contact: &partnerv1.Contact{PersonName: "王芳", Phone: "13812345678"}})
		e.activatePartner(p.GetName())
		req := &partnerv1.SearchPartnersRequest{Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}, RegionCode: erqiao}
		callers := []struct {
			ctx       context.Context
			wantPhone string
		}{
			{e.as(auth.RoleCommunityStaff, erqiao), "13812345678"},
			{e.as(auth.RoleGridWorker, erqiao+"003"), "138****5678"}, // a grid of it: sees the partner, not its contact
		}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				for i := range 20 {
					c := callers[(g+i)%len(callers)]
					req := req
					if i%3 == 0 { // a partial response copies the contact by another path
						req = proto.CloneOf(req)
						req.ReadMask = &fieldmaskpb.FieldMask{Paths: []string{"contact"}}
					}
					resp, err := e.client.SearchPartners(c.ctx, req)
					if err != nil {
						errs <- err
						return
					}
					if got := resp.GetResults()[0].GetPartner().GetContact().GetPhone(); got != c.wantPhone {
						errs <- fmt.Errorf("phone %q, want %q", got, c.wantPhone)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
}

// A schedule scores availability without filtering (the window filters), and names keep only
// those candidates, within the caller's scope: how the demand service's matching reads names
// and scores first, then the offers of the page it shows.
func TestSearchScheduleAndNames(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		mk := func(name, region string, windows ...*typev1.WeeklyWindow) string {
			p := &partnerv1.Partner{DisplayName: name, RegionCode: region, ServiceAreas: []string{region}, Capabilities: childcare(), Availability: windows}
			return e.activatePartner(e.createPartner(e.admin(), p).GetName()).GetName()
		}
		free := mk("free on wednesday", erqiao, wed("15:00", "18:00"))
		busy := mk("saturdays only", erqiao, &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_SATURDAY, StartTime: "09:00", EndTime: "11:00"})
		elsewhere := mk("other street", peihong, wed("15:00", "18:00"))
		staff := e.as(auth.RoleCommunityStaff, erqiao)
		search := func(req *partnerv1.SearchPartnersRequest) map[string]int32 {
			t.Helper()
			resp, err := e.client.SearchPartners(staff, req)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int32{}
			for _, r := range resp.GetResults() {
				got[r.GetPartner().GetName()] = r.GetScore()
			}
			return got
		}
		base := &partnerv1.SearchPartnersRequest{Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}, RegionCode: erqiao}

		scheduled := proto.CloneOf(base)
		scheduled.Schedule = []*typev1.WeeklyWindow{wed("15:00", "18:00")}
		got := search(scheduled)
		if len(got) != 2 || got[free]-got[busy] != 15 {
			t.Fatalf("with a schedule: %v, want both of erqiao, the one free then 15 points ahead", got)
		}
		if plain := search(base); plain[free] != plain[busy] {
			t.Fatalf("without one both take the availability points: %v", plain)
		}

		named := proto.CloneOf(scheduled)
		named.Names = []string{busy}
		if got := search(named); len(got) != 1 || got[busy] == 0 {
			t.Fatalf("names [%s]: %v", busy, got)
		}
		// Another street's partner, named by a community's staff: as if it did not exist.
		anywhere := &partnerv1.SearchPartnersRequest{Names: []string{free, elsewhere}}
		if got := search(anywhere); len(got) != 1 || got[free] == 0 {
			t.Fatalf("names out of scope: %v, want only %s", got, free)
		}

		_, err := e.client.SearchPartners(staff, &partnerv1.SearchPartnersRequest{Names: []string{"projects/x"}})
		apierrtest.WantField(t, err, "names[0]")
	})
}

// Every result names its candidate; PARTY_VIEW_NAME returns that name and the score alone, in
// the order and with the scores of the BASIC view, over pages; a read mask still decides the
// fields when both are given.
func TestSearchNameView(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		gresp, err := e.client.CreatePartnerGroup(e.admin(), &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup()})
		if err != nil {
			t.Fatal(err)
		}
		group := e.activateGroup(gresp.GetPartnerGroup().GetName()).GetName()
		for range 3 {
			e.activatePartner(e.createPartner(e.admin(), validPartner(peihong)).GetName())
		}
		read := func(view partnerv1.PartyView, mask ...string) []*partnerv1.SearchPartnersResult {
			t.Helper()
			req := &partnerv1.SearchPartnersRequest{RegionCode: peihong, View: view, PageSize: 2}
			if mask != nil {
				req.ReadMask = &fieldmaskpb.FieldMask{Paths: mask}
			}
			var out []*partnerv1.SearchPartnersResult
			for {
				resp, err := e.client.SearchPartners(e.admin(), req)
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, resp.GetResults()...)
				if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
					return out
				}
			}
		}
		basic := read(partnerv1.PartyView_PARTY_VIEW_BASIC)
		names := read(partnerv1.PartyView_PARTY_VIEW_NAME)
		if len(basic) != 4 || len(names) != len(basic) {
			t.Fatalf("BASIC found %d, NAME %d; want the group and three partners in both", len(basic), len(names))
		}
		sawGroup := false
		for i, b := range basic {
			if whole := b.GetPartner().GetName() + b.GetGroup().GetName(); b.GetName() != whole || whole == "" {
				t.Errorf("BASIC result %d: name %q, its party's %q", i, b.GetName(), whole)
			}
			sawGroup = sawGroup || b.GetName() == group
			n := names[i]
			if n.GetName() != b.GetName() || n.GetScore() != b.GetScore() || n.GetParty() != nil || len(n.GetReasons()) == 0 {
				t.Errorf("NAME result %d = %v, want %s scored %d with reasons and no party", i, n, b.GetName(), b.GetScore())
			}
		}
		if !sawGroup {
			t.Errorf("no result named the group %s", group)
		}
		for _, r := range read(partnerv1.PartyView_PARTY_VIEW_NAME, "display_name") {
			if r.GetParty() == nil || r.GetPartner().GetDisplayName()+r.GetGroup().GetDisplayName() == "" {
				t.Errorf("NAME view with a read mask: %v, want the masked party", r)
			}
		}
	})
}
