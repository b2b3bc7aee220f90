package demand_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
)

// printedCode is how a follow-up code is shown: twelve digits in groups of four.
var printedCode = regexp.MustCompile(`^[0-9]{4} [0-9]{4} [0-9]{4}$`)

func (e *env) claim(ctx context.Context, code string) (*demandv1.Demand, error) {
	resp, err := e.client.ClaimDemand(ctx, &demandv1.ClaimDemandRequest{FollowUpCode: code})
	return resp.GetDemand(), err
}

func (e *env) timelineAs(ctx context.Context, name string) []*demandv1.TimelineEntry {
	e.t.Helper()
	resp, err := e.client.ListTimelineEntries(ctx, &demandv1.ListTimelineEntriesRequest{Parent: name})
	if err != nil {
		e.t.Fatalf("timeline of %s: %v", name, err)
	}
	return resp.GetEntries()
}

// listNames are the names of the demands ctx's caller lists.
func (e *env) listNames(ctx context.Context) []string {
	e.t.Helper()
	resp, err := e.client.ListDemands(ctx, &demandv1.ListDemandsRequest{PageSize: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, d := range resp.GetDemands() {
		if d.GetFollowUpCode() != "" {
			e.t.Errorf("a list shows the follow-up code of %s", d.GetName())
		}
		out = append(out, d.GetName())
	}
	return out
}

// otherCode is a well-formed code other than code.
func otherCode(code string, i int) string {
	digits := strings.ReplaceAll(code, " ", "")
	for n := i; ; n++ {
		c := fmt.Sprintf("%012d", (int64(n)*7919+1)%1_000_000_000_000)
		if c != digits {
			return c
		}
	}
}

// claimRecords are the audit records of ClaimDemand, as auditRows gives them.
func (e *env) claimRecords() []string {
	e.t.Helper()
	var out []string
	for _, r := range e.auditRows() {
		if strings.Contains(r, " ClaimDemand ") {
			out = append(out, r)
		}
	}
	return out
}

// TestClaimAtTheMeeting is the story of a parent's need raised at a 逢四说事 meeting: staff
// record it and read the follow-up code out; the parent signs in, claims it, follows it among
// their own demands, reads the secretary's reply and rates the outcome basically satisfied. The
// code is spent: another resident's claim with it fails, and leaves nothing behind.
func TestClaimAtTheMeeting(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		secretary := e.asPrincipal(auth.Principal{Subject: "secretary-huang", Roles: []auth.Role{auth.RoleCommunityStaff}, Scope: []string{erqiao}})

		mresp, err := e.client.CreateMeeting(staff, &demandv1.CreateMeetingRequest{Meeting: &demandv1.Meeting{
			Kind: demandv1.MeetingKind_MEETING_KIND_FOURTH_DAY, CommunityCode: erqiao, MeetingDate: "2026-03-14", Host: "二桥西社区党委",
		}})
		if err != nil {
			t.Fatal(err)
		}
		need := demandOf(demandv1.DemandKind_DEMAND_KIND_NEED, typev1.Category_CATEGORY_CHILDCARE, demandv1.Channel_CHANNEL_FOURTH_DAY_MEETING, "周三下午孩子放学早，家里没人看")
		need.Meeting = mresp.GetMeeting().GetName()
		need.Reporter = &demandv1.Reporter{Name: "黄丽萍", Phone: "13977100001"}
		created := e.createDemand(staff, need)
		name, code := created.GetName(), created.GetFollowUpCode()
		if !printedCode.MatchString(code) || created.GetClaimed() {
			t.Fatalf("the recorder got the code %q (claimed %v), want 12 digits in groups of four", code, created.GetClaimed())
		}
		digits := strings.ReplaceAll(code, " ", "")

		// The recorder reads it again to print it; nobody else ever sees it.
		if got := e.getDemand(staff, name).GetFollowUpCode(); got != code {
			t.Fatalf("the recorder reads the code %q, want %q", got, code)
		}
		for who, ctx := range map[string]context.Context{
			"another staff member": secretary,
			"the grid worker":      e.as(auth.RoleGridWorker, erqiaoG1),
			"the district":         e.as(auth.RoleDistrictOfficer, district),
		} {
			if got := e.getDemand(ctx, name).GetFollowUpCode(); got != "" {
				t.Errorf("%s reads the code %q", who, got)
			}
			e.listNames(ctx)
		}
		e.listNames(staff)
		// A resident filing online gets no code: they own the demand already.
		online := e.createDemand(e.resident("resident-wang"), demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM,
			typev1.Category_CATEGORY_ENVIRONMENT, demandv1.Channel_CHANNEL_ONLINE, "小区门口污水外溢"))
		if online.GetFollowUpCode() != "" || online.GetClaimed() {
			t.Fatalf("an online filing has the code %q (claimed %v)", online.GetFollowUpCode(), online.GetClaimed())
		}

		// Before the claim the parent does not see it.
		parent := e.resident("parent-huang")
		_, err = e.client.GetDemand(parent, &demandv1.GetDemandRequest{Name: name})
		apierrtest.WantCode(t, err, codes.NotFound)
		if got := e.listNames(parent); len(got) != 0 {
			t.Fatalf("before the claim the parent lists %v", got)
		}

		// The parent types it with hyphens: claimed, theirs, their details whole.
		claimed, err := e.claim(parent, digits[:4]+"-"+digits[4:8]+"-"+digits[8:])
		if err != nil {
			t.Fatal(err)
		}
		if !claimed.GetClaimed() || claimed.GetFollowUpCode() != "" || claimed.GetReporter().GetPhone() != "13977100001" ||
			claimed.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_SUBMITTED {
			t.Fatalf("claimed %v", claimed)
		}
		if got := e.listNames(parent); !slices.Equal(got, []string{name}) {
			t.Fatalf("the parent lists %v, want %s", got, name)
		}
		// Claimed, the code is no longer shown, even to its recorder.
		if got := e.getDemand(staff, name); got.GetFollowUpCode() != "" || !got.GetClaimed() {
			t.Fatalf("after the claim the recorder reads code %q claimed %v", got.GetFollowUpCode(), got.GetClaimed())
		}

		// The secretary replies; the parent reads it on the timeline, after the claim.
		reply := "已联系社区团委和家长志愿者，周三下午四点半课堂正在筹备，下周答复您。"
		if _, err := e.client.ReplyToDemand(secretary, &demandv1.ReplyToDemandRequest{Name: name, Message: reply}); err != nil {
			t.Fatal(err)
		}
		entries := e.timelineAs(parent, name)
		kinds := make([]demandv1.TimelineEntryKind, 0, len(entries))
		for _, en := range entries {
			kinds = append(kinds, en.GetKind())
		}
		if !slices.Equal(kinds, []demandv1.TimelineEntryKind{demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE,
			demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_CLAIM, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY}) {
			t.Fatalf("the parent's timeline: %v", entries)
		}
		if c := entries[1]; !strings.Contains(c.GetMessage(), "回执码") || c.GetActorRole() != string(auth.RoleResident) {
			t.Fatalf("the claim's entry %v", c)
		}
		if entries[2].GetMessage() != reply {
			t.Fatalf("the parent reads %q, want the secretary's reply", entries[2].GetMessage())
		}

		// Staff resolve it; the parent rates it basically satisfied, once.
		e.moveDemand(name, demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理。")
		e.moveDemand(name, demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, "周三下午四点半课堂已开课，欢迎孩子参加。")
		rresp, err := e.client.RateDemand(parent, &demandv1.RateDemandRequest{Name: name, Rating: demandv1.Rating_RATING_BASICALLY_SATISFIED, Comment: "希望能延长到六点"})
		if err != nil {
			t.Fatal(err)
		}
		rated := rresp.GetDemand()
		if rated.GetRating() != demandv1.Rating_RATING_BASICALLY_SATISFIED || rated.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_RESOLVED {
			t.Fatalf("rated %v %v", rated.GetRating(), rated.GetStatus())
		}
		last := e.timelineAs(parent, name)
		if r := last[len(last)-1]; r.GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_RATING ||
			r.GetRating() != demandv1.Rating_RATING_BASICALLY_SATISFIED || !strings.Contains(r.GetMessage(), "基本满意") ||
			!strings.Contains(r.GetMessage(), "希望能延长到六点") {
			t.Fatalf("the rating's entry %v", r)
		}
		_, err = e.client.RateDemand(parent, &demandv1.RateDemandRequest{Name: name, Rating: demandv1.Rating_RATING_SATISFIED})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)

		// The same parent claiming again gets it back; another resident finds the code spent.
		again, err := e.claim(parent, code)
		if err != nil || !proto.Equal(again, e.getDemand(parent, name)) {
			t.Fatalf("claiming again: %v, %v", again, err)
		}
		before := e.getDemand(staff, name)
		timelineBefore := len(e.timeline(name))
		neighbour := e.resident("neighbour-li")
		_, err = e.claim(neighbour, code)
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		if after := e.getDemand(staff, name); !proto.Equal(after, before) {
			t.Fatalf("a refused claim changed the demand:\n%v\nwas\n%v", after, before)
		}
		if n := len(e.timeline(name)); n != timelineBefore {
			t.Fatalf("a refused claim wrote on the timeline: %d entries, were %d", n, timelineBefore)
		}
		if got := e.listNames(neighbour); len(got) != 0 {
			t.Fatalf("the neighbour lists %v", got)
		}
		_, err = e.client.GetDemand(neighbour, &demandv1.GetDemandRequest{Name: name})
		apierrtest.WantCode(t, err, codes.NotFound)

		// The claim is audited, naming the demand and what changed; the refusal wrote nothing.
		want := []string{
			fmt.Sprintf("write parent-huang ClaimDemand %s %s OK claimed ", name, erqiao),
			fmt.Sprintf("write parent-huang ClaimDemand %s %s OK  ", name, erqiao),
			fmt.Sprintf("read_personal parent-huang ClaimDemand %s %s OK  reporter", name, erqiao),
			fmt.Sprintf("read_personal parent-huang ClaimDemand %s %s OK  reporter", name, erqiao),
		}
		got := e.claimRecords()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("ClaimDemand's audit records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		for _, r := range e.auditRows() {
			if strings.Contains(r, digits) || strings.Contains(r, code) {
				t.Fatalf("an audit record holds the code: %s", r)
			}
		}

		// Nowhere else either: not on the feed, not in the logs.
		evs := e.watchUntil(0, func(ev *eventsv1.Event) bool {
			var moved demandv1.DemandStatusChanged
			return ev.GetPayload().UnmarshalTo(&moved) == nil && moved.GetName() == name &&
				moved.GetToStatus() == demandv1.DemandStatus_DEMAND_STATUS_RESOLVED
		})
		for _, ev := range evs {
			if bytes.Contains(ev.GetPayload().GetValue(), []byte(digits)) {
				t.Fatalf("the %s event of %s carries the code", ev.GetType(), ev.GetSubject())
			}
		}
		checkFeedHasNoReporter(t, evs)
		if logs := e.logs.String(); strings.Contains(logs, digits) || strings.Contains(logs, code) {
			t.Fatal("the logs hold the code")
		}
	})
}

// TestClaimRefusals: bad input, callers who do not claim, wrong codes throttled per caller,
// and nothing written by any of them.
func TestClaimRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		first := e.createDemand(staff, needOf("老人吃饭难"))
		second := e.createDemand(staff, needOf("孩子周末没人看"))
		code, secondCode := first.GetFollowUpCode(), second.GetFollowUpCode()
		guesser := e.resident("guesser")

		// Bad input names the field and does not count.
		for _, bad := range []string{"", "1234 5678", "1234 5678 9012 3", "abcd efgh ijkl", "1234.5678.9012", "1234 5678 901２x"} {
			_, err := e.claim(guesser, bad)
			apierrtest.WantField(t, err, "follow_up_code")
		}
		// Only residents claim.
		for _, ctx := range []context.Context{staff, e.as(auth.RoleDistrictOfficer, district)} {
			_, err := e.claim(ctx, code)
			apierrtest.WantCode(t, err, codes.PermissionDenied)
		}
		// Someone holding the resident role beside a staff role is no resident: refused
		// before the code is looked at, so the refusal says nothing of it.
		both := e.asPrincipal(auth.Principal{Subject: "staff-and-resident", Roles: []auth.Role{auth.RoleResident, auth.RoleCommunityStaff}, Scope: []string{erqiao}})
		for _, c := range []string{code, otherCode(code, 1)} {
			_, err := e.claim(both, c)
			apierrtest.WantCode(t, err, codes.PermissionDenied)
		}

		// Four wrong codes, then the guesser's own right one: it is claimed, and does not
		// wipe out the wrong ones.
		for i := range 4 {
			_, err := e.claim(guesser, otherCode(code, i))
			apierrtest.WantCode(t, err, codes.NotFound)
		}
		if _, err := e.claim(guesser, secondCode); err != nil {
			t.Fatalf("the guesser's own code: %v", err)
		}
		// A fifth wrong one is still answered; the sixth claim, even with the right code, is not.
		_, err := e.claim(guesser, otherCode(code, 10))
		apierrtest.WantCode(t, err, codes.NotFound)
		before := e.getDemand(staff, first.GetName())
		_, err = e.claim(guesser, code)
		st := apierrtest.WantCode(t, err, codes.ResourceExhausted)
		var retry *errdetails.RetryInfo
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok {
				retry = ri
			}
		}
		if d := retry.GetRetryDelay().AsDuration(); d <= 0 || d > 15*time.Minute {
			t.Fatalf("RetryInfo %v, want a delay within the 15 minute window", retry)
		}
		if after := e.getDemand(staff, first.GetName()); !proto.Equal(after, before) || after.GetFollowUpCode() != code {
			t.Fatalf("a throttled claim changed the demand: %v", after)
		}
		// Others are not held up by the guesser.
		_, err = e.claim(e.resident("neighbour"), otherCode(code, 20))
		apierrtest.WantCode(t, err, codes.NotFound)

		// Once the first wrong code is 15 minutes old, the guesser may try again.
		e.clock.Advance(15*time.Minute + time.Second)
		claimed, err := e.claim(guesser, code)
		if err != nil || !claimed.GetClaimed() {
			t.Fatalf("after the window: %v, %v", claimed, err)
		}

		// Nothing of a failed claim is a write: the two successes are the only write records,
		// and the wrong codes are refusals naming no demand.
		got := map[string]int{}
		for _, r := range e.claimRecords() {
			if strings.HasPrefix(r, "read_personal ") {
				continue
			}
			f := strings.SplitN(r, " ", 8)
			if f[0] == "write" && f[3] == "" || f[0] == "refused" && f[3] != "" {
				t.Errorf("a record names the wrong resource: %s", r)
			}
			got[f[0]+" "+f[1]+" "+f[5]]++
		}
		want := map[string]int{
			"write guesser OK":                             2,
			"refused guesser NOT_FOUND":                    5,
			"refused neighbour NOT_FOUND":                  1,
			"refused staff-and-resident PERMISSION_DENIED": 2,
		}
		for k, n := range got {
			if want[k] != n && !strings.HasPrefix(k, "refused test-") {
				t.Errorf("%d records %q, want %d", n, k, want[k])
			}
		}
		for k, n := range want {
			if got[k] != n {
				t.Errorf("%d records %q, want %d: %v", got[k], k, n, e.claimRecords())
			}
		}
	})
}

// TestClaimOutsideScope: the code is the proof, not where the resident lives. A grandparent
// signed in for another sub-district claims a demand recorded in 二桥西, reads it and its
// timeline, and rates it; it stays out of their scope for anything else.
func TestClaimOutsideScope(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		d := needOf("老伴腿脚不便，想申请助餐")
		d.Reporter = &demandv1.Reporter{Name: "覃秀兰", Phone: "13907710021"}
		d.Address = "二桥西路8号3栋2单元501"
		rec := e.createDemand(staff, d)
		grandma := e.asPrincipal(auth.Principal{Subject: "grandma-qin", Roles: []auth.Role{auth.RoleResident}, Scope: []string{peihong}})
		if _, err := e.claim(grandma, rec.GetFollowUpCode()); err != nil {
			t.Fatal(err)
		}
		got := e.getDemand(grandma, rec.GetName())
		// They read what they told the staff, whole, as had they filed it.
		if got.GetReporter().GetPhone() != "13907710021" || got.GetAddress() != d.GetAddress() || got.GetReporter().GetName() != "覃秀兰" {
			t.Fatalf("the claimant reads %v at %q", got.GetReporter(), got.GetAddress())
		}
		if names := e.listNames(grandma); !slices.Equal(names, []string{rec.GetName()}) {
			t.Fatalf("the claimant lists %v", names)
		}
		if _, err := e.client.ReplyToDemand(staff, &demandv1.ReplyToDemandRequest{Name: rec.GetName(), Message: "已登记助餐，下周起每日送餐。"}); err != nil {
			t.Fatal(err)
		}
		if entries := e.timelineAs(grandma, rec.GetName()); entries[len(entries)-1].GetMessage() != "已登记助餐，下周起每日送餐。" {
			t.Fatalf("the claimant's timeline %v", entries)
		}
		e.moveDemand(rec.GetName(), demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理。")
		e.moveDemand(rec.GetName(), demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, "已开始送餐。")
		if _, err := e.client.RateDemand(grandma, &demandv1.RateDemandRequest{Name: rec.GetName(), Rating: demandv1.Rating_RATING_SATISFIED}); err != nil {
			t.Fatal(err)
		}
		// Their scope did not widen: 二桥西's other demands stay out of sight.
		other := e.createDemand(staff, needOf("周三下午托管"))
		_, err := e.client.GetDemand(grandma, &demandv1.GetDemandRequest{Name: other.GetName()})
		apierrtest.WantCode(t, err, codes.NotFound)
		// A claimant does not also say "me too" to what they raised.
		_, err = e.client.SupportDemand(e.resident("grandma-qin"), &demandv1.SupportDemandRequest{Name: rec.GetName()})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
	})
}

// TestSupportersReadReplies: a resident who said "me too" reads the demand and its replies,
// the reporter masked; if they were its reporter all along and claim it, they stop counting
// as a supporter.
func TestSupportersReadReplies(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		rec := e.createDemand(staff, demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_ENVIRONMENT,
			demandv1.Channel_CHANNEL_DOOR_KNOCKING, "楼道垃圾桶满了没人清理"))
		li, zhao := e.resident("resident-li"), e.resident("resident-zhao")
		for _, ctx := range []context.Context{li, zhao} {
			if _, err := e.client.SupportDemand(ctx, &demandv1.SupportDemandRequest{Name: rec.GetName()}); err != nil {
				t.Fatal(err)
			}
		}
		reply := "已通知物业，今天下午清运。"
		if _, err := e.client.ReplyToDemand(staff, &demandv1.ReplyToDemandRequest{Name: rec.GetName(), Message: reply}); err != nil {
			t.Fatal(err)
		}
		seen := e.getDemand(li, rec.GetName())
		if seen.GetReporter().GetPhone() != personal.MaskPhone("13907710021") || seen.GetFollowUpCode() != "" || seen.GetSupporterCount() != 2 {
			t.Fatalf("a supporter reads %v", seen)
		}
		entries := e.timelineAs(li, rec.GetName())
		if last := entries[len(entries)-1]; last.GetKind() != demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY || last.GetMessage() != reply {
			t.Fatalf("a supporter's timeline ends with %v", last)
		}
		// 赵 was the resident the door-knock was about: claimed, the reporter, no longer a supporter.
		claimed, err := e.claim(zhao, rec.GetFollowUpCode())
		if err != nil {
			t.Fatal(err)
		}
		if claimed.GetSupporterCount() != 1 || claimed.GetReporter().GetPhone() != "13907710021" {
			t.Fatalf("claimed by a supporter: %d supporters, reporter %v", claimed.GetSupporterCount(), claimed.GetReporter())
		}
		if got := e.listNames(zhao); !slices.Equal(got, []string{rec.GetName()}) {
			t.Fatalf("the claimant lists %v", got)
		}
	})
}

// TestClaimMergedDemand: a demand merged into another before it was claimed; its claimant
// follows the one it was merged into, as a resident who filed it online would.
func TestClaimMergedDemand(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		staff := e.staff()
		dup := e.createDemand(staff, needOf("周三下午托管"))
		target := e.createDemand(staff, needOf("周三下午孩子没人看"))
		if _, err := e.client.MarkDuplicate(staff, &demandv1.MarkDuplicateRequest{Name: dup.GetName(), DuplicateOf: target.GetName()}); err != nil {
			t.Fatal(err)
		}
		parent := e.resident("parent-lu")
		claimed, err := e.claim(parent, dup.GetFollowUpCode())
		if err != nil {
			t.Fatal(err)
		}
		if claimed.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_DUPLICATE || claimed.GetDuplicateOf() != target.GetName() {
			t.Fatalf("claimed %v", claimed)
		}
		merged := e.getDemand(parent, target.GetName())
		if merged.GetSupporterCount() != 1 {
			t.Fatalf("the demand merged into has %d supporters, want the claimant", merged.GetSupporterCount())
		}
		if got := e.listNames(parent); len(got) != 2 {
			t.Fatalf("the claimant lists %v, want both", got)
		}
	})
}

// TestRatingPerResolution: a rating belongs to one resolution. Unsatisfied reopens the demand;
// resolved again, it asks for a new rating; both stay on the timeline.
func TestRatingPerResolution(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		wang := e.resident("resident-wang")
		d := e.createDemand(wang, demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_PROPERTY_HOUSING, demandv1.Channel_CHANNEL_ONLINE, "楼顶漏水"))
		name := d.GetName()
		rate := func(ctx context.Context, r demandv1.Rating) (*demandv1.Demand, error) {
			resp, err := e.client.RateDemand(ctx, &demandv1.RateDemandRequest{Name: name, Rating: r})
			return resp.GetDemand(), err
		}
		e.moveDemand(name, demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理。")
		li := e.resident("resident-li")
		if _, err := e.client.SupportDemand(li, &demandv1.SupportDemandRequest{Name: name}); err != nil {
			t.Fatal(err)
		}
		e.moveDemand(name, demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, "物业已修补楼顶防水层。")
		reopened, err := rate(wang, demandv1.Rating_RATING_UNSATISFIED)
		if err != nil || reopened.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED || reopened.GetRating() != demandv1.Rating_RATING_UNSATISFIED {
			t.Fatalf("unsatisfied: %v, %v", reopened, err)
		}
		// Reopened, it is not rateable until it has an outcome again.
		_, err = rate(wang, demandv1.Rating_RATING_SATISFIED)
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		resolved := e.moveDemand(name, demandv1.DemandStatus_DEMAND_STATUS_RESOLVED, "已更换整片防水卷材。")
		if resolved.GetRating() != demandv1.Rating_RATING_UNSPECIFIED {
			t.Fatalf("resolved again, the demand keeps the rating %v", resolved.GetRating())
		}
		// Who neither filed nor claimed it: a supporter is refused, a stranger does not see it.
		_, err = rate(li, demandv1.Rating_RATING_SATISFIED)
		apierrtest.WantCode(t, err, codes.PermissionDenied)
		_, err = rate(e.asPrincipal(auth.Principal{Subject: "stranger", Roles: []auth.Role{auth.RoleResident}, Scope: []string{fujing}}), demandv1.Rating_RATING_SATISFIED)
		apierrtest.WantCode(t, err, codes.NotFound)
		_, err = rate(e.staff(), demandv1.Rating_RATING_SATISFIED)
		apierrtest.WantCode(t, err, codes.PermissionDenied)

		rated, err := rate(wang, demandv1.Rating_RATING_SATISFIED)
		if err != nil || rated.GetRating() != demandv1.Rating_RATING_SATISFIED || rated.GetStatus() != demandv1.DemandStatus_DEMAND_STATUS_RESOLVED {
			t.Fatalf("satisfied: %v, %v", rated, err)
		}
		_, err = rate(wang, demandv1.Rating_RATING_BASICALLY_SATISFIED)
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		// Closing for good keeps the outcome and its rating.
		closed := e.moveDemand(name, demandv1.DemandStatus_DEMAND_STATUS_CLOSED, "已办结。")
		if closed.GetRating() != demandv1.Rating_RATING_SATISFIED {
			t.Fatalf("closed, the rating is %v", closed.GetRating())
		}

		var history []demandv1.Rating
		for _, en := range e.timelineAs(wang, name) {
			if en.GetKind() == demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_RATING {
				history = append(history, en.GetRating())
			} else if en.GetRating() != demandv1.Rating_RATING_UNSPECIFIED {
				t.Errorf("a %v entry carries the rating %v", en.GetKind(), en.GetRating())
			}
		}
		if !slices.Equal(history, []demandv1.Rating{demandv1.Rating_RATING_UNSATISFIED, demandv1.Rating_RATING_SATISFIED}) {
			t.Fatalf("the ratings on the timeline: %v", history)
		}
		if got := e.getDemand(wang, name).GetRating(); got != demandv1.Rating_RATING_SATISFIED {
			t.Fatalf("the demand's rating %v", got)
		}
	})
}

// TestFollowUpCodeOnReplay: a create replayed by its request_id shows its recorder the code of
// the demand it first created, and no code once the resident has claimed it.
func TestFollowUpCodeOnReplay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		req := &demandv1.CreateDemandRequest{Demand: needOf("老人吃饭难"), RequestId: "5d0f8c2a-7a1e-4a53-9b6e-2c4d8e1f0a3b"}
		first, err := e.client.CreateDemand(e.staff(), req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.client.CreateDemand(e.staff(), req)
		if err != nil || again.GetDemand().GetFollowUpCode() != first.GetDemand().GetFollowUpCode() || again.GetDemand().GetName() != first.GetDemand().GetName() {
			t.Fatalf("replayed: %v, %v; first %v", again.GetDemand(), err, first.GetDemand())
		}
		if _, err := e.claim(e.resident("resident-wei"), first.GetDemand().GetFollowUpCode()); err != nil {
			t.Fatal(err)
		}
		after, err := e.client.CreateDemand(e.staff(), req)
		if err != nil || after.GetDemand().GetName() != first.GetDemand().GetName() || after.GetDemand().GetFollowUpCode() != "" {
			t.Fatalf("replayed after the claim: %v, %v", after.GetDemand(), err)
		}
	})
}

// TestConcurrentClaims: residents claiming one code at the same moment: exactly one gets it,
// the others find it spent, and the demand is claimed once.
func TestConcurrentClaims(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		rec := e.createDemand(e.staff(), needOf("周三下午托管"))
		const n = 6
		errs := make([]error, n)
		ctxs := make([]context.Context, n)
		for i := range n {
			ctxs[i] = e.resident(fmt.Sprintf("resident-%d", i))
		}
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { _, errs[i] = e.claim(ctxs[i], rec.GetFollowUpCode()) })
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won < 0:
				won = i
			case err == nil:
				t.Fatalf("residents %d and %d both claimed it", won, i)
			default:
				apierrtest.WantCode(t, err, codes.FailedPrecondition)
			}
		}
		if won < 0 {
			t.Fatal("nobody claimed it")
		}
		for i, ctx := range ctxs {
			if got := e.listNames(ctx); (i == won) != (len(got) == 1) {
				t.Errorf("resident %d lists %v", i, got)
			}
		}
		if entries := e.timeline(rec.GetName()); len(entries) != 2 {
			t.Fatalf("%d timeline entries, want the submission and one claim", len(entries))
		}
	})
}
