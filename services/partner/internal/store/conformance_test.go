package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
	"github.com/jiayuan/jiayuan/services/partner/migrations"
)

// TestConformance runs the same store tests on every back end: SQLite always, PostgreSQL when
// JIAYUAN_TEST_POSTGRES_URL is set.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"RoundTrip", testRoundTrip},
		{"UpdateVersions", testUpdateVersions},
		{"CreditCodeUnique", testCreditCodeUnique},
		{"DeleteAndMembers", testDeleteAndMembers},
		{"ListPaging", testListPaging},
		{"ListFilterAndScope", testListFilterAndScope},
		{"SearchCandidates", testSearchCandidates},
		{"Activities", testActivities},
	}
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					db := b.Open(t)
					if err := db.Migrate(context.Background(), "partner", migrations.FS()); err != nil {
						t.Fatalf("migrate: %v", err)
					}
					tt.fn(t, db)
				})
			}
		})
	}
}

var seq int

func id() string {
	seq++
	return fmt.Sprintf("01JAAAAAAAAAAAAAAAAAAA%04d", seq)
}

func wed(start, end string) *typev1.WeeklyWindow {
	return &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: start, EndTime: end}
}

func newPartner(name, region string, status partnerv1.PartnerStatus, cats ...typev1.Category) *partnerv1.Partner {
	p := &partnerv1.Partner{
		Name: "partners/" + id(), DisplayName: name, RegionCode: region, Status: status,
		ServiceAreas: []string{region}, CreateTime: timestamppb.New(time.Now()),
		Contact: &partnerv1.Contact{PersonName: "李四", Phone: "13800001111"},
	}
	for _, c := range cats {
		p.Capabilities = append(p.Capabilities, &partnerv1.Capability{Category: c, Tags: []string{"t"}})
	}
	return p
}

const (
	active  = partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE
	applied = partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED
	erqiao  = "450105001001" // 二桥西社区
	fujing  = "450105001002" // 富景社区
	peihong = "450105003001" // 沛鸿社区
)

func mustInsert(t *testing.T, db *sqlstore.DB, ps ...store.Party) {
	t.Helper()
	for _, p := range ps {
		if err := store.New(testKeys).InsertParty(context.Background(), db, p); err != nil {
			t.Fatalf("insert %s: %v", p.GetName(), err)
		}
	}
}

func testRoundTrip(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	p := newPartner("何老师 (书法)", erqiao, active, typev1.Category_CATEGORY_EDUCATION)
	p.Availability = []*typev1.WeeklyWindow{wed("15:00", "18:00")}
	g := &partnerv1.PartnerGroup{Name: "partnerGroups/" + id(), DisplayName: "茶艺工作室", Kind: partnerv1.GroupKind_GROUP_KIND_MERCHANT,
		CreditCode: "91350100M000100Y43", RegionCode: peihong, Status: applied}
	mustInsert(t, db, p, g)

	gotP := &partnerv1.Partner{}
	v, err := s.GetParty(ctx, db, p.GetName(), gotP)
	if err != nil || v != 1 || !proto.Equal(gotP, p) {
		t.Fatalf("GetParty = %v, %d, %v; want %v, 1", gotP, v, err, p)
	}
	gotG := &partnerv1.PartnerGroup{}
	if _, err := s.GetParty(ctx, db, g.GetName(), gotG); err != nil || !proto.Equal(gotG, g) {
		t.Fatalf("GetParty(group) = %v, %v", gotG, err)
	}
	// A group name never finds a partner row and vice versa.
	if _, err := s.GetParty(ctx, db, "partnerGroups/"+p.GetName()[len("partners/"):], &partnerv1.PartnerGroup{}); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("kind mix-up: err = %v, want ErrNotFound", err)
	}
	if _, err := s.GetParty(ctx, db, "partners/"+id(), &partnerv1.Partner{}); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("missing: err = %v, want ErrNotFound", err)
	}
}

func testUpdateVersions(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	p := newPartner("家长志愿者", erqiao, applied, typev1.Category_CATEGORY_CHILDCARE)
	p.StatusHistory = []*partnerv1.StatusChange{{ToStatus: applied, Actor: "staff-erqiao", ChangeTime: timestamppb.Now()}}
	mustInsert(t, db, p)
	// A search before the update holds the record at version 1 in the Store's cache.
	got, err := s.SearchCandidates(ctx, db, store.SearchParams{Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}})
	if err != nil || len(got) != 1 || got[0].Version != 1 {
		t.Fatalf("before the update: %v, %v", got, err)
	}
	p.DisplayName = "家长志愿者队"
	p.Capabilities = []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_EDUCATION}}
	v, err := s.UpdateParty(ctx, db, p, 1)
	if err != nil || v != 2 {
		t.Fatalf("UpdateParty = %d, %v; want 2", v, err)
	}
	if _, err := s.UpdateParty(ctx, db, p, 1); !errors.Is(err, sqlstore.ErrStale) {
		t.Fatalf("stale update: err = %v, want sqlstore.ErrStale", err)
	}
	// The search index follows the update.
	got, err = s.SearchCandidates(ctx, db, store.SearchParams{Categories: []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}})
	if err != nil || len(got) != 0 {
		t.Fatalf("old capability still indexed: %v, %v", got, err)
	}
	got, err = s.SearchCandidates(ctx, db, store.SearchParams{Categories: []typev1.Category{typev1.Category_CATEGORY_EDUCATION}})
	if err != nil || len(got) != 1 || got[0].Version != 2 || got[0].Party.GetDisplayName() != "家长志愿者队" {
		t.Fatalf("new capability not indexed, or the old record served: %v, %v", got, err)
	}
	for _, withHistory := range []bool{false, true} {
		own := got[0].Own(withHistory)
		if own.Party.GetDisplayName() != "家长志愿者队" || own.Party == got[0].Party || own.Version != 2 {
			t.Fatalf("Own(%v) = %v; want a copy of version 2", withHistory, own)
		}
		// The contact is the copy's own: masking it leaves the shared record alone.
		own.Party.(*partnerv1.Partner).Contact.Phone = "138****1111"
		if got[0].Party.(*partnerv1.Partner).GetContact().GetPhone() != "13800001111" {
			t.Fatalf("changing the copy's contact changed the shared record")
		}
		if h := len(own.Party.(*partnerv1.Partner).GetStatusHistory()); (h > 0) != withHistory {
			t.Fatalf("Own(%v): %d status changes", withHistory, h)
		}
	}
	// So does the status.
	p.Status = active
	if _, err := s.UpdateParty(ctx, db, p, 2); err != nil {
		t.Fatal(err)
	}
	for st, want := range map[partnerv1.PartnerStatus]int{applied: 0, active: 1} {
		got, err = s.SearchCandidates(ctx, db, store.SearchParams{Statuses: []partnerv1.PartnerStatus{st}})
		if err != nil || len(got) != want {
			t.Fatalf("status %v: %d candidates, want %d (%v)", st, len(got), want, err)
		}
	}
}

func testCreditCodeUnique(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	g := func(code string) *partnerv1.PartnerGroup {
		return &partnerv1.PartnerGroup{Name: "partnerGroups/" + id(), DisplayName: "g", Kind: partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM, CreditCode: code, RegionCode: erqiao, Status: applied}
	}
	mustInsert(t, db, g("91350100M000100Y43"), g(""), g(""))
	err := store.New(testKeys).InsertParty(ctx, db, g("91350100M000100Y43"))
	if !errors.Is(err, sqlstore.ErrAlreadyExists) {
		t.Fatalf("duplicate credit code: err = %v, want ErrAlreadyExists", err)
	}
}

func testDeleteAndMembers(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	g := &partnerv1.PartnerGroup{Name: "partnerGroups/" + id(), DisplayName: "社区团委", Kind: partnerv1.GroupKind_GROUP_KIND_GOVERNMENT_UNIT, RegionCode: erqiao, Status: active}
	a, b := newPartner("a", erqiao, active), newPartner("b", erqiao, active)
	a.Group, b.Group = g.GetName(), g.GetName()
	mustInsert(t, db, g, a, b)
	counts, err := s.MemberCounts(ctx, db, []string{g.GetName(), "partnerGroups/none"})
	if err != nil || counts[g.GetName()] != 2 || counts["partnerGroups/none"] != 0 {
		t.Fatalf("MemberCounts = %v, %v", counts, err)
	}
	if err := s.DeleteParty(ctx, db, a.GetName(), 7); !errors.Is(err, sqlstore.ErrStale) {
		t.Fatalf("delete at wrong version: %v", err)
	}
	if err := s.DeleteParty(ctx, db, a.GetName(), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetParty(ctx, db, a.GetName(), &partnerv1.Partner{}); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("deleted record still there: %v", err)
	}
}

func names(ps []store.ListedParty) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Party.GetDisplayName())
	}
	return out
}

func testListPaging(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	base := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 5 {
		p := newPartner(fmt.Sprintf("p%d", i), erqiao, active)
		p.CreateTime = timestamppb.New(base.Add(time.Duration(i) * time.Hour))
		mustInsert(t, db, p)
		want = append(want, p.GetDisplayName())
	}
	mustInsert(t, db, &partnerv1.PartnerGroup{Name: "partnerGroups/" + id(), DisplayName: "not a partner", Kind: partnerv1.GroupKind_GROUP_KIND_OTHER, RegionCode: erqiao, Status: active})
	newP := func() store.Party { return &partnerv1.Partner{} }
	for _, order := range []string{"", "create_time desc", "display_name", "display_name desc"} {
		t.Run(order, func(t *testing.T) {
			var got []string
			token := ""
			for range 10 {
				page, next, err := s.ListParties(ctx, db, store.ListParams{Kind: store.KindPartner, OrderBy: order, PageSize: 2, PageToken: token}, newP)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, names(page)...)
				if token = next; token == "" {
					break
				}
			}
			w := slices.Clone(want)
			if order == "create_time desc" || order == "display_name desc" {
				slices.Reverse(w)
			}
			if !slices.Equal(got, w) {
				t.Fatalf("pages = %v, want %v", got, w)
			}
		})
	}
	_, next, err := s.ListParties(ctx, db, store.ListParams{Kind: store.KindPartner, PageSize: 2}, newP)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ListParties(ctx, db, store.ListParams{Kind: store.KindPartner, PageSize: 2, PageToken: next, Filter: "status = ACTIVE"}, newP); !errors.Is(err, aip.ErrBadPageToken) {
		t.Fatalf("token from another query: err = %v", err)
	}
	if _, _, err := s.ListParties(ctx, db, store.ListParams{Kind: store.KindPartner, OrderBy: "name; DROP TABLE parties"}, newP); !errors.Is(err, store.ErrBadOrder) {
		t.Fatalf("bad order: err = %v", err)
	}
}

func testListFilterAndScope(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	a := newPartner("erqiao childcare", erqiao, active, typev1.Category_CATEGORY_CHILDCARE)
	b := newPartner("fujing legal", fujing, applied, typev1.Category_CATEGORY_LEGAL_AID)
	c := newPartner("peihong serving erqiao", peihong, active, typev1.Category_CATEGORY_CULTURE_SPORTS)
	c.ServiceAreas = []string{peihong, erqiao}
	d := newPartner("district-wide", "450105", active, typev1.Category_CATEGORY_MEDICAL)
	d.ServiceAreas = []string{"450105"}
	mustInsert(t, db, a, b, c, d)
	newP := func() store.Party { return &partnerv1.Partner{} }
	tests := []struct {
		filter string
		scope  *store.Scope
		want   []string
	}{
		{filter: "status = ACTIVE", want: []string{"district-wide", "erqiao childcare", "peihong serving erqiao"}},
		{filter: `region_code = "450105001"`, want: []string{"erqiao childcare", "fujing legal"}},
		{filter: `category = CHILDCARE`, want: []string{"erqiao childcare"}},
		{filter: `category = LEGAL_AID AND status = APPLIED`, want: []string{"fujing legal"}},
		{filter: `display_name = "x' OR 1=1 --"`, want: nil},
		// 二桥西 staff see their own, the partner serving them from 沛鸿, and the district-wide one.
		{scope: &store.Scope{Codes: []string{erqiao}, Ancestors: []string{"450105", "450105001"}}, want: []string{"district-wide", "erqiao childcare", "peihong serving erqiao"}},
		{scope: &store.Scope{Codes: []string{"450105004", "450105004001"}, Ancestors: []string{"450105"}}, want: []string{"district-wide"}},
		{scope: &store.Scope{}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.filter, func(t *testing.T) {
			page, _, err := s.ListParties(ctx, db, store.ListParams{Kind: store.KindPartner, Filter: tt.filter, OrderBy: "display_name", PageSize: 50, Scope: tt.scope}, newP)
			if tt.filter == `display_name = "x' OR 1=1 --"` {
				// display_name is not filterable: refused, not interpolated.
				var fe *aip.FilterError
				if !errors.As(err, &fe) {
					t.Fatalf("err = %v, want FilterError", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(page); !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func testSearchCandidates(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	local := newPartner("local childcare wed", erqiao, active, typev1.Category_CATEGORY_CHILDCARE)
	local.Availability = []*typev1.WeeklyWindow{wed("14:00", "17:00")}
	street := newPartner("street-wide childcare", "450105001", active, typev1.Category_CATEGORY_CHILDCARE)
	street.ServiceAreas = []string{"450105001"}
	other := newPartner("other street childcare", peihong, active, typev1.Category_CATEGORY_CHILDCARE)
	dormant := newPartner("dormant childcare", erqiao, partnerv1.PartnerStatus_PARTNER_STATUS_DORMANT, typev1.Category_CATEGORY_CHILDCARE)
	legal := newPartner("legal", erqiao, active, typev1.Category_CATEGORY_LEGAL_AID)
	grp := &partnerv1.PartnerGroup{Name: "partnerGroups/" + id(), DisplayName: "youth league", Kind: partnerv1.GroupKind_GROUP_KIND_GOVERNMENT_UNIT,
		RegionCode: erqiao, ServiceAreas: []string{erqiao}, Status: active,
		Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_CHILDCARE}}}
	mustInsert(t, db, local, street, other, dormant, legal, grp)
	childcare := []typev1.Category{typev1.Category_CATEGORY_CHILDCARE}
	tests := []struct {
		name string
		p    store.SearchParams
		want []string
	}{
		{"category+status", store.SearchParams{Categories: childcare, Statuses: []partnerv1.PartnerStatus{active}},
			[]string{"local childcare wed", "other street childcare", "street-wide childcare", "youth league"}},
		{"region covers or within", store.SearchParams{Categories: childcare, Statuses: []partnerv1.PartnerStatus{active}, Areas: []string{"450105", "450105001", erqiao}},
			[]string{"local childcare wed", "street-wide childcare", "youth league"}},
		{"region within a street", store.SearchParams{Categories: childcare, Statuses: []partnerv1.PartnerStatus{active}, Areas: []string{"450105", "450105003", peihong, "450105003002"}},
			[]string{"other street childcare"}},
		{"available on the weekday", store.SearchParams{Categories: childcare, Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY}, []string{"local childcare wed"}},
		{"not available on the weekday", store.SearchParams{Categories: childcare, Weekday: typev1.Weekday_WEEKDAY_THURSDAY}, nil},
		{"groups only", store.SearchParams{Categories: childcare, Kinds: []store.Kind{store.KindGroup}}, []string{"youth league"}},
		{"dormant", store.SearchParams{Statuses: []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_DORMANT}}, []string{"dormant childcare"}},
		{"scope of another street", store.SearchParams{Categories: childcare, Statuses: []partnerv1.PartnerStatus{active}, Scope: &store.Scope{Codes: []string{peihong}}},
			[]string{"other street childcare"}},
		{"scope of a community, served from its street", store.SearchParams{Categories: childcare, Statuses: []partnerv1.PartnerStatus{active},
			Scope: &store.Scope{Codes: []string{erqiao}, Ancestors: []string{"450105001", "450105"}}},
			[]string{"local childcare wed", "street-wide childcare", "youth league"}},
		{"scope and no filter", store.SearchParams{Scope: &store.Scope{Codes: []string{peihong}}}, []string{"other street childcare"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.SearchCandidates(ctx, db, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			var n []string
			for _, c := range got {
				n = append(n, c.Party.GetDisplayName())
			}
			slices.Sort(n)
			if !slices.Equal(n, tt.want) {
				t.Fatalf("got %v, want %v", n, tt.want)
			}
		})
	}
}

func testActivities(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	mk := func(date, community, party string) *partnerv1.ServiceActivity {
		return &partnerv1.ServiceActivity{Name: "activities/" + id(), Partner: party, CommunityCode: community, Title: "手作茶香",
			Kind: partnerv1.ActivityKind_ACTIVITY_KIND_CULTURE, ActivityDate: date, PeopleServed: 30, CreateTime: timestamppb.Now()}
	}
	tea, league := "partnerGroups/"+id(), "partnerGroups/"+id()
	acts := []*partnerv1.ServiceActivity{
		mk("2025-11-27", peihong, tea), mk("2025-11-20", peihong, tea), mk("2025-11-26", erqiao, league), mk("2025-10-01", erqiao, league),
	}
	for _, a := range acts {
		if err := s.InsertActivity(ctx, db, a); err != nil {
			t.Fatal(err)
		}
	}
	dates := func(as []*partnerv1.ServiceActivity) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.GetActivityDate())
		}
		return out
	}
	var got []string
	token := ""
	for range 5 {
		page, next, err := s.ListActivities(ctx, db, store.ActivityParams{PageSize: 3, PageToken: token})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, dates(page)...)
		if token = next; token == "" {
			break
		}
	}
	if want := []string{"2025-11-27", "2025-11-26", "2025-11-20", "2025-10-01"}; !slices.Equal(got, want) {
		t.Fatalf("newest first: %v, want %v", got, want)
	}
	tests := []struct {
		p    store.ActivityParams
		want []string
	}{
		{store.ActivityParams{Filter: `activity_date >= "2025-11-01" AND activity_date <= "2025-11-26"`}, []string{"2025-11-26", "2025-11-20"}},
		{store.ActivityParams{Filter: `partner = "` + tea + `"`}, []string{"2025-11-27", "2025-11-20"}},
		{store.ActivityParams{Communities: []string{"450105001"}}, []string{"2025-11-26", "2025-10-01"}},
		{store.ActivityParams{Parties: []string{league}}, []string{"2025-11-26", "2025-10-01"}},
		{store.ActivityParams{Communities: []string{}}, nil},
	}
	for i, tt := range tests {
		tt.p.PageSize = 10
		page, _, err := s.ListActivities(ctx, db, tt.p)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got := dates(page); !slices.Equal(got, tt.want) {
			t.Errorf("case %d: got %v, want %v", i, got, tt.want)
		}
	}
	// The shared rules refuse a region code of no level's shape and a day that does not exist.
	for _, f := range []string{`community_code = "4501"`, `community_code = "45010500100"`, `activity_date >= "2025-02-30"`, `activity_date < "2025-1-1"`} {
		_, _, err := s.ListActivities(ctx, db, store.ActivityParams{Filter: f, PageSize: 10})
		if fe := (*aip.FilterError)(nil); !errors.As(err, &fe) {
			t.Errorf("filter %s: err = %v, want a FilterError", f, err)
		}
	}
}
