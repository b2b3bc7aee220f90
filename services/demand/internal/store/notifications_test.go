package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
	"github.com/jiayuan/jiayuan/services/demand/migrations"
)

// TestNotifications runs the notification outbox on every back end.
func TestNotifications(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"Followers", testFollowers},
		{"SealedAtRest", testNotificationSealed},
		{"QuietHours", testNotificationQuietHours},
		{"Enqueue", testEnqueue},
		{"RolledBack", testNotificationRolledBack},
		{"ClaimAndFinish", testClaimAndFinish},
		{"ClaimConcurrently", testClaimConcurrently},
		{"ListPaging", testNotificationPaging},
		{"Rotate", testNotificationRotate},
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
	reply      = demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY
	statusMove = demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_STATUS_CHANGE
	pending    = demandv1.NotificationState_NOTIFICATION_STATE_PENDING
	held       = demandv1.NotificationState_NOTIFICATION_STATE_HELD
	sent       = demandv1.NotificationState_NOTIFICATION_STATE_SENT
	failed     = demandv1.NotificationState_NOTIFICATION_STATE_FAILED
	reporter   = demandv1.RecipientKind_RECIPIENT_KIND_REPORTER
	supporter  = demandv1.RecipientKind_RECIPIENT_KIND_SUPPORTER
)

// appendEntry appends an entry of kind to d's timeline in a transaction of its own, at base.
func appendEntry(t *testing.T, db *sqlstore.DB, s *store.Store, d *demandv1.Demand, kind demandv1.TimelineEntryKind, msg string) *demandv1.TimelineEntry {
	t.Helper()
	return appendEntryAt(t, db, s, d, kind, msg, base)
}

func appendEntryAt(t *testing.T, db *sqlstore.DB, s *store.Store, d *demandv1.Demand, kind demandv1.TimelineEntryKind, msg string, at time.Time) *demandv1.TimelineEntry {
	t.Helper()
	e := &demandv1.TimelineEntry{
		Name: d.GetName() + "/timelineEntries/" + newID(), Kind: kind, FromStatus: d.GetStatus(), ToStatus: d.GetStatus(),
		Message: msg, ActorRole: "community_staff", CreateTime: timestamppb.New(at),
	}
	if err := db.InTx(context.Background(), func(ctx context.Context, tx sqlstore.Tx) error {
		return s.AppendTimeline(ctx, tx, e)
	}); err != nil {
		t.Fatalf("append %v to %s: %v", kind, d.GetTitle(), err)
	}
	return e
}

func notifications(t *testing.T, db *sqlstore.DB, s *store.Store, demand string) []*demandv1.Notification {
	t.Helper()
	got, next, err := s.ListNotifications(context.Background(), db.Reads(), demand, 1000, "")
	if err != nil || next != "" {
		t.Fatalf("ListNotifications(%s) = %v, %q, %v", demand, got, next, err)
	}
	return got
}

// recipients describes the demand's notifications, oldest first: "REPORTER subject phone".
func recipients(t *testing.T, db *sqlstore.DB, s *store.Store, demand string) []string {
	t.Helper()
	var out []string
	for _, n := range notifications(t, db, s, demand) {
		var sub string
		if err := db.QueryRow(context.Background(), `SELECT subject FROM demand_notifications WHERE name = $1`, n.GetName()).Scan(&sub); err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(slices.DeleteFunc([]string{strings.TrimPrefix(n.GetRecipientKind().String(), "RECIPIENT_KIND_"), sub, n.GetRecipientPhone()},
			func(s string) bool { return s == "" }), " "))
	}
	return out
}

func testFollowers(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	// Filed online by res-r, who left a phone number; res-r also appears among the supporters
	// (a claim, say) and is still told once.
	d := newDemand("楼道灯坏了", erqiao, "", environ, accepted, base)
	d.Urgency = demandv1.Urgency_URGENCY_URGENT
	phoneOnly := newDemand("门禁坏了", erqiao, "", environ, accepted, base)
	accountOnly := newDemand("垃圾没人收", erqiao, "", environ, accepted, base)
	accountOnly.Reporter = nil
	anonymous := newDemand("井盖松动", erqiao, "", environ, accepted, base)
	anonymous.Reporter = &demandv1.Reporter{Anonymous: true}
	insert(t, db, map[string]string{d.GetTitle(): "res-r", accountOnly.GetTitle(): "res-a"}, d, phoneOnly, accountOnly, anonymous)
	for _, sup := range []struct {
		sub    string
		notify bool
	}{{"res-1", true}, {"res-2", false}, {"res-3", true}, {"res-r", true}} {
		if _, err := s.AddSupporter(ctx, db, d.GetName(), sup.sub, sup.notify); err != nil {
			t.Fatal(err)
		}
	}
	// The filing itself notified nobody (insert writes the first entry).
	if got := recipients(t, db, s, d.GetName()); len(got) != 0 {
		t.Fatalf("the filing notified %v", got)
	}
	e := appendEntry(t, db, s, d, reply, "明天上午更换灯泡")
	want := []string{"REPORTER res-r 13800001111", "SUPPORTER res-1", "SUPPORTER res-3"}
	if got := recipients(t, db, s, d.GetName()); !slices.Equal(got, want) {
		t.Fatalf("a reply notified %v, want %v", got, want)
	}
	for _, n := range notifications(t, db, s, d.GetName()) {
		if n.GetTimelineEntry() != e.GetName() || !n.GetUrgent() || n.GetState() != pending || n.GetAttempts() != 0 ||
			!n.GetCreateTime().AsTime().Equal(base) || !n.GetNextAttemptTime().AsTime().Equal(base) || n.GetSendTime() != nil {
			t.Errorf("notification %v", n)
		}
		if want := domain.NotificationText(d.GetTitle(), n.GetRecipientKind(), e); n.GetMessage() != want {
			t.Errorf("message %q, want %q", n.GetMessage(), want)
		}
	}
	// Residents' own acts notify nobody; staff's do.
	appendEntry(t, db, s, d, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_SUPPORT, "又有一位居民附议")
	appendEntry(t, db, s, d, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_RATING, "满意")
	if got := recipients(t, db, s, d.GetName()); len(got) != 3 {
		t.Fatalf("a support and a rating notified: %v", got)
	}
	appendEntry(t, db, s, d, statusMove, "已解决")
	appendEntry(t, db, s, d, demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_PROJECT_UPDATE, "项目实施中")
	if got := recipients(t, db, s, d.GetName()); len(got) != 9 {
		t.Fatalf("a status change and a project update: %d notifications, want 9: %v", len(got), got)
	}
	for _, tt := range []struct {
		d    *demandv1.Demand
		want []string
	}{
		{phoneOnly, []string{"REPORTER 13800001111"}},
		{accountOnly, []string{"REPORTER res-a"}},
		{anonymous, nil},
	} {
		appendEntry(t, db, s, tt.d, reply, "收到")
		if got := recipients(t, db, s, tt.d.GetName()); !slices.Equal(got, tt.want) {
			t.Errorf("%s: a reply notified %v, want %v", tt.d.GetTitle(), got, tt.want)
		}
		for _, n := range notifications(t, db, s, tt.d.GetName()) {
			if n.GetUrgent() {
				t.Errorf("%s: a NORMAL demand's notification is urgent", tt.d.GetTitle())
			}
		}
	}
}

func testNotificationSealed(t *testing.T, db *sqlstore.DB) {
	s := store.New(testKeys)
	d := withPersonal(newDemand("单元门禁坏了", erqiao, "", environ, accepted, base), "欧阳秀英", "13977710001", "二桥西路8号")
	insert(t, db, nil, d)
	appendEntry(t, db, s, d, reply, "已联系物业")
	ns := notifications(t, db, s, d.GetName())
	if len(ns) != 1 || ns[0].GetRecipientPhone() != "13977710001" {
		t.Fatalf("notifications %v", ns)
	}
	var data, sealed []byte
	if err := db.QueryRow(context.Background(), `SELECT data, personal FROM demand_notifications WHERE name = $1`, ns[0].GetName()).Scan(&data, &sealed); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte("13977710001")) || bytes.Contains(sealed, []byte("13977710001")) || bytes.Contains(data, []byte("欧阳秀英")) {
		t.Error("the phone number is stored in plaintext")
	}
	if id, err := personal.SealedWith(sealed); err != nil || id != testKeys.Current() {
		t.Errorf("sealed with %q (%v), want %s", id, err, testKeys.Current())
	}
	// Bound to its row: copied to another notification it does not open.
	other := appendEntry(t, db, s, d, reply, "再次联系")
	_ = other
	ns = notifications(t, db, s, d.GetName())
	if _, err := db.Exec(context.Background(), `UPDATE demand_notifications SET personal = $1 WHERE name = $2`, sealed, ns[1].GetName()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetNotification(context.Background(), db, ns[1].GetName()); err == nil {
		t.Error("a phone number sealed for another notification opened")
	}
}

func testNotificationQuietHours(t *testing.T, db *sqlstore.DB) {
	quiet, err := calendar.ParseQuietHours("22:00-07:00")
	if err != nil {
		t.Fatal(err)
	}
	var woken atomic.Int32
	s := store.New(testKeys, store.WithQuietHours(quiet), store.WithWake(func() { woken.Add(1) }))
	cst := calendar.TimeZone()
	night := time.Date(2026, 3, 10, 23, 30, 0, 0, cst)
	morning := time.Date(2026, 3, 11, 7, 0, 0, 0, cst)
	normal := newDemand("健身器材坏了", erqiao, "", environ, accepted, base)
	urgent := newDemand("变压器冒火花", erqiao, "", environ, accepted, base)
	urgent.Urgency = demandv1.Urgency_URGENCY_URGENT
	insert(t, db, nil, normal, urgent)
	for _, tt := range []struct {
		d     *demandv1.Demand
		at    time.Time
		state demandv1.NotificationState
		next  time.Time
	}{
		{normal, night, held, morning},
		{urgent, night, pending, night},
		{normal, morning, pending, morning},
	} {
		appendEntryAt(t, db, s, tt.d, reply, "收到", tt.at)
		ns := notifications(t, db, s, tt.d.GetName())
		n := ns[len(ns)-1]
		if n.GetState() != tt.state || !n.GetNextAttemptTime().AsTime().Equal(tt.next) {
			t.Errorf("%s at %v: %v due %v, want %v due %v", tt.d.GetTitle(), tt.at, n.GetState(), n.GetNextAttemptTime().AsTime(), tt.state, tt.next)
		}
	}
	if woken.Load() != 3 {
		t.Errorf("the sender was woken %d times, want once per transaction that wrote notifications (3)", woken.Load())
	}
	// Claimed at 23:45 only the urgent one goes; at 07:00 the held one is due.
	ctx := context.Background()
	got, err := s.ClaimNotifications(ctx, db, night.Add(15*time.Minute), true, time.Minute, 10)
	if err != nil || len(got) != 1 || got[0].Demand != urgent.GetName() {
		t.Fatalf("claimed during quiet hours: %v, %v; want the urgent one", got, err)
	}
	if ok, err := s.FinishNotification(ctx, db, got[0].Name, got[0].Lease, store.Outcome{State: sent, At: night}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if got, err := s.ClaimNotifications(ctx, db, morning, false, time.Minute, 10); err != nil || len(got) != 2 {
		t.Fatalf("claimed in the morning: %v, %v; want the held one and the morning's", got, err)
	}
}

func testEnqueue(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := newDemand("路灯不亮", erqiao, "", environ, accepted, base)
	insert(t, db, nil, d)
	ok := store.Outgoing{Demand: d.GetName(), Kind: reporter, Phone: "13800002222", Message: "您的回执码是 ABCD-EFGH", Time: base}
	var name string
	if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		var err error
		name, err = s.EnqueueNotification(ctx, tx, ok)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	n, err := s.GetNotification(ctx, db, name)
	if err != nil || n.GetRecipientPhone() != "13800002222" || n.GetMessage() != ok.Message || n.GetTimelineEntry() != "" ||
		n.GetRecipientKind() != reporter || n.GetState() != pending || !strings.HasPrefix(name, d.GetName()+"/notifications/") {
		t.Fatalf("enqueued %s: %v, %v", name, n, err)
	}
	if _, err := s.GetNotification(ctx, db, d.GetName()+"/notifications/"+newID()); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("a missing notification: %v", err)
	}
	for _, tt := range []struct {
		name string
		edit func(*store.Outgoing)
		want string
	}{
		{"no recipient", func(o *store.Outgoing) { o.Phone = "" }, "no recipient"},
		{"no message", func(o *store.Outgoing) { o.Message = " " }, "no message"},
		{"not a demand", func(o *store.Outgoing) { o.Demand = "projects/" + newID() }, "not a demand"},
		{"no kind", func(o *store.Outgoing) { o.Kind = 0 }, "recipient kind"},
		{"unknown kind", func(o *store.Outgoing) { o.Kind = 9 }, "recipient kind"},
	} {
		o := ok
		tt.edit(&o)
		if _, err := s.EnqueueNotification(ctx, db, o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: EnqueueNotification = %v, want %q", tt.name, err, tt.want)
		}
	}
	if got := notifications(t, db, s, d.GetName()); len(got) != 1 {
		t.Errorf("%d notifications after the refusals, want 1", len(got))
	}
}

// testNotificationRolledBack: an entry whose transaction fails leaves no notification.
func testNotificationRolledBack(t *testing.T, db *sqlstore.DB) {
	woken := false
	s := store.New(testKeys, store.WithWake(func() { woken = true }))
	d := newDemand("路灯不亮", erqiao, "", environ, accepted, base)
	insert(t, db, map[string]string{d.GetTitle(): "res-r"}, d)
	refused := errors.New("refused")
	err := db.InTx(context.Background(), func(ctx context.Context, tx sqlstore.Tx) error {
		if err := s.AppendTimeline(ctx, tx, &demandv1.TimelineEntry{
			Name: d.GetName() + "/timelineEntries/" + newID(), Kind: reply, Message: "收到", CreateTime: timestamppb.New(base),
		}); err != nil {
			return err
		}
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatal(err)
	}
	if got := notifications(t, db, s, d.GetName()); len(got) != 0 || woken {
		t.Errorf("a rolled back reply left %v (woken %v)", got, woken)
	}
}

func testClaimAndFinish(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := newDemand("路灯不亮", erqiao, "", environ, accepted, base)
	insert(t, db, map[string]string{d.GetTitle(): "res-r"}, d)
	for i := range 3 {
		appendEntryAt(t, db, s, d, reply, fmt.Sprintf("回复%d", i), base.Add(time.Duration(i)*time.Second))
	}
	now := base.Add(time.Minute)
	lease := 30 * time.Second
	first, err := s.ClaimNotifications(ctx, db, now, false, lease, 2)
	if err != nil || len(first) != 2 {
		t.Fatalf("first claim: %v, %v", first, err)
	}
	if first[0].Subject != "res-r" || first[0].Phone != "13800001111" || first[0].Kind != reporter || first[0].Attempts != 0 ||
		!first[0].CreateTime.Equal(base) || !strings.HasSuffix(first[0].Message, "回复0") || first[0].Demand != d.GetName() {
		t.Errorf("claimed %+v", first[0])
	}
	// Under a live lease nothing is claimed twice.
	second, err := s.ClaimNotifications(ctx, db, now, false, lease, 10)
	if err != nil || len(second) != 1 || second[0].Name == first[0].Name || second[0].Name == first[1].Name || second[0].Lease == first[0].Lease {
		t.Fatalf("second claim: %v, %v", second, err)
	}
	if got, err := s.ClaimNotifications(ctx, db, now, false, lease, 10); err != nil || len(got) != 0 {
		t.Fatalf("third claim: %v, %v", got, err)
	}
	// Sent: counted, stamped, never claimed or changed again.
	if ok, err := s.FinishNotification(ctx, db, first[0].Name, first[0].Lease, store.Outcome{State: sent, At: now, Err: "ignored"}); err != nil || !ok {
		t.Fatalf("finish sent: %v, %v", ok, err)
	}
	n, _ := s.GetNotification(ctx, db, first[0].Name)
	if n.GetState() != sent || n.GetAttempts() != 1 || !n.GetSendTime().AsTime().Equal(now) || n.GetLastError() != "" || n.GetNextAttemptTime() != nil {
		t.Errorf("after sending: %v", n)
	}
	if ok, err := s.FinishNotification(ctx, db, first[0].Name, first[0].Lease, store.Outcome{State: failed, Err: "late"}); err != nil || ok {
		t.Errorf("a second finish of a sent notification: %v, %v; want false", ok, err)
	}
	// A try that failed: due again later, with the error.
	retryAt := now.Add(time.Minute)
	if ok, err := s.FinishNotification(ctx, db, first[1].Name, first[1].Lease, store.Outcome{State: pending, Due: retryAt, Err: strings.Repeat("错", 400)}); err != nil || !ok {
		t.Fatalf("finish retry: %v, %v", ok, err)
	}
	n, _ = s.GetNotification(ctx, db, first[1].Name)
	if n.GetState() != pending || n.GetAttempts() != 1 || !n.GetNextAttemptTime().AsTime().Equal(retryAt) || len([]rune(n.GetLastError())) != 300 {
		t.Errorf("after a failed try: %v", n)
	}
	// A lease that ran out: the row is claimed again, and the old lease records nothing.
	later := now.Add(lease)
	again, err := s.ClaimNotifications(ctx, db, later, false, lease, 10)
	if err != nil || len(again) != 1 || again[0].Name != second[0].Name {
		t.Fatalf("claim after the lease: %v, %v; want %s", again, err, second[0].Name)
	}
	if ok, err := s.FinishNotification(ctx, db, second[0].Name, second[0].Lease, store.Outcome{State: sent, At: later}); err != nil || ok {
		t.Errorf("finish under a lost lease: %v, %v; want false", ok, err)
	}
	// Stopping: released, due at once.
	if err := s.ReleaseNotification(ctx, db, again[0].Name, again[0].Lease); err != nil {
		t.Fatal(err)
	}
	got, err := s.ClaimNotifications(ctx, db, later, false, lease, 10)
	if err != nil || len(got) != 1 || got[0].Name != second[0].Name {
		t.Fatalf("claim after a release: %v, %v", got, err)
	}
	if ok, err := s.FinishNotification(ctx, db, got[0].Name, got[0].Lease, store.Outcome{State: failed, Err: "the webhook answered HTTP 400"}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// The retried one comes back when due.
	if got, err := s.ClaimNotifications(ctx, db, retryAt.Add(-time.Second), false, lease, 10); err != nil || len(got) != 0 {
		t.Fatalf("claimed before due: %v, %v", got, err)
	}
	got, err = s.ClaimNotifications(ctx, db, retryAt, false, lease, 10)
	if err != nil || len(got) != 1 || got[0].Name != first[1].Name || got[0].Attempts != 1 {
		t.Fatalf("claim when due: %v, %v", got, err)
	}
	if _, err := s.FinishNotification(ctx, db, got[0].Name, got[0].Lease, store.Outcome{State: 0}); err == nil {
		t.Error("an outcome without a state was recorded")
	}
	states := map[demandv1.NotificationState]int{}
	for _, n := range notifications(t, db, s, d.GetName()) {
		states[n.GetState()]++
	}
	if states[sent] != 1 || states[failed] != 1 || states[pending] != 1 {
		t.Errorf("states %v", states)
	}
}

// testClaimConcurrently: senders claiming at once never take the same row.
func testClaimConcurrently(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := newDemand("路灯不亮", erqiao, "", environ, accepted, base)
	insert(t, db, map[string]string{d.GetTitle(): "res-r"}, d)
	for i := range 20 {
		appendEntry(t, db, s, d, reply, fmt.Sprintf("回复%d", i))
	}
	const senders = 4
	results := make(chan []store.Delivery, senders)
	errs := make(chan error, senders)
	for range senders {
		go func() {
			var mine []store.Delivery
			for {
				got, err := s.ClaimNotifications(ctx, db, base.Add(time.Minute), false, time.Minute, 3)
				if err != nil {
					errs <- err
					results <- mine
					return
				}
				if len(got) == 0 {
					errs <- nil
					results <- mine
					return
				}
				mine = append(mine, got...)
			}
		}()
	}
	seen := map[string]bool{}
	for range senders {
		if err := <-errs; err != nil {
			t.Error(err)
		}
		for _, d := range <-results {
			if seen[d.Name] {
				t.Errorf("%s claimed twice", d.Name)
			}
			seen[d.Name] = true
		}
	}
	if len(seen) != 20 {
		t.Errorf("%d claimed, want 20", len(seen))
	}
}

func testNotificationPaging(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := newDemand("路灯不亮", erqiao, "", environ, accepted, base)
	other := newDemand("门禁坏了", erqiao, "", environ, accepted, base)
	insert(t, db, map[string]string{d.GetTitle(): "res-r", other.GetTitle(): "res-o"}, d, other)
	for i := range 5 {
		appendEntry(t, db, s, d, reply, fmt.Sprintf("回复%d", i))
	}
	appendEntry(t, db, s, other, reply, "收到")
	var got []string
	token := ""
	for range 10 {
		page, next, err := s.ListNotifications(ctx, db.Reads(), d.GetName(), 2, token)
		if err != nil || len(page) > 2 {
			t.Fatalf("page: %v, %v", page, err)
		}
		for _, n := range page {
			got = append(got, n.GetMessage())
		}
		if next == "" {
			break
		}
		token = next
	}
	want := []string{}
	for i := range 5 {
		want = append(want, fmt.Sprintf("您反映的“路灯不亮”有新回复：回复%d", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged %v, want %v", got, want)
	}
	_, next, _ := s.ListNotifications(ctx, db, d.GetName(), 2, "")
	if _, _, err := s.ListNotifications(ctx, db, other.GetName(), 2, next); err == nil {
		t.Error("a page token of another demand was accepted")
	}
	if _, _, err := s.ListNotifications(ctx, db, d.GetName(), 2, "garbage"); err == nil {
		t.Error("a garbage page token was accepted")
	}
}

func testNotificationRotate(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	file, err := personal.NewKeyFile("old")
	if err != nil {
		t.Fatal(err)
	}
	oldRing, _ := personal.ParseKeys(file)
	old := store.New(oldRing)
	d := withPersonal(newDemand("路灯不亮", erqiao, "", environ, accepted, base), "张三", "13800009999", "某路1号")
	if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error { return old.InsertDemand(ctx, tx, d, "", nil) }); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		appendEntry(t, db, old, d, reply, "收到")
	}
	newFile, err := personal.AddKey(file, "new")
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := personal.ParseKeys(newFile)
	s := store.New(ring)
	// The demand and its three notifications.
	if n, err := s.Rotate(ctx, db, "", 2, nil); err != nil || n != 4 {
		t.Fatalf("Rotate = %d, %v; want 4", n, err)
	}
	rows, err := db.Query(ctx, `SELECT personal FROM demand_notifications`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var sealed []byte
		if err := rows.Scan(&sealed); err != nil {
			t.Fatal(err)
		}
		if !ring.IsCurrent(sealed) {
			t.Error("a notification's phone is not under the new key")
		}
	}
	for _, n := range notifications(t, db, s, d.GetName()) {
		if n.GetRecipientPhone() != "13800009999" {
			t.Errorf("after rotation %s reads phone %q", n.GetName(), n.GetRecipientPhone())
		}
	}
	if n, err := s.Rotate(ctx, db, "", 2, nil); err != nil || n != 0 {
		t.Fatalf("a second Rotate = %d, %v; want 0", n, err)
	}
	if n, err := s.SealLegacy(ctx, db, 10); err != nil || n != 0 {
		t.Fatalf("SealLegacy = %d, %v; want 0: every notification is written sealed", n, err)
	}
}
