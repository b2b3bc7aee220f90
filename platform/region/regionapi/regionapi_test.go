package regionapi_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	regionv1 "github.com/jiayuan/jiayuan/gen/jiayuan/region/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
)

// Codes of the demo tree (platform/region/demo/jiangnan.yaml).
const (
	district = "450105"
	jiangnan = "450105001"
	fujian   = "450105002"
	erqiao   = "450105001001"
	erqiaoG1 = "450105001001001"
	erqiaoG2 = "450105001001002"
	fujing   = "450105001002"
	fujingG1 = "450105001002001"
)

type env struct {
	t      *testing.T
	signer *auth.DevSigner
	client regionv1.RegionServiceClient
}

// start runs a node with no service of its own: what it serves is what the assembly shares
// with every service.
func start(t *testing.T) *env {
	t.Helper()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv := assemblytest.Start(t, assemblytest.Config{
		Name: "regions", Signer: signer, Tree: region.Demo(), Policies: auth.Policies{}, Register: func(grpc.ServiceRegistrar) {},
	})
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &env{t: t, signer: signer, client: regionv1.NewRegionServiceClient(conn)}
}

func (e *env) as(role auth.Role, scope ...string) context.Context {
	e.t.Helper()
	tok, err := e.signer.Token(auth.Principal{Subject: "test-" + string(role), Roles: []auth.Role{role}, Scope: scope}, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.t.Context(), 20*time.Second)
	e.t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// list returns the codes of every page of parent's children, pageSize at a time.
func (e *env) list(ctx context.Context, parent string, pageSize int32) ([]string, error) {
	var codes []string
	req := &regionv1.ListRegionsRequest{Parent: parent, PageSize: pageSize}
	for {
		resp, err := e.client.ListRegions(ctx, req)
		if err != nil {
			return codes, err
		}
		if pageSize > 0 && len(resp.GetRegions()) > int(pageSize) {
			e.t.Errorf("ListRegions(%q) returned %d regions, more than the page size %d", parent, len(resp.GetRegions()), pageSize)
		}
		for _, r := range resp.GetRegions() {
			codes = append(codes, r.GetCode())
		}
		if resp.GetNextPageToken() == "" {
			return codes, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func TestGetRegionWithinScope(t *testing.T) {
	e := start(t)
	staff := e.as(auth.RoleCommunityStaff, erqiao)
	for _, tc := range []struct {
		code   string
		want   *regionv1.Region // nil: NOT_FOUND
		reason string
	}{
		{erqiao, &regionv1.Region{Name: "regions/" + erqiao, Code: erqiao, DisplayName: "二桥西社区", Level: regionv1.Level_LEVEL_COMMUNITY, Parent: "regions/" + jiangnan}, "its community"},
		{erqiaoG2, &regionv1.Region{Name: "regions/" + erqiaoG2, Code: erqiaoG2, DisplayName: "二桥西社区第二网格", Level: regionv1.Level_LEVEL_GRID, Parent: "regions/" + erqiao}, "a grid of it"},
		{jiangnan, &regionv1.Region{Name: "regions/" + jiangnan, Code: jiangnan, DisplayName: "江南街道", Level: regionv1.Level_LEVEL_SUBDISTRICT, Parent: "regions/" + district}, "its sub-district, for the breadcrumb"},
		{district, &regionv1.Region{Name: "regions/" + district, Code: district, DisplayName: "南宁市江南区", Level: regionv1.Level_LEVEL_DISTRICT}, "the district at the root"},
		{fujing, nil, "the next community"},
		{fujingG1, nil, "a grid of the next community"},
		{fujian, nil, "another sub-district"},
		{"450105009", nil, "no such region"},
	} {
		resp, err := e.client.GetRegion(staff, &regionv1.GetRegionRequest{Name: "regions/" + tc.code})
		if tc.want == nil {
			st := apierrtest.WantCode(t, err, codes.NotFound)
			// Out of scope reads exactly like absent: the message names only what was asked.
			if want := `"regions/` + tc.code + `" not found`; st.Message() != want {
				t.Errorf("%s: message %q, want %q", tc.reason, st.Message(), want)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.reason, err)
			continue
		}
		got := resp.GetRegion()
		if got.GetName() != tc.want.GetName() || got.GetCode() != tc.want.GetCode() || got.GetDisplayName() != tc.want.GetDisplayName() ||
			got.GetLevel() != tc.want.GetLevel() || got.GetParent() != tc.want.GetParent() {
			t.Errorf("%s: got %v, want %v", tc.reason, got, tc.want)
		}
	}
}

func TestListRegionsWithinScope(t *testing.T) {
	e := start(t)
	staff := e.as(auth.RoleCommunityStaff, erqiao)
	gridWorker := e.as(auth.RoleGridWorker, erqiaoG1)
	officer := e.as(auth.RoleDistrictOfficer, district)
	twoCommunities := e.as(auth.RoleStreetOfficer, erqiao, fujing)
	for _, tc := range []struct {
		name   string
		ctx    context.Context
		parent string
		want   []string // nil: NOT_FOUND
	}{
		{"the top is the district", staff, "", []string{district}},
		{"the district's children: only the path down to the scope", staff, "regions/" + district, []string{jiangnan}},
		{"the sub-district's children: only its own community", staff, "regions/" + jiangnan, []string{erqiao}},
		{"its community's grids", staff, "regions/" + erqiao, []string{erqiaoG1, erqiaoG2, "450105001001003"}},
		{"a grid has no children", staff, "regions/" + erqiaoG1, []string{}},
		{"the next community is not found", staff, "regions/" + fujing, nil},
		{"an unknown region is not found", staff, "regions/450105009", nil},
		{"a grid worker sees its own grid only", gridWorker, "regions/" + erqiao, []string{erqiaoG1}},
		{"two scopes: both communities", twoCommunities, "regions/" + jiangnan, []string{erqiao, fujing}},
		{"the district officer sees every sub-district", officer, "regions/" + district, []string{jiangnan, fujian, "450105003", "450105004"}},
	} {
		got, err := e.list(tc.ctx, tc.parent, 0)
		if tc.want == nil {
			apierrtest.WantCode(t, err, codes.NotFound)
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestListRegionsPaging(t *testing.T) {
	e := start(t)
	officer := e.as(auth.RoleDistrictOfficer, district)
	all, err := e.list(officer, "regions/"+jiangnan, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 4 {
		t.Fatalf("江南街道 has %d communities in the demo tree, the test expects 4", len(all))
	}
	for _, size := range []int32{1, 3, 4, 1000} {
		got, err := e.list(officer, "regions/"+jiangnan, size)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, all) {
			t.Errorf("pages of %d: %v, want %v", size, got, all)
		}
	}
	first, err := e.client.ListRegions(officer, &regionv1.ListRegionsRequest{Parent: "regions/" + jiangnan, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if first.GetNextPageToken() == "" {
		t.Fatal("no next page token after 2 of 4")
	}
	// A token belongs to its list: another parent, or another caller's scope, refuses it.
	_, err = e.client.ListRegions(officer, &regionv1.ListRegionsRequest{Parent: "regions/" + district, PageToken: first.GetNextPageToken()})
	apierrtest.WantField(t, err, "page_token")
	_, err = e.client.ListRegions(e.as(auth.RoleStreetOfficer, jiangnan), &regionv1.ListRegionsRequest{Parent: "regions/" + jiangnan, PageToken: first.GetNextPageToken()})
	apierrtest.WantField(t, err, "page_token")
}

func TestRegionRequestsChecked(t *testing.T) {
	e := start(t)
	staff := e.as(auth.RoleCommunityStaff, erqiao)
	for _, tc := range []struct {
		name  string
		call  func() error
		field string
	}{
		{"a name that is not regions/{code}", func() error {
			_, err := e.client.GetRegion(staff, &regionv1.GetRegionRequest{Name: "regions/4501"})
			return err
		}, "name"},
		{"an empty name", func() error {
			_, err := e.client.GetRegion(staff, &regionv1.GetRegionRequest{})
			return err
		}, "name"},
		{"a parent that is not regions/{code}", func() error {
			_, err := e.client.ListRegions(staff, &regionv1.ListRegionsRequest{Parent: "partners/" + erqiao})
			return err
		}, "parent"},
		{"a page size above 1000", func() error {
			_, err := e.client.ListRegions(staff, &regionv1.ListRegionsRequest{PageSize: 1001})
			return err
		}, "page_size"},
		{"a page token that is not one", func() error {
			_, err := e.client.ListRegions(staff, &regionv1.ListRegionsRequest{PageToken: "nonsense"})
			return err
		}, "page_token"},
	} {
		t.Run(tc.name, func(t *testing.T) { apierrtest.WantField(t, tc.call(), tc.field) })
	}
	_, err := e.client.ListRegions(t.Context(), &regionv1.ListRegionsRequest{})
	apierrtest.WantCode(t, err, codes.Unauthenticated)
	// Every role may read the tree, within its scope.
	for _, role := range auth.Roles() {
		p := auth.Principal{Subject: "test", Roles: []auth.Role{role}, Scope: []string{erqiao}}
		if role == auth.RolePartner {
			p.Partner = "partners/01J0000000000000000000000A"
		}
		tok, err := e.signer.Token(p, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
		if _, err := e.client.GetRegion(ctx, &regionv1.GetRegionRequest{Name: "regions/" + erqiao}); err != nil {
			t.Errorf("%s: %v", role, err)
		}
	}
}
