package partner_test

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// TestServiceAreasWithinScope: a partner is shown to residents of the places it serves, so
// who registers or edits it may name only places within their own scope, and a partner's
// own change of where it serves goes through an official, like its name.
func TestServiceAreasWithinScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		peihongStaff := e.as(auth.RoleCommunityStaff, peihong)

		t.Run("a community's staff cannot register a group serving the district", func(t *testing.T) {
			before := e.countGroups()
			g := validGroup()
			g.ServiceAreas = []string{peihong, district}
			_, err := e.client.CreatePartnerGroup(peihongStaff, &partnerv1.CreatePartnerGroupRequest{PartnerGroup: g})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
			if n := e.countGroups(); n != before {
				t.Fatalf("%d groups after a refused create, want %d", n, before)
			}
		})
		t.Run("nor a partner serving another community", func(t *testing.T) {
			p := validPartner(peihong)
			p.ServiceAreas = []string{erqiao}
			_, err := e.client.CreatePartner(peihongStaff, &partnerv1.CreatePartnerRequest{Partner: p})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
		})

		resp, err := e.client.CreatePartnerGroup(peihongStaff, &partnerv1.CreatePartnerGroupRequest{PartnerGroup: validGroup()})
		if err != nil {
			t.Fatal(err)
		}
		g := e.activateGroup(resp.GetPartnerGroup().GetName())
		self := e.asPrincipal(auth.Principal{Subject: "tea", Roles: []auth.Role{auth.RolePartner}, Scope: []string{peihong}, Partner: g.GetName()})
		widen := func(areas ...string) *partnerv1.PartnerGroup {
			return &partnerv1.PartnerGroup{Name: g.GetName(), ServiceAreas: areas}
		}
		mask := &fieldmaskpb.FieldMask{Paths: []string{"service_areas"}}

		t.Run("a partner cannot widen its own service areas", func(t *testing.T) {
			_, err := e.client.UpdatePartnerGroup(self, &partnerv1.UpdatePartnerGroupRequest{PartnerGroup: widen(peihong, district), UpdateMask: mask})
			apierrtest.WantField(t, err, "update_mask")
		})
		t.Run("staff cannot add an area outside their scope", func(t *testing.T) {
			_, err := e.client.UpdatePartnerGroup(peihongStaff, &partnerv1.UpdatePartnerGroupRequest{PartnerGroup: widen(peihong, erqiao), UpdateMask: mask})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
		})
		got, err := e.client.GetPartnerGroup(e.admin(), &partnerv1.GetPartnerGroupRequest{Name: g.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if areas := got.GetPartnerGroup().GetServiceAreas(); len(areas) != 1 || areas[0] != peihong {
			t.Fatalf("service areas after refused changes: %v", areas)
		}

		t.Run("an official of the district widens them", func(t *testing.T) {
			out, err := e.client.UpdatePartnerGroup(e.as(auth.RoleDistrictOfficer, district), &partnerv1.UpdatePartnerGroupRequest{PartnerGroup: widen(peihong, erqiao), UpdateMask: mask})
			if err != nil {
				t.Fatal(err)
			}
			if areas := out.GetPartnerGroup().GetServiceAreas(); len(areas) != 2 {
				t.Fatalf("service areas %v", areas)
			}
		})
		t.Run("staff may keep an area they could not add while editing the rest", func(t *testing.T) {
			_, err := e.client.UpdatePartnerGroup(peihongStaff, &partnerv1.UpdatePartnerGroupRequest{
				PartnerGroup: &partnerv1.PartnerGroup{Name: g.GetName(), Description: "每周四上午开放"},
				UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"description"}},
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	})
}
