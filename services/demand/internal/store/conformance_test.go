package store_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
	"github.com/jiayuan/jiayuan/services/demand/migrations"
)

// TestConformance runs the same store tests on every back end: SQLite always, PostgreSQL when
// JIAYUAN_TEST_POSTGRES_URL is set.
func TestConformance(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"DemandRoundTrip", testDemandRoundTrip},
		{"DemandVersions", testDemandVersions},
		{"Timeline", testTimeline},
		{"ListDemandsPaging", testListDemandsPaging},
		{"ListDemandsFilters", testListDemandsFilters},
		{"ListDemandsErrors", testListDemandsErrors},
		{"CountDemands", testCountDemands},
		{"SimilarCandidates", testSimilarCandidates},
		{"Supporters", testSupporters},
		{"Meetings", testMeetings},
		{"ListMeetings", testListMeetings},
		{"Projects", testProjects},
		{"PartnerRecords", testPartnerRecords},
		{"Photos", testPhotos},
		{"ContractEvents", testContractEvents},
	}
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					db := b.Open(t)
					if err := db.Migrate(context.Background(), "demand", migrations.FS()); err != nil {
						t.Fatalf("migrate: %v", err)
					}
					tt.fn(t, db)
				})
			}
		})
	}
}

const (
	district = "450105"
	jiangnan = "450105001"    // 江南街道
	erqiao   = "450105001001" // 二桥西社区
	fujing   = "450105001002" // 富景社区
	peihong  = "450105003001" // 沛鸿社区 (another sub-district)
	erqiao1  = "450105001001001"
	erqiao2  = "450105001001002"

	need     = demandv1.DemandKind_DEMAND_KIND_NEED
	problem  = demandv1.DemandKind_DEMAND_KIND_PROBLEM
	childc   = typev1.Category_CATEGORY_CHILDCARE
	elderly  = typev1.Category_CATEGORY_ELDERLY_CARE
	environ  = typev1.Category_CATEGORY_ENVIRONMENT
	online   = demandv1.Channel_CHANNEL_ONLINE
	fourth   = demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING
	hotline  = demandv1.Channel_CHANNEL_HOTLINE
	submit   = demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED
	accepted = demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED
	inProj   = demandv1.DemandStatus_DEMAND_STATUS_IN_PROJECT
	resolved = demandv1.DemandStatus_DEMAND_STATUS_RESOLVED
	rejected = demandv1.DemandStatus_DEMAND_STATUS_REJECTED
)

var base = time.Date(2026, 1, 10, 2, 0, 0, 0, time.UTC)

func newID() string { return ulid.Make().String() }

func newDemand(title, community, grid string, cat typev1.Category, status demandv1.DemandStatus, created time.Time) *demandv1.Demand {
	return &demandv1.Demand{
		Name: "demands/" + newID(), Kind: need, Category: cat, Title: title, CommunityCode: community, GridCode: grid,
		Reporter: &demandv1.Reporter{Name: "王阿姨", Phone: "13800001111"}, Urgency: demandv1.Urgency_URGENCY_NORMAL,
		Channel: online, Status: status, CreateTime: timestamppb.New(created), UpdateTime: timestamppb.New(created),
	}
}

func firstEntry(d *demandv1.Demand) *demandv1.TimelineEntry {
	return &demandv1.TimelineEntry{
		Name: d.GetName() + "/timelineEntries/" + newID(), Kind: demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE,
		ToStatus: d.GetStatus(), Message: "已提交", ActorRole: "resident", CreateTime: d.GetCreateTime(),
	}
}

// insert files each demand in its own transaction, as the API does; raisedBy is by title.
func insert(t *testing.T, db *sqlstore.DB, raisedBy map[string]string, ds ...*demandv1.Demand) {
	t.Helper()
	s := store.New(testKeys)
	for _, d := range ds {
		err := db.InTx(context.Background(), func(ctx context.Context, tx sqlstore.Tx) error {
			return s.InsertDemand(ctx, tx, d, raisedBy[d.GetTitle()], firstEntry(d))
		})
		if err != nil {
			t.Fatalf("insert %s: %v", d.GetTitle(), err)
		}
	}
}

func titles(page []store.Listed[*demandv1.Demand]) []string {
	var out []string
	for _, l := range page {
		out = append(out, l.Rec.GetTitle())
	}
	return out
}

// listAll pages through ListDemands with small pages and returns every title in order.
func listAll(t *testing.T, db *sqlstore.DB, p store.DemandListParams) []string {
	t.Helper()
	var got []string
	p.PageSize = 2
	for range 50 {
		page, next, err := store.New(testKeys).ListDemands(context.Background(), db.Reads(), p)
		if err != nil {
			t.Fatalf("ListDemands(%+v): %v", p, err)
		}
		if len(page) > 2 {
			t.Fatalf("page of %d, want at most 2", len(page))
		}
		got = append(got, titles(page)...)
		if next == "" {
			return got
		}
		p.PageToken = next
	}
	t.Fatal("ListDemands never ended")
	return nil
}

func testDemandRoundTrip(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	m := &demandv1.Meeting{Name: "meetings/" + newID(), Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: erqiao,
		MeetingDate: "2026-01-14", Host: "李书记", CreateTime: timestamppb.New(base)}
	if err := s.InsertMeeting(ctx, db, m); err != nil {
		t.Fatal(err)
	}
	d := newDemand("周三下午孩子没人接", erqiao, erqiao1, childc, submit, base)
	d.Channel, d.Meeting = fourth, m.GetName()
	d.Location = &demandv1.GeoPoint{Latitude: 22.79, Longitude: 108.32}
	staff := newDemand("楼道灯坏了", erqiao, "", environ, submit, base.Add(time.Minute))
	staff.Meeting = m.GetName()
	first := firstEntry(d)
	if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		return s.InsertDemand(ctx, tx, d, "resident-1", first)
	}); err != nil {
		t.Fatal(err)
	}
	insert(t, db, nil, staff)

	got, v, err := s.GetDemand(ctx, db, d.GetName())
	if err != nil || v != 1 || !proto.Equal(got, d) {
		t.Fatalf("GetDemand = %v, %d, %v; want %v, 1", got, v, err, d)
	}
	for name, want := range map[string]string{d.GetName(): "resident-1", staff.GetName(): ""} {
		if by, err := s.DemandRaisedBy(ctx, db, name); err != nil || by != want {
			t.Errorf("DemandRaisedBy(%s) = %q, %v; want %q", name, by, err, want)
		}
	}
	entries, next, err := s.ListTimeline(ctx, db, d.GetName(), 10, "")
	if err != nil || next != "" || len(entries) != 1 || !proto.Equal(entries[0], first) {
		t.Fatalf("ListTimeline = %v, %q, %v; want [%v]", entries, next, err, first)
	}
	// Both demands were raised at the meeting.
	gotM, mv, err := s.GetMeeting(ctx, db, m.GetName())
	if err != nil || mv != 1 || gotM.GetDemandCount() != 2 || gotM.GetHost() != "李书记" {
		t.Fatalf("GetMeeting = %v, %d, %v; want demand_count 2 at version 1", gotM, mv, err)
	}

	missing := "demands/" + newID()
	if _, _, err := s.GetDemand(ctx, db, missing); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("GetDemand(missing) err = %v, want ErrNotFound", err)
	}
	if _, err := s.DemandRaisedBy(ctx, db, missing); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("DemandRaisedBy(missing) err = %v, want ErrNotFound", err)
	}
	// A name filed twice fails the (queued) transaction, whose error says why.
	err = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		return s.InsertDemand(ctx, tx, d, "", nil)
	})
	if !errors.Is(err, sqlstore.ErrAlreadyExists) {
		t.Fatalf("duplicate insert: err = %v, want ErrAlreadyExists", err)
	}
	// A first entry of another demand is refused before anything is written.
	other := newDemand("x", erqiao, "", childc, submit, base)
	if err := s.InsertDemand(ctx, db, other, "", firstEntry(d)); err == nil {
		t.Fatal("InsertDemand with another demand's entry: no error")
	}
	if _, _, err := s.GetDemand(ctx, db, other.GetName()); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("refused demand was written: %v", err)
	}
}

func testDemandVersions(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := newDemand("老人需要扶手", erqiao, "", elderly, submit, base)
	insert(t, db, nil, d)

	d.Status, d.GridCode, d.SupporterCount, d.Project = inProj, erqiao2, 3, "projects/"+newID()
	v, err := s.UpdateDemand(ctx, db, d, 1)
	if err != nil || v != 2 {
		t.Fatalf("UpdateDemand = %d, %v; want 2", v, err)
	}
	if _, err := s.UpdateDemand(ctx, db, d, 1); !errors.Is(err, sqlstore.ErrStale) {
		t.Fatalf("stale update: err = %v, want sqlstore.ErrStale", err)
	}
	// A grid outside the demand's community is refused: the region filter relies on the nesting.
	stray := proto.Clone(d).(*demandv1.Demand)
	stray.GridCode = "450105001002001"
	if _, err := s.UpdateDemand(ctx, db, stray, 2); err == nil {
		t.Fatal("UpdateDemand with a grid of another community: no error")
	}
	stray.Name = "demands/" + newID()
	if err := s.InsertDemand(ctx, db, stray, "", nil); err == nil {
		t.Fatal("InsertDemand with a grid of another community: no error")
	}
	gone := newDemand("gone", erqiao, "", elderly, submit, base)
	if _, err := s.UpdateDemand(ctx, db, gone, 1); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("update of a missing demand: err = %v, want ErrNotFound", err)
	}
	got, gv, err := s.GetDemand(ctx, db, d.GetName())
	if err != nil || gv != 2 || !proto.Equal(got, d) {
		t.Fatalf("GetDemand after update = %v, %d, %v", got, gv, err)
	}
	// The copied columns follow the record: status, grid (the place), project, supporters.
	for _, filter := range []string{
		"status = IN_PROJECT", `region_code = "` + erqiao2 + `"`, `project = "` + d.GetProject() + `"`,
	} {
		if got := listAll(t, db, store.DemandListParams{Filter: filter}); !slices.Equal(got, []string{"老人需要扶手"}) {
			t.Errorf("filter %s: %v", filter, got)
		}
	}
	if got := listAll(t, db, store.DemandListParams{Filter: "status = SUBMITTED"}); len(got) != 0 {
		t.Errorf("old status still matches: %v", got)
	}
	// An update in a transaction whose earlier writes are queued sees them.
	err = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		e := firstEntry(d)
		e.Message = "已纳入项目"
		if err := s.AppendTimeline(ctx, tx, e); err != nil {
			return err
		}
		d.Status = resolved
		_, err := s.UpdateDemand(ctx, tx, d, 2)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if entries, _, err := s.ListTimeline(ctx, db, d.GetName(), 10, ""); err != nil || len(entries) != 2 {
		t.Fatalf("timeline after the transaction: %d entries, %v", len(entries), err)
	}
}

func testTimeline(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	a := newDemand("a", erqiao, "", childc, submit, base)
	b := newDemand("b", erqiao, "", childc, submit, base)
	insert(t, db, nil, a, b)
	want := []string{"已提交"}
	for i := range 4 {
		e := firstEntry(a)
		e.Message = fmt.Sprintf("回复 %d", i)
		e.Kind = demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY
		if err := s.AppendTimeline(ctx, db, e); err != nil {
			t.Fatal(err)
		}
		want = append(want, e.GetMessage())
	}
	var got []string
	token := ""
	var tokenA string
	for range 10 {
		page, next, err := s.ListTimeline(ctx, db.Reads(), a.GetName(), 2, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			got = append(got, e.GetMessage())
		}
		if token = next; token == "" {
			break
		}
		tokenA = next
	}
	if !slices.Equal(got, want) {
		t.Fatalf("timeline = %v, want %v (oldest first)", got, want)
	}
	if page, _, err := s.ListTimeline(ctx, db, b.GetName(), 0, ""); err != nil || len(page) != 1 {
		t.Fatalf("other demand's timeline: %d entries, %v", len(page), err)
	}
	for _, tok := range []string{tokenA, "not-a-token"} {
		if _, _, err := s.ListTimeline(ctx, db, b.GetName(), 2, tok); !errors.Is(err, aip.ErrBadPageToken) {
			t.Errorf("token %q on another demand: err = %v, want ErrBadPageToken", tok, err)
		}
	}
	for _, name := range []string{"demands/x/timelineEntries/", "timelineEntries/x", a.GetName() + "/entries/y",
		"demands//timelineEntries/y", a.GetName() + "/timeline/" + newID()} {
		if err := s.AppendTimeline(ctx, db, &demandv1.TimelineEntry{Name: name}); err == nil {
			t.Errorf("AppendTimeline(%q): no error", name)
		}
	}
}

func testListDemandsPaging(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	var ds []*demandv1.Demand
	for i := range 9 {
		// Pairs share a creation time, supporter counts and urgencies repeat: every order needs
		// its tie-breakers to page without duplicates or gaps.
		d := newDemand(fmt.Sprintf("d%d", i), erqiao, "", childc, submit, base.Add(time.Duration(i/2)*time.Hour))
		d.Urgency = demandv1.Urgency(1 + i%4)
		d.SupporterCount = int32(i % 3)
		ds = append(ds, d)
	}
	insert(t, db, nil, ds...)
	for i, d := range ds {
		// Rewritten by UpdateDemand as the API keeps the count: the columns must follow.
		d.SupporterCount = int32((i + 1) % 3)
		if _, err := s.UpdateDemand(ctx, db, d, 1); err != nil {
			t.Fatal(err)
		}
	}
	newest := func(a, b *demandv1.Demand) int {
		return cmp.Or(b.GetCreateTime().AsTime().Compare(a.GetCreateTime().AsTime()), cmp.Compare(b.GetName(), a.GetName()))
	}
	tests := []struct {
		order string
		less  func(a, b *demandv1.Demand) int
	}{
		{"", newest},
		{"create_time desc", newest},
		{" create_time   desc ", newest},
		{"create_time", func(a, b *demandv1.Demand) int { return -newest(a, b) }},
		{"create_time asc", func(a, b *demandv1.Demand) int { return -newest(a, b) }},
		{"supporter_count desc", func(a, b *demandv1.Demand) int {
			return cmp.Or(cmp.Compare(b.GetSupporterCount(), a.GetSupporterCount()), newest(a, b))
		}},
		{"urgency desc", func(a, b *demandv1.Demand) int {
			return cmp.Or(cmp.Compare(b.GetUrgency(), a.GetUrgency()), newest(a, b))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.order, func(t *testing.T) {
			sorted := slices.Clone(ds)
			slices.SortFunc(sorted, tt.less)
			var want []string
			for _, d := range sorted {
				want = append(want, d.GetTitle())
			}
			if got := listAll(t, db, store.DemandListParams{OrderBy: tt.order}); !slices.Equal(got, want) {
				t.Fatalf("pages = %v, want %v", got, want)
			}
		})
	}
	// The listed version is the etag's.
	page, _, err := s.ListDemands(ctx, db, store.DemandListParams{PageSize: 1})
	if err != nil || len(page) != 1 || page[0].Version != 2 {
		t.Fatalf("listed version: %+v, %v", page, err)
	}
	// A page size of zero is the default, not an empty page.
	if page, next, err := s.ListDemands(ctx, db, store.DemandListParams{}); err != nil || len(page) != len(ds) || next != "" {
		t.Fatalf("default page: %d demands, next %q, %v", len(page), next, err)
	}
}

func testListDemandsFilters(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	meeting, project := "meetings/"+newID(), "projects/"+newID()
	// Shanghai is UTC+8: 2026-01-31T16:30Z is 00:30 on 1 February there.
	febFirst := time.Date(2026, 1, 31, 16, 30, 0, 0, time.UTC)
	janLast := time.Date(2026, 1, 31, 15, 59, 0, 0, time.UTC)
	a := newDemand("erqiao grid1 childcare", erqiao, erqiao1, childc, submit, base)
	a.Channel, a.Meeting = fourth, meeting
	b := newDemand("erqiao no grid elderly", erqiao, "", elderly, accepted, janLast)
	b.Urgency = demandv1.Urgency_URGENCY_URGENT
	c := newDemand("fujing problem", fujing, "", environ, accepted, febFirst)
	c.Kind, c.Channel = problem, hotline
	e := newDemand("peihong in project", peihong, "", childc, inProj, febFirst.Add(24*time.Hour))
	e.Project = project
	f := newDemand("erqiao grid2 rejected", erqiao, erqiao2, childc, rejected, base.Add(time.Hour))
	insert(t, db, map[string]string{a.GetTitle(): "res-a", c.GetTitle(): "res-a", e.GetTitle(): "res-e"}, a, b, c, e, f)
	if _, err := s.AddSupporter(ctx, db, b.GetName(), "res-a", false); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		filter string
		scope  *store.Scope
		own    *store.Own
		want   []string
	}{
		{name: "all", want: []string{"peihong in project", "fujing problem", "erqiao no grid elderly", "erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "district", filter: `region_code = "` + district + `"`, want: []string{"peihong in project", "fujing problem", "erqiao no grid elderly", "erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "sub-district", filter: `region_code = "` + jiangnan + `"`, want: []string{"fujing problem", "erqiao no grid elderly", "erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "community", filter: `region_code = "` + erqiao + `"`, want: []string{"erqiao no grid elderly", "erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "grid", filter: `region_code = "` + erqiao1 + `"`, want: []string{"erqiao grid1 childcare"}},
		{name: "other grid", filter: `region_code = "450105001001003"`, want: nil},
		{name: "kind", filter: "kind = PROBLEM", want: []string{"fujing problem"}},
		{name: "kind with prefix", filter: "kind = DEMAND_KIND_NEED AND region_code = \"" + fujing + `"`, want: nil},
		{name: "category", filter: "category = CHILDCARE", want: []string{"peihong in project", "erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "category not", filter: "category != CHILDCARE", want: []string{"fujing problem", "erqiao no grid elderly"}},
		{name: "channel", filter: "channel = FOURTH_DAY_MEETING", want: []string{"erqiao grid1 childcare"}},
		{name: "status", filter: "status = ACCEPTED", want: []string{"fujing problem", "erqiao no grid elderly"}},
		{name: "urgency", filter: "urgency = URGENT", want: []string{"erqiao no grid elderly"}},
		{name: "meeting", filter: `meeting = "` + meeting + `"`, want: []string{"erqiao grid1 childcare"}},
		{name: "project", filter: `project = "` + project + `"`, want: []string{"peihong in project"}},
		{name: "from a day", filter: `create_time >= "2026-02-01"`, want: []string{"peihong in project", "fujing problem"}},
		{name: "before a day", filter: `create_time < "2026-02-01"`, want: []string{"erqiao no grid elderly", "erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "through a day", filter: `create_time <= "2026-02-01"`, want: []string{"fujing problem", "erqiao no grid elderly", "erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "after a day", filter: `create_time > "2026-02-01"`, want: []string{"peihong in project"}},
		{name: "on a day", filter: `create_time = "2026-01-31"`, want: []string{"erqiao no grid elderly"}},
		{name: "range", filter: `create_time >= "2026-01-10" AND create_time < "2026-02-02" AND region_code = "` + jiangnan + `"`, want: []string{"fujing problem", "erqiao no grid elderly", "erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "scope", scope: &store.Scope{Communities: []string{fujing, peihong}}, want: []string{"peihong in project", "fujing problem"}},
		{name: "scope and filter", filter: "category = CHILDCARE", scope: &store.Scope{Communities: []string{erqiao}}, want: []string{"erqiao grid2 rejected", "erqiao grid1 childcare"}},
		{name: "empty scope", scope: &store.Scope{}, want: nil},
		{name: "own raised and supported", own: &store.Own{Subject: "res-a"}, want: []string{"fujing problem", "erqiao no grid elderly", "erqiao grid1 childcare"}},
		{name: "own in scope", own: &store.Own{Subject: "res-a"}, scope: &store.Scope{Communities: []string{erqiao}}, want: []string{"erqiao no grid elderly", "erqiao grid1 childcare"}},
		{name: "own nothing", own: &store.Own{Subject: "res-none"}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := listAll(t, db, store.DemandListParams{Filter: tt.filter, Scope: tt.scope, Own: tt.own})
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func testListDemandsErrors(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	for i := range 3 {
		insert(t, db, nil, newDemand(fmt.Sprintf("d%d", i), erqiao, "", childc, submit, base.Add(time.Duration(i)*time.Minute)))
	}
	for _, filter := range []string{
		`title = "x' OR 1=1 --"`, "status = NOPE", "status = UNSPECIFIED", `create_time >= "2026-02-30"`,
		`create_time >= "2026-2-1"`, `create_time != "2026-02-01"`, `region_code = "4501%"`, `region_code = "45"`, `region_code = "4501050"`, `region_code = "45010500100a"`,
		`region_code != "450105"`, `meeting = "projects/x"`, "kind = NEED OR kind = PROBLEM", "urgency > LOW",
	} {
		_, _, err := s.ListDemands(ctx, db, store.DemandListParams{Filter: filter})
		var fe *aip.FilterError
		if !errors.As(err, &fe) {
			t.Errorf("filter %s: err = %v, want a FilterError", filter, err)
		}
		if _, err := s.CountDemands(ctx, db, filter, nil, nil); !errors.As(err, &fe) {
			t.Errorf("count filter %s: err = %v, want a FilterError", filter, err)
		}
	}
	for _, order := range []string{"name", "create_time desc, name", "supporter_count", "urgency; DROP TABLE demands"} {
		if _, _, err := s.ListDemands(ctx, db, store.DemandListParams{OrderBy: order}); !errors.Is(err, store.ErrBadOrder) {
			t.Errorf("order %q: err = %v, want ErrBadOrder", order, err)
		}
	}
	_, next, err := s.ListDemands(ctx, db, store.DemandListParams{PageSize: 1})
	if err != nil || next == "" {
		t.Fatalf("first page: %q, %v", next, err)
	}
	// A token only resumes the query it came from: same filter, order, scope and own.
	for _, p := range []store.DemandListParams{
		{PageToken: "garbage!"},
		{PageToken: next, Filter: "status = SUBMITTED"},
		{PageToken: next, OrderBy: "urgency desc"},
		{PageToken: next, Scope: &store.Scope{Communities: []string{erqiao}}},
		{PageToken: next, Own: &store.Own{Subject: "x"}},
	} {
		p.PageSize = 1
		if _, _, err := s.ListDemands(ctx, db, p); !errors.Is(err, aip.ErrBadPageToken) {
			t.Errorf("token with %+v: err = %v, want ErrBadPageToken", p, err)
		}
	}
	// The default order and its explicit spelling are one query.
	if _, _, err := s.ListDemands(ctx, db, store.DemandListParams{PageSize: 1, PageToken: next, OrderBy: "create_time desc"}); err != nil {
		t.Errorf("token under the explicit default order: %v", err)
	}
	// A forged token with a non-numeric key is refused, not sent to the database.
	forged := aip.EncodePageToken(aip.Fingerprint("demands", "", "create_time desc", "*", "*"), "soon", "demands/x")
	if _, _, err := s.ListDemands(ctx, db, store.DemandListParams{PageSize: 1, PageToken: forged}); !errors.Is(err, aip.ErrBadPageToken) {
		t.Errorf("forged token: err = %v, want ErrBadPageToken", err)
	}
}

func testCountDemands(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	a := newDemand("a", erqiao, erqiao1, childc, submit, base)
	b := newDemand("b", erqiao, "", childc, accepted, base)
	c := newDemand("c", erqiao, "", elderly, accepted, base)
	c.Channel = fourth
	d := newDemand("d", fujing, "", environ, submit, base)
	d.Kind = problem
	e := newDemand("e", peihong, "", childc, submit, base)
	insert(t, db, map[string]string{"a": "res", "e": "res"}, a, b, c, d, e)
	n := func(kv ...int) map[int32]int {
		m := map[int32]int{}
		for i := 0; i < len(kv); i += 2 {
			m[int32(kv[i])] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name   string
		filter string
		scope  *store.Scope
		own    *store.Own
		want   store.Counts
	}{
		{name: "all", want: store.Counts{Total: 5, ByCategory: n(int(childc), 3, int(elderly), 1, int(environ), 1),
			ByStatus: n(int(submit), 3, int(accepted), 2), ByChannel: n(int(online), 4, int(fourth), 1), ByKind: n(int(need), 4, int(problem), 1)}},
		{name: "region", filter: `region_code = "` + jiangnan + `" AND status = ACCEPTED`, want: store.Counts{Total: 2,
			ByCategory: n(int(childc), 1, int(elderly), 1), ByStatus: n(int(accepted), 2), ByChannel: n(int(online), 1, int(fourth), 1), ByKind: n(int(need), 2)}},
		{name: "scope", scope: &store.Scope{Communities: []string{fujing}}, want: store.Counts{Total: 1,
			ByCategory: n(int(environ), 1), ByStatus: n(int(submit), 1), ByChannel: n(int(online), 1), ByKind: n(int(problem), 1)}},
		{name: "own", own: &store.Own{Subject: "res"}, want: store.Counts{Total: 2,
			ByCategory: n(int(childc), 2), ByStatus: n(int(submit), 2), ByChannel: n(int(online), 2), ByKind: n(int(need), 2)}},
		{name: "none", scope: &store.Scope{}, want: store.Counts{ByCategory: n(), ByStatus: n(), ByChannel: n(), ByKind: n()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.CountDemands(ctx, db.Reads(), tt.filter, tt.scope, tt.own)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != tt.want.Total || !maps.Equal(got.ByCategory, tt.want.ByCategory) || !maps.Equal(got.ByStatus, tt.want.ByStatus) ||
				!maps.Equal(got.ByChannel, tt.want.ByChannel) || !maps.Equal(got.ByKind, tt.want.ByKind) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func testSimilarCandidates(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	var ds []*demandv1.Demand
	for i, st := range []demandv1.DemandStatus{submit, accepted, inProj, demandv1.DemandStatus_DEMAND_STATUS_IN_CASE, resolved, rejected,
		demandv1.DemandStatus_DEMAND_STATUS_CLOSED, demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE} {
		ds = append(ds, newDemand(st.String(), erqiao, "", environ, st, base.Add(time.Duration(i)*time.Minute)))
	}
	ds = append(ds, newDemand("other category", erqiao, "", childc, submit, base), newDemand("other community", fujing, "", environ, submit, base))
	insert(t, db, nil, ds...)
	titlesOf := func(ds []*demandv1.Demand) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.GetTitle())
		}
		return out
	}
	got, err := s.SimilarCandidates(ctx, db, erqiao, int32(environ), 10)
	want := []string{"DEMAND_STATUS_IN_CASE", "DEMAND_STATUS_IN_PROJECT", "DEMAND_STATUS_ACCEPTED", "DEMAND_STATUS_SUBMITTED"}
	if err != nil || !slices.Equal(titlesOf(got), want) {
		t.Fatalf("SimilarCandidates = %v, %v; want %v", titlesOf(got), err, want)
	}
	if got, err := s.SimilarCandidates(ctx, db, erqiao, int32(environ), 2); err != nil || !slices.Equal(titlesOf(got), want[:2]) {
		t.Fatalf("limited: %v, %v", titlesOf(got), err)
	}
	if got, err := s.SimilarCandidates(ctx, db, peihong, int32(environ), 10); err != nil || len(got) != 0 {
		t.Fatalf("empty community: %v, %v", titlesOf(got), err)
	}
}

func testSupporters(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	from := newDemand("垃圾桶满了", erqiao, "", environ, submit, base)
	to := newDemand("楼道垃圾桶满了没人清理", erqiao, "", environ, accepted, base)
	insert(t, db, map[string]string{from.GetTitle(): "res-from", to.GetTitle(): "res-to"}, from, to)
	// res-1 asks to be notified the second time; res-2 asks on to, then stops asking.
	for _, tt := range []struct {
		demand, subject string
		notify          bool
		want            bool
	}{
		{from.GetName(), "res-1", false, true}, {from.GetName(), "res-2", false, true}, {from.GetName(), "res-1", true, false},
		{from.GetName(), "res-to", false, true}, {to.GetName(), "res-2", true, true}, {to.GetName(), "res-2", false, false},
	} {
		if added, err := s.AddSupporter(ctx, db, tt.demand, tt.subject, tt.notify); err != nil || added != tt.want {
			t.Fatalf("AddSupporter(%s, %s) = %v, %v; want %v", tt.demand, tt.subject, added, err, tt.want)
		}
	}
	for _, tt := range []struct {
		demand, subject string
		want            bool
	}{{from.GetName(), "res-1", true}, {to.GetName(), "res-1", false}, {to.GetName(), "res-to", false}} {
		if is, err := s.IsSupporter(ctx, db, tt.demand, tt.subject); err != nil || is != tt.want {
			t.Errorf("IsSupporter(%s, %s) = %v, %v; want %v", tt.demand, tt.subject, is, err, tt.want)
		}
	}
	// from's supporters res-1, res-2 (already there), res-to (to's raiser: skipped), plus from's
	// raiser and a repeated extra: to ends with res-1, res-2, res-from.
	var n int
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		var err error
		n, err = s.MoveSupporters(ctx, tx, from.GetName(), to.GetName(), []string{"res-from", "res-from", "", "res-to"})
		return err
	})
	if err != nil || n != 3 {
		t.Fatalf("MoveSupporters = %d, %v; want 3", n, err)
	}
	for sub, want := range map[string]bool{"res-1": true, "res-2": true, "res-from": true, "res-to": false} {
		if is, err := s.IsSupporter(ctx, db, to.GetName(), sub); err != nil || is != want {
			t.Errorf("after the move IsSupporter(to, %s) = %v, %v; want %v", sub, is, err, want)
		}
	}
	// Moving again changes nothing.
	if n, err := s.MoveSupporters(ctx, db, from.GetName(), to.GetName(), []string{"res-from"}); err != nil || n != 3 {
		t.Fatalf("second MoveSupporters = %d, %v; want 3", n, err)
	}
	// Who hears of to's replies: its reporter; res-1, who asked on from; res-from, from's
	// reporter, who was told they would. Not res-2, who stopped asking.
	appendEntry(t, db, s, to, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY, "已派人清理")
	if got := recipients(t, db, s, to.GetName()); !slices.Equal(got, []string{"REPORTER res-to 13800001111", "SUPPORTER res-1", "SUPPORTER res-from"}) {
		t.Errorf("after the move a reply notifies %v", got)
	}
	if _, err := s.MoveSupporters(ctx, db, from.GetName(), "demands/"+newID(), nil); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("move to a missing demand: err = %v, want ErrNotFound", err)
	}
	// A resident sees what they support.
	if got := listAll(t, db, store.DemandListParams{Own: &store.Own{Subject: "res-from"}}); len(got) != 2 {
		t.Fatalf("res-from sees %v, want both demands", got)
	}
}

func newMeeting(kind demandv1.MeetingKind, community, date string) *demandv1.Meeting {
	return &demandv1.Meeting{Name: "meetings/" + newID(), Kind: kind, CommunityCode: community, MeetingDate: date,
		Host: "主持人", CreateTime: timestamppb.New(base), UpdateTime: timestamppb.New(base)}
}

func testMeetings(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	fourthDay, elders := demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, demandv1.MeetingKind_MEETING_KIND_ELDERS_COUNCIL
	m := newMeeting(fourthDay, erqiao, "2026-01-14")
	for _, ok := range []*demandv1.Meeting{m, newMeeting(elders, erqiao, "2026-01-14"), newMeeting(elders, erqiao, "2026-01-14"),
		newMeeting(fourthDay, fujing, "2026-01-14"), newMeeting(fourthDay, erqiao, "2026-01-24")} {
		if err := s.InsertMeeting(ctx, db, ok); err != nil {
			t.Fatalf("InsertMeeting(%v %s %s): %v", ok.GetKind(), ok.GetCommunityCode(), ok.GetMeetingDate(), err)
		}
	}
	if err := s.InsertMeeting(ctx, db, newMeeting(fourthDay, erqiao, "2026-01-14")); !errors.Is(err, sqlstore.ErrAlreadyExists) {
		t.Fatalf("second 逢四说事 on a day: err = %v, want ErrAlreadyExists", err)
	}
	got, v, err := s.GetMeeting(ctx, db, m.GetName())
	if err != nil || v != 1 || !proto.Equal(got, m) {
		t.Fatalf("GetMeeting = %v, %d, %v; want %v", got, v, err, m)
	}
	// Demands raised at the meeting count, and an update of its minutes keeps the count.
	d := newDemand("d", erqiao, "", childc, submit, base)
	d.Channel, d.Meeting = fourth, m.GetName()
	insert(t, db, nil, d)
	m.Minutes = "议定：周三下午托管"
	if v, err = s.UpdateMeeting(ctx, db, m, 1); err != nil || v != 2 {
		t.Fatalf("UpdateMeeting = %d, %v; want 2", v, err)
	}
	if _, err := s.UpdateMeeting(ctx, db, m, 1); !errors.Is(err, sqlstore.ErrStale) {
		t.Fatalf("stale meeting update: err = %v, want sqlstore.ErrStale", err)
	}
	if _, err := s.UpdateMeeting(ctx, db, newMeeting(elders, erqiao, "2026-01-01"), 1); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("update of a missing meeting: err = %v, want ErrNotFound", err)
	}
	got, v, err = s.GetMeeting(ctx, db, m.GetName())
	if err != nil || v != 2 || got.GetDemandCount() != 1 || got.GetMinutes() != m.GetMinutes() {
		t.Fatalf("after update: %v, %d, %v", got, v, err)
	}
	// Moving a 逢四说事 onto a day that has one is refused.
	m.MeetingDate = "2026-01-24"
	if _, err := s.UpdateMeeting(ctx, db, m, 2); !errors.Is(err, sqlstore.ErrAlreadyExists) {
		t.Fatalf("move onto a taken day: err = %v, want ErrAlreadyExists", err)
	}
	if _, _, err := s.GetMeeting(ctx, db, "meetings/"+newID()); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("GetMeeting(missing): err = %v, want ErrNotFound", err)
	}

	days, err := s.FourthDayMeetings(ctx, db.Reads(), erqiao, "2026-01-01", "2026-01-24")
	if err != nil || len(days) != 2 || days["2026-01-14"] != m.GetName() || days["2026-01-24"] == "" {
		t.Fatalf("FourthDayMeetings = %v, %v", days, err)
	}
	if days, err := s.FourthDayMeetings(ctx, db, erqiao, "2026-01-15", "2026-01-23"); err != nil || len(days) != 0 {
		t.Fatalf("FourthDayMeetings in a gap = %v, %v", days, err)
	}
}

func testListMeetings(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	fourthDay, night := demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, demandv1.MeetingKind_MEETING_KIND_GRID_NIGHT_TALK
	ms := []*demandv1.Meeting{
		newMeeting(fourthDay, erqiao, "2026-01-04"), newMeeting(fourthDay, erqiao, "2026-01-14"), newMeeting(night, erqiao, "2026-01-14"),
		newMeeting(fourthDay, fujing, "2026-01-24"), newMeeting(night, peihong, "2026-02-02"),
	}
	for _, m := range ms {
		if err := s.InsertMeeting(ctx, db, m); err != nil {
			t.Fatal(err)
		}
	}
	d := newDemand("d", erqiao, "", childc, submit, base)
	d.Meeting = ms[1].GetName()
	insert(t, db, nil, d)
	key := func(m *demandv1.Meeting) string {
		return m.GetMeetingDate() + " " + m.GetCommunityCode() + " " + m.GetKind().String()
	}
	tests := []struct {
		name   string
		filter string
		scope  *store.Scope
		want   []*demandv1.Meeting
	}{
		{name: "all", want: []*demandv1.Meeting{ms[4], ms[3], ms[2], ms[1], ms[0]}},
		{name: "sub-district", filter: `region_code = "` + jiangnan + `"`, want: []*demandv1.Meeting{ms[3], ms[2], ms[1], ms[0]}},
		{name: "community", filter: `region_code = "` + erqiao + `"`, want: []*demandv1.Meeting{ms[2], ms[1], ms[0]}},
		{name: "grid", filter: `region_code = "` + erqiao1 + `"`, want: nil},
		{name: "kind", filter: "kind = FOURTH_DAY", want: []*demandv1.Meeting{ms[3], ms[1], ms[0]}},
		{name: "dates", filter: `meeting_date >= "2026-01-14" AND meeting_date <= "2026-01-24"`, want: []*demandv1.Meeting{ms[3], ms[2], ms[1]}},
		{name: "scope", scope: &store.Scope{Communities: []string{fujing, peihong}}, want: []*demandv1.Meeting{ms[4], ms[3]}},
		{name: "empty scope", scope: &store.Scope{}, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Two meetings share 2026-01-14: ties are broken by name, newest first.
			want := slices.Clone(tt.want)
			slices.SortStableFunc(want, func(a, b *demandv1.Meeting) int {
				return cmp.Or(cmp.Compare(b.GetMeetingDate(), a.GetMeetingDate()), cmp.Compare(b.GetName(), a.GetName()))
			})
			var got []string
			token := ""
			for range 10 {
				page, next, err := s.ListMeetings(ctx, db, store.MeetingListParams{Filter: tt.filter, Scope: tt.scope, PageSize: 2, PageToken: token})
				if err != nil {
					t.Fatal(err)
				}
				for _, l := range page {
					got = append(got, key(l.Rec))
					if l.Rec.GetName() == ms[1].GetName() && (l.Rec.GetDemandCount() != 1 || l.Version != 1) {
						t.Errorf("listed %s: demand_count %d, version %d; want 1, 1", l.Rec.GetName(), l.Rec.GetDemandCount(), l.Version)
					}
				}
				if token = next; token == "" {
					break
				}
			}
			var w []string
			for _, m := range want {
				w = append(w, key(m))
			}
			if !slices.Equal(got, w) {
				t.Fatalf("got %v, want %v", got, w)
			}
		})
	}
	for _, filter := range []string{`meeting_date >= "2026-13-01"`, "kind = CHILDCARE", "status = ACTIVE"} {
		var fe *aip.FilterError
		if _, _, err := s.ListMeetings(ctx, db, store.MeetingListParams{Filter: filter}); !errors.As(err, &fe) {
			t.Errorf("filter %s: err = %v, want a FilterError", filter, err)
		}
	}
	_, next, err := s.ListMeetings(ctx, db, store.MeetingListParams{PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ListMeetings(ctx, db, store.MeetingListParams{PageSize: 1, PageToken: next, Filter: "kind = FOURTH_DAY"}); !errors.Is(err, aip.ErrBadPageToken) {
		t.Errorf("token under another filter: err = %v, want ErrBadPageToken", err)
	}
}

func newProject(title, community string, cat typev1.Category, lt demandv1.ListType, created time.Time) *demandv1.Project {
	return &demandv1.Project{Name: "projects/" + newID(), Title: title, Category: cat, ListType: lt, CommunityCode: community,
		RequiredTags: []string{"课后托管"}, Schedule: []*typev1.WeeklyWindow{{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: "15:00", EndTime: "18:00"}},
		Status: demandv1.ProjectStatus_PROJECT_STATUS_PROPOSED, CreateTime: timestamppb.New(created), UpdateTime: timestamppb.New(created)}
}

func testProjects(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	elderlyChildren, culture := demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN, demandv1.ListType_LIST_TYPE_CULTURE
	care := newProject("周三下午托管", erqiao, childc, elderlyChildren, base)
	tea := newProject("手作茶香", peihong, typev1.Category_CATEGORY_CULTURE_SPORTS, culture, base.Add(time.Hour))
	meals := newProject("养老助餐", fujing, elderly, elderlyChildren, base.Add(2*time.Hour))
	meals.MatchedPartners = []string{"partnerGroups/league"}
	meals.Status = demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		for _, p := range []*demandv1.Project{care, tea, meals} {
			if err := s.InsertProject(ctx, tx, p); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, v, err := s.GetProject(ctx, db, care.GetName())
	if err != nil || v != 1 || !proto.Equal(got, care) {
		t.Fatalf("GetProject = %v, %d, %v", got, v, err)
	}
	if _, _, err := s.GetProject(ctx, db, "projects/"+newID()); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("GetProject(missing): err = %v", err)
	}

	commitments := func(partners ...string) []int {
		t.Helper()
		recs, err := s.PartnerRecords(ctx, db.Reads(), partners)
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, p := range partners {
			out = append(out, recs[p].ActiveCommitments)
		}
		return out
	}
	parents, league := "partners/parents", "partnerGroups/league"
	if got := commitments(parents, league); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("commitments before matching = %v, want [0 1]", got)
	}
	// Accepted while matching: not committed yet.
	care.Status, care.MatchedPartners = demandv1.ProjectStatus_PROJECT_STATUS_MATCHING, []string{parents, league, parents}
	if v, err = s.UpdateProject(ctx, db, care, 1); err != nil || v != 2 {
		t.Fatalf("UpdateProject = %d, %v", v, err)
	}
	if got := commitments(parents, league); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("commitments while matching = %v, want [0 1]", got)
	}
	for i, st := range []demandv1.ProjectStatus{demandv1.ProjectStatus_PROJECT_STATUS_CONTRACT_PENDING, demandv1.ProjectStatus_PROJECT_STATUS_CONTRACTED,
		demandv1.ProjectStatus_PROJECT_STATUS_DELIVERING} {
		care.Status = st
		if _, err := s.UpdateProject(ctx, db, care, int64(2+i)); err != nil {
			t.Fatal(err)
		}
		if got := commitments(parents, league); !slices.Equal(got, []int{1, 2}) {
			t.Fatalf("commitments at %v = %v, want [1 2]", st, got)
		}
	}
	// Dropping a partner, inside a transaction, rewrites the partners.
	care.MatchedPartners = []string{league}
	err = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		_, err := s.UpdateProject(ctx, tx, care, 5)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := commitments(parents, league); !slices.Equal(got, []int{0, 2}) {
		t.Fatalf("commitments after dropping parents = %v, want [0 2]", got)
	}
	care.Status = demandv1.ProjectStatus_PROJECT_STATUS_COMPLETED
	if _, err := s.UpdateProject(ctx, db, care, 6); err != nil {
		t.Fatal(err)
	}
	if got := commitments(parents, league); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("commitments after completion = %v, want [0 1]", got)
	}
	if _, err := s.UpdateProject(ctx, db, care, 6); !errors.Is(err, sqlstore.ErrStale) {
		t.Fatalf("stale project update: err = %v, want sqlstore.ErrStale", err)
	}
	if _, err := s.UpdateProject(ctx, db, newProject("x", erqiao, childc, elderlyChildren, base), 1); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("update of a missing project: err = %v, want ErrNotFound", err)
	}

	tests := []struct {
		filter string
		scope  *store.Scope
		want   []string
	}{
		{want: []string{"养老助餐", "手作茶香", "周三下午托管"}},
		{filter: `region_code = "` + jiangnan + `"`, want: []string{"养老助餐", "周三下午托管"}},
		{filter: "list_type = ELDERLY_AND_CHILDREN", want: []string{"养老助餐", "周三下午托管"}},
		{filter: "category = CULTURE_SPORTS", want: []string{"手作茶香"}},
		{filter: "status = COMPLETED", want: []string{"周三下午托管"}},
		{filter: "status = PROJECT_STATUS_CONTRACTED AND list_type = LIST_TYPE_ELDERLY_AND_CHILDREN", want: []string{"养老助餐"}},
		{scope: &store.Scope{Communities: []string{erqiao, peihong}}, want: []string{"手作茶香", "周三下午托管"}},
		{scope: &store.Scope{}, want: nil},
	}
	for _, tt := range tests {
		var got []string
		token := ""
		for range 10 {
			page, next, err := s.ListProjects(ctx, db, store.ProjectListParams{Filter: tt.filter, Scope: tt.scope, PageSize: 1, PageToken: token})
			if err != nil {
				t.Fatalf("filter %q: %v", tt.filter, err)
			}
			for _, l := range page {
				got = append(got, l.Rec.GetTitle())
			}
			if token = next; token == "" {
				break
			}
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("filter %q scope %v: got %v, want %v", tt.filter, tt.scope, got, tt.want)
		}
	}
	var fe *aip.FilterError
	if _, _, err := s.ListProjects(ctx, db, store.ProjectListParams{Filter: "status = SUBMITTED"}); !errors.As(err, &fe) {
		t.Errorf("demand status on projects: err = %v, want a FilterError", err)
	}
}

func testPartnerRecords(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	tea, league, idle := "partnerGroups/tea", "partnerGroups/league", "partners/idle"
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		for _, a := range []struct {
			partner, date string
			people        int
		}{{tea, "2025-11-20", 30}, {tea, "2025-11-27", 25}, {tea, "2025-10-01", 12}, {league, "2025-11-26", 40}} {
			if err := s.RecordActivity(ctx, tx, a.partner, a.date, a.people); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.PartnerRecords(ctx, db, []string{tea, league, idle})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]store.PartnerRecord{
		// An older activity arriving late does not move the last date back.
		tea:    {Partner: tea, ActivityCount: 3, PeopleServed: 67, LastActivityDate: "2025-11-27"},
		league: {Partner: league, ActivityCount: 1, PeopleServed: 40, LastActivityDate: "2025-11-26"},
		idle:   {Partner: idle},
	}
	if !maps.Equal(got, want) {
		t.Fatalf("PartnerRecords = %+v, want %+v", got, want)
	}
	if got, err := s.PartnerRecords(ctx, db, nil); err != nil || len(got) != 0 {
		t.Fatalf("PartnerRecords(nil) = %v, %v", got, err)
	}
	// Up to 200 partners in one call.
	many := []string{tea}
	for i := range 199 {
		many = append(many, fmt.Sprintf("partners/p%03d", i))
	}
	if got, err := s.PartnerRecords(ctx, db, many); err != nil || len(got) != 200 || got[tea].ActivityCount != 3 {
		t.Fatalf("PartnerRecords(200) = %d records, %v", len(got), err)
	}
}

// testContractEvents: an event of the contract service's feed is applied the first time only,
// also when it comes again in a later transaction; a write rolled back leaves no trace.
func testContractEvents(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	for _, tt := range []struct {
		id       string
		rollback bool
		want     bool
	}{
		{"ev-1", true, true}, // rolled back: not recorded
		{"ev-1", false, true},
		{"ev-1", false, false},
		{"ev-2", false, true},
	} {
		err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			first, err := s.FirstContractEvent(ctx, tx, tt.id)
			if err != nil {
				return err
			}
			if first != tt.want {
				t.Errorf("FirstContractEvent(%s) = %v, want %v", tt.id, first, tt.want)
			}
			if tt.rollback {
				return errRollback
			}
			return nil
		})
		if err != nil && !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
	}
}

var errRollback = errors.New("rolled back on purpose")
