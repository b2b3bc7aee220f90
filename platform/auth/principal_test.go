package auth_test

import (
	"context"
	"testing"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
)

func TestHasRole(t *testing.T) {
	p := auth.Principal{Subject: "s", Roles: []auth.Role{auth.RoleGridWorker, auth.RoleResident}}
	tests := []struct {
		roles []auth.Role
		want  bool
	}{
		{[]auth.Role{auth.RoleGridWorker}, true},
		{[]auth.Role{auth.RoleAdmin, auth.RoleResident}, true},
		{[]auth.Role{auth.RoleAdmin}, false},
		{nil, false},
	}
	for _, tt := range tests {
		if got := p.HasRole(tt.roles...); got != tt.want {
			t.Errorf("HasRole(%v) = %v, want %v", tt.roles, got, tt.want)
		}
	}
}

func TestInScope(t *testing.T) {
	tree := region.Demo()
	tests := []struct {
		name  string
		scope []string
		code  string
		want  bool
	}{
		{"district officer, any grid", []string{"450105"}, "450105004002003", true},
		{"street officer, own community", []string{"450105003"}, "450105003001", true},
		{"street officer, other street", []string{"450105003"}, "450105001001", false},
		{"street officer, own street itself", []string{"450105003"}, "450105003", true},
		{"street officer, the district above", []string{"450105003"}, "450105", false},
		{"grid worker, own grid", []string{"450105001001002"}, "450105001001002", true},
		{"grid worker, neighbouring grid", []string{"450105001001002"}, "450105001001003", false},
		{"two scopes, second matches", []string{"450105001001", "450105002"}, "450105002003001", true},
		{"no scope", nil, "450105", false},
		{"code not in the tree", []string{"450105"}, "450105009", false},
		{"scope not in the tree", []string{"450105009"}, "450105009001", false},
	}
	for _, tt := range tests {
		p := auth.Principal{Subject: "s", Roles: []auth.Role{auth.RoleAdmin}, Scope: tt.scope}
		if got := p.InScope(tree, tt.code); got != tt.want {
			t.Errorf("%s: InScope(%q) = %v, want %v", tt.name, tt.code, got, tt.want)
		}
	}
	if (auth.Principal{Scope: []string{"450105"}}).InScope(nil, "450105") {
		t.Error("InScope with a nil tree is true")
	}
}

func TestPrincipalContext(t *testing.T) {
	if _, ok := auth.FromContext(context.Background()); ok {
		t.Error("FromContext(empty) ok")
	}
	p := auth.Principal{Subject: "s", Roles: []auth.Role{auth.RoleSystem}}
	got, ok := auth.FromContext(auth.WithPrincipal(context.Background(), p))
	if !ok || got.Subject != "s" || !got.HasRole(auth.RoleSystem) {
		t.Errorf("FromContext = %+v, %v", got, ok)
	}
}

func TestRoles(t *testing.T) {
	want := []string{"resident", "grid_worker", "community_staff", "street_officer", "district_officer", "department", "partner", "admin", "system", "auditor"}
	roles := auth.Roles()
	if len(roles) != len(want) {
		t.Fatalf("Roles() = %v", roles)
	}
	for i, r := range roles {
		if string(r) != want[i] {
			t.Errorf("Roles()[%d] = %q, want %q", i, r, want[i])
		}
		if got, err := auth.ParseRole(want[i]); err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", want[i], got, err)
		}
	}
	roles[0] = "changed"
	if auth.Roles()[0] != auth.RoleResident {
		t.Error("Roles() returns the package's own slice")
	}
	if _, err := auth.ParseRole("Admin"); err == nil {
		t.Error("ParseRole is not exact")
	}
}
