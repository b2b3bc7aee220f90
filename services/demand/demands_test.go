package demand_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/auth"
)

// countOf returns the count of value in counts, 0 when absent.
func countOf(counts []*demandv1.Count, value string) int32 {
	for _, c := range counts {
		if c.GetValue() == value {
			return c.GetCount()
		}
	}
	return 0
}

// TestGridWorkerChat: what a grid worker hears on a round of grid 001 lands on 二桥西's needs
// list, counted by channel and category and found by channel.
func TestGridWorkerChat(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		worker := e.as(auth.RoleGridWorker, erqiaoG1)
		var heard []string
		for _, c := range []struct {
			title    string
			category typev1.Category
		}{
			{"老人上下楼梯需要扶手", typev1.Category_CATEGORY_INFRASTRUCTURE},
			{"楼下空地想放几张棋牌桌", typev1.Category_CATEGORY_ELDERLY_CARE},
		} {
			d := demandOf(demandv1.DemandKind_DEMAND_KIND_NEED, c.category, demandv1.Channel_CHANNEL_GRID_WORKER_VISIT, c.title)
			d.GridCode = erqiaoG1
			got := e.createDemand(worker, d)
			if got.GetRecorder() != "test-grid_worker@"+erqiaoG1 || got.GetUrgency() != demandv1.Urgency_URGENCY_NORMAL {
				t.Fatalf("recorded %v", got)
			}
			heard = append(heard, got.GetName())
		}
		// Others of the district: a walk-in of 二桥西 and a demand of 富景.
		e.createDemand(e.staff(), needOf("周三下午托管"))
		other := needOf("周三下午托管")
		other.CommunityCode = fujing
		e.createDemand(e.as(auth.RoleCommunityStaff, fujing), other)

		for _, ctx := range []struct {
			name string
			ctx  context.Context
		}{{"staff", e.staff()}, {"grid worker", worker}} {
			c, err := e.client.CountDemands(ctx.ctx, &demandv1.CountDemandsRequest{RegionCode: erqiao})
			if err != nil {
				t.Fatalf("%s: %v", ctx.name, err)
			}
			if c.GetTotal() != 3 || countOf(c.GetByChannel(), "CHANNEL_GRID_WORKER_VISIT") != 2 || countOf(c.GetByChannel(), "CHANNEL_WALK_IN") != 1 ||
				countOf(c.GetByCategory(), "CATEGORY_INFRASTRUCTURE") != 1 || countOf(c.GetByCategory(), "CATEGORY_ELDERLY_CARE") != 1 ||
				countOf(c.GetByCategory(), "CATEGORY_CHILDCARE") != 1 || countOf(c.GetByKind(), "DEMAND_KIND_NEED") != 3 ||
				countOf(c.GetByStatus(), "DEMAND_STATUS_SUBMITTED") != 3 {
				t.Fatalf("%s counts %v", ctx.name, c)
			}
		}
		// The grid alone, and a filter on top of the region (the contract: "the same filter as
		// ListDemands, without region_code").
		c, err := e.client.CountDemands(e.staff(), &demandv1.CountDemandsRequest{RegionCode: erqiaoG1})
		if err != nil || c.GetTotal() != 2 {
			t.Fatalf("grid count %v, %v", c, err)
		}
		c, err = e.client.CountDemands(e.staff(), &demandv1.CountDemandsRequest{RegionCode: erqiaoG1, Filter: "category = ELDERLY_CARE"})
		if err != nil || c.GetTotal() != 1 {
			t.Errorf("grid count with a filter: %v, %v", c, err)
		}
		all, err := e.client.CountDemands(e.admin(), &demandv1.CountDemandsRequest{})
		if err != nil || all.GetTotal() != 4 {
			t.Fatalf("district count %v, %v", all, err)
		}

		list, err := e.client.ListDemands(e.staff(), &demandv1.ListDemandsRequest{Filter: "channel = GRID_WORKER_VISIT", OrderBy: "create_time"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range list.GetDemands() {
			got = append(got, d.GetName())
		}
		if !slices.Equal(got, heard) {
			t.Fatalf("listed %v, want %v", got, heard)
		}
		_, err = e.client.ListDemands(e.staff(), &demandv1.ListDemandsRequest{Filter: "channel = CARRIER_PIGEON"})
		apierrtest.WantField(t, err, "filter")
	})
}

func TestBadInputNamesFieldAndWritesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		fujingStaff := e.as(auth.RoleCommunityStaff, fujing)
		first := e.createDemand(staff, needOf("周三下午托管"))
		elsewhere := needOf("周三下午托管")
		elsewhere.CommunityCode = fujing
		fujingDemand := e.createDemand(fujingStaff, elsewhere)
		mresp, err := e.client.CreateMeeting(fujingStaff, &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
			Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: fujing, MeetingDate: "2025-12-04"}})
		if err != nil {
			t.Fatal(err)
		}
		fujingMeeting := mresp.GetMeeting().GetName()
		// Where the feed stands before the refused requests: at the meeting, which reporting
		// counts from its MeetingRecorded (its kind, community and date; no host, no minutes).
		evs := e.watchUntil(0, func(ev *eventsv1.Event) bool { return ev.GetType() == typeOf(&demandv1.MeetingRecorded{}) })
		cursor := evs[len(evs)-1].GetCursor()
		recorded := &demandv1.MeetingRecorded{}
		if err := evs[len(evs)-1].GetPayload().UnmarshalTo(recorded); err != nil {
			t.Fatal(err)
		}
		if want := (&demandv1.MeetingRecorded{Name: fujingMeeting, CommunityCode: fujing, Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY,
			MeetingDate: "2025-12-04"}); !proto.Equal(recorded, want) {
			t.Fatalf("MeetingRecorded %v, want %v", recorded, want)
		}
		demands := e.countDemands()

		creates := []struct {
			name  string
			edit  func(d *demandv1.Demand)
			field string
		}{
			{"unknown channel", func(d *demandv1.Demand) { d.Channel = 99 }, "demand.channel"},
			{"unknown category", func(d *demandv1.Demand) { d.Category = 99 }, "demand.category"},
			{"community not in the tree", func(d *demandv1.Demand) { d.CommunityCode = "450105009009" }, "demand.community_code"},
			{"a sub-district for a community", func(d *demandv1.Demand) { d.CommunityCode = jiangnan }, "demand.community_code"},
			{"grid of another community", func(d *demandv1.Demand) { d.GridCode = fujingG1 }, "demand.grid_code"},
			{"latitude outside China", func(d *demandv1.Demand) { d.Location = &demandv1.GeoPoint{Latitude: 60, Longitude: 108.3} }, "demand.location.latitude"},
			{"longitude outside China", func(d *demandv1.Demand) { d.Location = &demandv1.GeoPoint{Latitude: 22.8, Longitude: 10} }, "demand.location.longitude"},
			{"description too long", func(d *demandv1.Demand) { d.Description = strings.Repeat("托", 2001) }, "demand.description"},
			{"meeting of another community", func(d *demandv1.Demand) {
				d.Channel, d.Meeting = demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING, fujingMeeting
			}, "demand.meeting"},
			{"meeting on a channel without meetings", func(d *demandv1.Demand) { d.Meeting = fujingMeeting }, "demand.meeting"},
			{"anonymous with a name", func(d *demandv1.Demand) { d.Reporter = &demandv1.Reporter{Anonymous: true, Name: "覃秀兰"} }, "demand"},
			{"phone", func(d *demandv1.Demand) { d.Reporter.Phone = "12345" }, "demand.reporter.phone"},
		}
		for _, tt := range creates {
			t.Run(tt.name, func(t *testing.T) {
				d := needOf("周三下午托管")
				tt.edit(d)
				_, err := e.client.CreateDemand(staff, &demandv1.CreateDemandRequest{Demand: d})
				apierrtest.WantField(t, err, tt.field)
			})
		}

		t.Run("duplicate of itself", func(t *testing.T) {
			_, err := e.client.MarkDuplicate(staff, &demandv1.MarkDuplicateRequest{Name: first.GetName(), DuplicateOf: first.GetName()})
			apierrtest.WantField(t, err, "duplicate_of")
		})
		t.Run("duplicate of another community's demand", func(t *testing.T) {
			_, err := e.client.MarkDuplicate(staff, &demandv1.MarkDuplicateRequest{Name: first.GetName(), DuplicateOf: fujingDemand.GetName()})
			apierrtest.WantField(t, err, "duplicate_of")
		})
		t.Run("fourth-day meeting on the 5th", func(t *testing.T) {
			_, err := e.client.CreateMeeting(staff, &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
				Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: erqiao, MeetingDate: "2025-12-05"}})
			apierrtest.WantField(t, err, "meeting.meeting_date")
		})

		if n := e.countDemands(); n != demands {
			t.Fatalf("%d demands after refused requests, want %d", n, demands)
		}
		if got := e.getDemand(staff, first.GetName()); got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED || got.GetDuplicateOf() != "" {
			t.Fatalf("a refused MarkDuplicate changed %v", got)
		}
		meetings, err := e.client.ListMeetings(e.admin(), &demandv1.ListMeetingsRequest{})
		if err != nil || len(meetings.GetMeetings()) != 1 {
			t.Fatalf("meetings after a refused create: %v, %v", meetings.GetMeetings(), err)
		}
		// The next event on the feed is the next accepted demand's: nothing was appended between.
		next := e.createDemand(staff, needOf("周三下午托管"))
		if evs := e.watchUntil(cursor, submitted(next.GetName())); len(evs) != 1 {
			t.Fatalf("refused requests left %d events on the feed", len(evs)-1)
		}
	})
}

func TestLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		d := e.createDemand(staff, needOf("周三下午托管"))
		change := func(req *demandv1.ChangeDemandStatusRequest) error {
			req.Name = d.GetName()
			_, err := e.client.ChangeDemandStatus(staff, req)
			return err
		}
		apierrtest.WantField(t, change(&demandv1.ChangeDemandStatusRequest{Status: demandv1.DemandStatus_DEMAND_STATUS_RESOLVED}), "reply")
		apierrtest.WantField(t, change(&demandv1.ChangeDemandStatusRequest{Status: demandv1.DemandStatus_DEMAND_STATUS_REJECTED, Reply: "不予受理"}), "reason")
		apierrtest.WantCode(t, change(&demandv1.ChangeDemandStatusRequest{Status: demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, Reply: "已解决"}), codes.FailedPrecondition)
		// Only a problem becomes a case.
		if err := change(&demandv1.ChangeDemandStatusRequest{Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "已受理", Etag: d.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		apierrtest.WantCode(t, change(&demandv1.ChangeDemandStatusRequest{Status: demandv1.DemandStatus_DEMAND_STATUS_IN_CASE, Reply: "转办"}), codes.FailedPrecondition)
		// The etag read at creation is stale now.
		apierrtest.WantCode(t, change(&demandv1.ChangeDemandStatusRequest{Status: demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, Reply: "已解决", Etag: d.GetEtag()}), codes.Aborted)
		// A grid worker takes in demands but does not resolve them.
		_, err := e.client.ChangeDemandStatus(e.as(auth.RoleGridWorker, erqiaoG1), &demandv1.ChangeDemandStatusRequest{
			Name: d.GetName(), Status: demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, Reply: "已解决"})
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		if got := e.getDemand(staff, d.GetName()); got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED {
			t.Fatalf("after refused moves: %v", got.GetStatus())
		}

		// Corrections go through UpdateDemand, the status through the verbs.
		cur := e.getDemand(staff, d.GetName())
		update := func(patch *demandv1.Demand, paths ...string) (*demandv1.Demand, error) {
			patch.Name = d.GetName()
			resp, err := e.client.UpdateDemand(staff, &demandv1.UpdateDemandRequest{Demand: patch, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
			return resp.GetDemand(), err
		}
		_, err = update(&demandv1.Demand{Status: demandv1.DemandStatus_DEMAND_STATUS_RESOLVED}, "status")
		apierrtest.WantField(t, err, "update_mask")
		_, err = update(&demandv1.Demand{GridCode: fujingG1}, "grid_code")
		apierrtest.WantField(t, err, "demand.grid_code")
		_, err = update(&demandv1.Demand{Title: "周三全天托管", Etag: d.GetEtag()}, "title")
		apierrtest.WantCode(t, err, codes.Aborted)
		fixed, err := update(&demandv1.Demand{Title: "周三下午及傍晚托管", GridCode: erqiaoG2, Etag: cur.GetEtag()}, "title", "grid_code")
		if err != nil {
			t.Fatal(err)
		}
		if fixed.GetTitle() != "周三下午及傍晚托管" || fixed.GetGridCode() != erqiaoG2 || fixed.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED ||
			fixed.GetCategory() != cur.GetCategory() || fixed.GetEtag() == cur.GetEtag() {
			t.Fatalf("corrected %v", fixed)
		}

		// Replies go onto the timeline without moving the demand.
		rr, err := e.client.ReplyToDemand(staff, &demandv1.ReplyToDemandRequest{Name: d.GetName(), Message: "已联系社区活动室，下周答复。"})
		if err != nil {
			t.Fatal(err)
		}
		entries := e.timeline(d.GetName())
		last := entries[len(entries)-1]
		if !proto.Equal(last, rr.GetEntry()) || last.GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY ||
			last.GetMessage() != "已联系社区活动室，下周答复。" || last.GetActorRole() != string(auth.RoleCommunityStaff) {
			t.Fatalf("last entry %v, reply %v", last, rr.GetEntry())
		}

		// A resident's own demand: resolved, rated unsatisfied, reopened.
		wang := e.resident("resident-wang")
		own := e.createDemand(wang, demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_PROPERTY_HOUSING, demandv1.Channel_CHANNEL_ONLINE, "楼顶漏水"))
		li := e.resident("resident-li")
		if _, err := e.client.SupportDemand(li, &demandv1.SupportDemandRequest{Name: own.GetName()}); err != nil {
			t.Fatal(err)
		}
		rate := func(ctx context.Context, r demandv1.Rating) (*demandv1.Demand, error) {
			resp, err := e.client.RateDemand(ctx, &demandv1.RateDemandRequest{Name: own.GetName(), Rating: r, Comment: "还是漏"})
			return resp.GetDemand(), err
		}
		_, err = rate(wang, demandv1.Rating_RATING_UNSATISFIED)
		apierrtest.WantCode(t, err, codes.FailedPrecondition) // not resolved yet
		e.moveDemand(own.GetName(), demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理，物业将上门查看。")
		e.moveDemand(own.GetName(), demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, "物业已修补楼顶防水层。")
		_, err = rate(li, demandv1.Rating_RATING_SATISFIED)
		apierrtest.WantCode(t, err, codes.PermissionDenied) // a supporter did not raise it
		_, err = rate(staff, demandv1.Rating_RATING_SATISFIED)
		apierrtest.WantCode(t, err, codes.PermissionDenied) // staff do not rate
		reopened, err := rate(wang, demandv1.Rating_RATING_UNSATISFIED)
		if err != nil {
			t.Fatal(err)
		}
		if reopened.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED || reopened.GetRating() != demandv1.Rating_RATING_UNSATISFIED {
			t.Fatalf("after an unsatisfied rating: %v %v", reopened.GetStatus(), reopened.GetRating())
		}
		entries = e.timeline(own.GetName())
		last = entries[len(entries)-1]
		if last.GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_RATING || last.GetFromStatus() != demandv1.DemandStatus_DEMAND_STATUS_RESOLVED ||
			last.GetToStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED || !strings.Contains(last.GetMessage(), "还是漏") {
			t.Fatalf("last entry %v", last)
		}
		// The resident follows it on their own timeline.
		tl, err := e.client.ListTimelineEntries(wang, &demandv1.ListTimelineEntriesRequest{Parent: own.GetName()})
		if err != nil || len(tl.GetEntries()) != len(entries) {
			t.Fatalf("the resident's timeline: %d entries, %v", len(tl.GetEntries()), err)
		}
	})
}

func TestIdempotentCreate(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		req := &demandv1.CreateDemandRequest{Demand: needOf("周三下午托管"), RequestId: uuid.NewString()}
		first, err := e.client.CreateDemand(e.staff(), req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.client.CreateDemand(e.staff(), req)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(first, again) {
			t.Fatalf("replay returned %v, want %v", again, first)
		}
		if n := e.countDemands(); n != 1 {
			t.Fatalf("%d demands after a replay, want 1", n)
		}
		changed := proto.Clone(req).(*demandv1.CreateDemandRequest)
		changed.Demand.Title = "周四下午托管"
		_, err = e.client.CreateDemand(e.staff(), changed)
		apierrtest.WantField(t, err, "request_id")
		_, err = e.client.CreateDemand(e.staff(), &demandv1.CreateDemandRequest{Demand: needOf("周三下午托管"), RequestId: "not-a-uuid"})
		apierrtest.WantField(t, err, "request_id")
		if n := e.countDemands(); n != 1 {
			t.Fatalf("%d demands after refused creates, want 1", n)
		}
	})
}

func TestMeToo(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		wang, li, zhao, chen := e.resident("resident-wang"), e.resident("resident-li"), e.resident("resident-zhao"), e.resident("resident-chen")
		problem := func(title string) *demandv1.Demand {
			return demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_ENVIRONMENT, demandv1.Channel_CHANNEL_ONLINE, title)
		}
		bins := e.createDemand(wang, problem("垃圾桶满了，楼道没人清理"))
		weeds := e.createDemand(wang, problem("单元门口绿化带杂草丛生"))
		// The same words in 富景 and under another category are other matters.
		elsewhere := problem("垃圾桶满了，楼道没人清理")
		elsewhere.CommunityCode, elsewhere.Channel = fujing, demandv1.Channel_CHANNEL_WALK_IN
		e.createDemand(e.as(auth.RoleCommunityStaff, fujing), elsewhere)
		otherCategory := problem("垃圾桶满了，楼道没人清理")
		otherCategory.Category = typev1.Category_CATEGORY_SAFETY
		e.createDemand(wang, otherCategory)

		sim, err := e.client.FindSimilarDemands(li, &demandv1.FindSimilarDemandsRequest{
			CommunityCode: erqiao, Category: typev1.Category_CATEGORY_ENVIRONMENT, Title: "楼道垃圾桶满了没人清理"})
		if err != nil {
			t.Fatal(err)
		}
		if len(sim.GetDemands()) != 1 || sim.GetDemands()[0].GetName() != bins.GetName() || sim.GetDemands()[0].GetSimilarity() < 40 {
			t.Fatalf("similar: %v (weeds %s)", sim.GetDemands(), weeds.GetName())
		}
		_, err = e.client.FindSimilarDemands(li, &demandv1.FindSimilarDemandsRequest{
			CommunityCode: fujing, Category: typev1.Category_CATEGORY_ENVIRONMENT, Title: "楼道垃圾桶满了没人清理"})
		apierrtest.WantCode(t, err, codes.PermissionDenied)

		support := func(ctx context.Context) (*demandv1.Demand, error) {
			resp, err := e.client.SupportDemand(ctx, &demandv1.SupportDemandRequest{Name: bins.GetName()})
			return resp.GetDemand(), err
		}
		for range 2 {
			got, err := support(li)
			if err != nil {
				t.Fatal(err)
			}
			if got.GetSupporterCount() != 1 {
				t.Fatalf("supporters %d, want 1", got.GetSupporterCount())
			}
		}
		_, err = support(wang)
		apierrtest.WantCode(t, err, codes.FailedPrecondition)

		// 赵 filed the same again, and 陈 supported that; staff merge it into the first.
		dup := e.createDemand(zhao, problem("楼道垃圾桶满了没人清理"))
		if _, err := e.client.SupportDemand(chen, &demandv1.SupportDemandRequest{Name: dup.GetName()}); err != nil {
			t.Fatal(err)
		}
		mresp, err := e.client.MarkDuplicate(e.staff(), &demandv1.MarkDuplicateRequest{Name: dup.GetName(), DuplicateOf: bins.GetName(), Etag: e.getDemand(e.staff(), dup.GetName()).GetEtag()})
		if err != nil {
			t.Fatal(err)
		}
		if got := mresp.GetDemand(); got.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE || got.GetDuplicateOf() != bins.GetName() {
			t.Fatalf("marked %v → %q", got.GetStatus(), got.GetDuplicateOf())
		}
		merged := e.getDemand(e.staff(), bins.GetName())
		if merged.GetSupporterCount() != 3 { // 李, and 赵 and 陈 moved over
			t.Fatalf("supporters after the merge: %d, want 3", merged.GetSupporterCount())
		}
		// 赵 now follows the first demand, and a closed duplicate takes no more support.
		if got := e.getDemand(zhao, bins.GetName()); got.GetName() != bins.GetName() {
			t.Fatalf("赵 reads %v", got)
		}
		_, err = e.client.SupportDemand(li, &demandv1.SupportDemandRequest{Name: dup.GetName()})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		entries := e.timeline(bins.GetName())
		if last := entries[len(entries)-1]; last.GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_SUPPORT || last.GetMessage() == "" {
			t.Fatalf("last entry of the merged-into demand: %v", last)
		}
	})
}

// TestConcurrentSupport: residents pressing "me too" at the same moment all count. They send
// no etag, so none of them may be told the demand changed under them.
func TestConcurrentSupport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		d := e.createDemand(e.resident("resident-wang"), demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM,
			typev1.Category_CATEGORY_ENVIRONMENT, demandv1.Channel_CHANNEL_ONLINE, "垃圾桶满了，楼道没人清理"))
		const n = 6
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			ctx := e.resident(fmt.Sprintf("resident-%d", i))
			wg.Go(func() {
				_, errs[i] = e.client.SupportDemand(ctx, &demandv1.SupportDemandRequest{Name: d.GetName()})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("supporter %d: %v", i, err)
			}
		}
		if got := e.getDemand(e.staff(), d.GetName()).GetSupporterCount(); got != n {
			t.Errorf("supporter_count %d, want %d", got, n)
		}
	})
}
