package demo

import (
	"slices"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/platform/auth"
)

func TestCastOf(t *testing.T) {
	p := func(role auth.Role, scope string) auth.Principal {
		return auth.Principal{Subject: "dev-" + string(role), Roles: []auth.Role{role}, Scope: []string{scope}}
	}
	full := []auth.Principal{
		p(auth.RoleResident, Erqiaoxi), p(auth.RoleGridWorker, ErqiaoxiGrid1), p(auth.RoleCommunityStaff, Erqiaoxi),
		p(auth.RoleStreetOfficer, Jiangnan), p(auth.RoleSystem, District),
	}
	tests := []struct {
		name       string
		principals []auth.Principal
		missing    string // part of the error; empty when CastOf succeeds
	}{
		{name: "every role", principals: full},
		{name: "no grid worker", principals: slices.Delete(slices.Clone(full), 1, 2), missing: "grid_worker"},
		{name: "none", missing: "community_staff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CastOf(tt.principals)
			if tt.missing != "" {
				if err == nil || !strings.Contains(err.Error(), tt.missing) {
					t.Fatalf("CastOf: %v, want an error naming %s", err, tt.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Resident.Subject != "dev-resident" || c.GridWorker.Subject != "dev-grid_worker" ||
				c.Staff.Subject != "dev-community_staff" || c.System.Subject != "dev-system" {
				t.Fatalf("cast %+v", c)
			}
		})
	}
}

// TestStaffOfOtherCommunities: the cast's staff act in their own community; each other
// community gets staff scoped to it alone, with a valid principal the signer accepts.
func TestStaffOfOtherCommunities(t *testing.T) {
	staff := auth.Principal{Subject: "dev-community-staff", Roles: []auth.Role{auth.RoleCommunityStaff}, Scope: []string{Erqiaoxi}}
	s := &seeder{cast: Cast{Staff: staff}}
	tests := []struct {
		community, subject string
	}{
		{Erqiaoxi, "dev-community-staff"},
		{Fujing, "dev-community-staff-" + Fujing},
		{Dancun, "dev-community-staff-" + Dancun},
	}
	for _, tt := range tests {
		got, err := s.principal(staffOf(tt.community, "社区工作人员"))
		if err != nil {
			t.Fatal(err)
		}
		if got.Subject != tt.subject || !slices.Equal(got.Scope, []string{tt.community}) || !got.HasRole(auth.RoleCommunityStaff) {
			t.Errorf("staff of %s: %+v, want subject %s scoped to it", tt.community, got, tt.subject)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("staff of %s: %v", tt.community, err)
		}
	}
	if _, err := s.principal(caller{role: auth.RoleDepartment}); err == nil {
		t.Error("a role the stories do not use resolved to a principal")
	}
}
