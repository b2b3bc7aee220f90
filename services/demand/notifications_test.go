package demand_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/signedurl"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/platform/webhook"
	"github.com/jiayuan/jiayuan/services/demand"
)

// The district's messaging gateway, faked: the one thing outside our system these tests stand in for.

var hookSecret = []byte("district-gateway-shared-secret-0001")

// hookPayload is the documented JSON body (docs/notifications.md), decoded by field name.
type hookPayload struct {
	ID           string `json:"id"`
	Notification string `json:"notification"`
	Demand       string `json:"demand"`
	Message      string `json:"message"`
	Recipient    struct {
		Kind    string `json:"kind"`
		Subject string `json:"subject"`
		Phone   string `json:"phone"`
	} `json:"recipient"`
	Urgent     bool      `json:"urgent"`
	CreateTime time.Time `json:"create_time"`
}

type hookCall struct {
	key     string
	body    []byte
	payload hookPayload
	// sigErr is the receiver's verification of the signature.
	sigErr error
	at     time.Time
}

// gateway records every call and answers as answer says for the n-th (0-based): after delay,
// with code. Like a real gateway it sends a message once per Idempotency-Key: delivered
// counts the keys it acted on.
type gateway struct {
	srv    *httptest.Server
	now    func() time.Time
	answer func(n int) (delay time.Duration, code int)

	mu        sync.Mutex
	calls     []hookCall
	delivered map[string]int
}

func newGateway(t *testing.T, now func() time.Time, answer func(n int) (time.Duration, int)) *gateway {
	g := &gateway{now: now, answer: answer, delivered: map[string]int{}}
	if g.now == nil {
		g.now = time.Now
	}
	if g.answer == nil {
		g.answer = func(int) (time.Duration, int) { return 0, http.StatusOK }
	}
	g.srv = httptest.NewServer(http.HandlerFunc(g.serve))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	c := hookCall{key: r.Header.Get(webhook.IdempotencyHeader), body: body, at: time.Now(),
		sigErr: webhook.Verify(hookSecret, r.Header.Get(webhook.SignatureHeader), body, g.now(), 0)}
	_ = json.Unmarshal(body, &c.payload)
	g.mu.Lock()
	n := len(g.calls)
	g.calls = append(g.calls, c)
	g.mu.Unlock()
	if c.sigErr != nil {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	delay, code := g.answer(n)
	// The gateway acts on the call even when the caller has stopped waiting for it.
	time.Sleep(delay)
	if code >= 200 && code < 300 {
		g.mu.Lock()
		g.delivered[c.key]++
		g.mu.Unlock()
	}
	w.WriteHeader(code)
}

func (g *gateway) snapshot() ([]hookCall, map[string]int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := map[string]int{}
	for k, v := range g.delivered {
		d[k] = v
	}
	return slices.Clone(g.calls), d
}

// notifyConfig is a configuration sending to g quickly: retries after tens of milliseconds.
func (g *gateway) notifyConfig(maxAttempts int) demand.NotifyConfig {
	return demand.NotifyConfig{
		WebhookURL: g.srv.URL + "/sms/jiayuan", WebhookSecret: hookSecret, AllowLoopbackHTTP: true,
		WebhookTimeout: 2 * time.Second, MaxAttempts: maxAttempts,
		RetryBase: 40 * time.Millisecond, RetryMax: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond,
	}
}

// eventually polls cond for up to 10 seconds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (e *env) notifications(name string) []*demandv1.Notification {
	e.t.Helper()
	resp, err := e.client.ListNotifications(e.staff(), &demandv1.ListNotificationsRequest{Parent: name, PageSize: 1000})
	if err != nil {
		e.t.Fatalf("notifications of %s: %v", name, err)
	}
	return resp.GetNotifications()
}

func (e *env) reply(name, msg string) *demandv1.TimelineEntry {
	e.t.Helper()
	resp, err := e.client.ReplyToDemand(e.staff(), &demandv1.ReplyToDemandRequest{Name: name, Message: msg})
	if err != nil {
		e.t.Fatalf("reply to %s: %v", name, err)
	}
	return resp.GetEntry()
}

// noPhoneInLogs fails when a log line holds one of the phone numbers.
func (e *env) noPhoneInLogs(phones ...string) {
	e.t.Helper()
	logs := e.logs.String()
	for _, p := range phones {
		if strings.Contains(logs, p) {
			e.t.Errorf("the logs hold the phone number %s", p)
		}
	}
}

const reporterPhone = "13907710021"

// filedOnline is a problem the resident called subject filed online, leaving their phone.
func (e *env) filedOnline(subject, title string, urgency demandv1.Urgency) *demandv1.Demand {
	e.t.Helper()
	d := demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_ENVIRONMENT, demandv1.Channel_CHANNEL_ONLINE, title)
	d.Urgency = urgency
	return e.createDemand(e.resident(subject), d)
}

func TestReplyNotifiesEachFollowerOnce(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			g := newGateway(t, nil, nil)
			e := startWith(t, b, func(c *demand.Config) { c.Notify = g.notifyConfig(0) })
			d := e.filedOnline("res-reporter", "小区门口路灯不亮", demandv1.Urgency_URGENCY_NORMAL)
			for sub, notify := range map[string]bool{"res-asks": true, "res-quiet": false} {
				if _, err := e.client.SupportDemand(e.resident(sub), &demandv1.SupportDemandRequest{Name: d.GetName(), Notify: notify}); err != nil {
					t.Fatal(err)
				}
			}
			// Filing and supporting told nobody.
			if got := e.notifications(d.GetName()); len(got) != 0 {
				t.Fatalf("before any reply: %v", got)
			}
			entry := e.reply(d.GetName(), "已安排电工明天上午维修。")
			eventually(t, "two calls to the gateway", func() bool { calls, _ := g.snapshot(); return len(calls) >= 2 })
			ns := e.notifications(d.GetName())
			eventually(t, "both recorded sent", func() bool {
				ns = e.notifications(d.GetName())
				return len(ns) == 2 && ns[0].GetState() == demandv1.NotificationState_NOTIFICATION_STATE_SENT &&
					ns[1].GetState() == demandv1.NotificationState_NOTIFICATION_STATE_SENT
			})
			calls, delivered := g.snapshot()
			if len(calls) != 2 || len(delivered) != 2 {
				t.Fatalf("%d calls, %d messages; want one per follower, 2", len(calls), len(delivered))
			}
			want := map[string]string{"REPORTER": "res-reporter " + reporterPhone, "SUPPORTER": "res-asks "}
			for _, c := range calls {
				p := c.payload
				if c.sigErr != nil {
					t.Errorf("%s: signature: %v", p.ID, c.sigErr)
				}
				if got := p.Recipient.Subject + " " + p.Recipient.Phone; want[p.Recipient.Kind] != got {
					t.Errorf("a %s call to %q, want %q", p.Recipient.Kind, got, want[p.Recipient.Kind])
				}
				delete(want, p.Recipient.Kind)
				if c.key == "" || c.key != p.ID || !strings.HasSuffix(p.Notification, "/notifications/"+p.ID) ||
					p.Demand != d.GetName() || p.Urgent || p.CreateTime.IsZero() || !strings.Contains(p.Message, "已安排电工明天上午维修。") ||
					!strings.Contains(p.Message, "“小区门口路灯不亮”") {
					t.Errorf("call with key %q: %+v", c.key, p)
				}
			}
			for _, n := range ns {
				if n.GetTimelineEntry() != entry.GetName() || n.GetAttempts() != 1 || n.GetSendTime() == nil || n.GetLastError() != "" || n.GetNextAttemptTime() != nil {
					t.Errorf("recorded %v", n)
				}
				if n.GetRecipientKind() == demandv1.RecipientKind_RECIPIENT_KIND_REPORTER && n.GetRecipientPhone() != personal.MaskPhone(reporterPhone) {
					t.Errorf("the reporter's phone reads %q, want it masked", n.GetRecipientPhone())
				}
			}
			// A supporter who changes their mind is told of the next reply.
			if _, err := e.client.SupportDemand(e.resident("res-quiet"), &demandv1.SupportDemandRequest{Name: d.GetName(), Notify: true}); err != nil {
				t.Fatal(err)
			}
			e.reply(d.GetName(), "维修已完成，请查看。")
			eventually(t, "five calls", func() bool { calls, _ := g.snapshot(); return len(calls) >= 5 })
			time.Sleep(100 * time.Millisecond) // a few of the sender's polls: nothing more goes
			if calls, delivered := g.snapshot(); len(calls) != 5 || len(delivered) != 5 {
				t.Errorf("%d calls, %d messages after the second reply; want 5", len(calls), len(delivered))
			}
			// Paged like the timeline.
			page, err := e.client.ListNotifications(e.staff(), &demandv1.ListNotificationsRequest{Parent: d.GetName(), PageSize: 3})
			if err != nil || len(page.GetNotifications()) != 3 || page.GetNextPageToken() == "" {
				t.Fatalf("first page: %v, %v", page, err)
			}
			rest, err := e.client.ListNotifications(e.staff(), &demandv1.ListNotificationsRequest{Parent: d.GetName(), PageToken: page.GetNextPageToken()})
			if err != nil || len(rest.GetNotifications()) != 2 || rest.GetNextPageToken() != "" {
				t.Fatalf("second page: %v, %v", rest, err)
			}
			_, err = e.client.ListNotifications(e.staff(), &demandv1.ListNotificationsRequest{Parent: d.GetName(), PageToken: "nonsense"})
			apierrtest.WantCode(t, err, codes.InvalidArgument)
			// Staff of the demand's community only; residents see no outbox.
			_, err = e.client.ListNotifications(e.as(auth.RoleCommunityStaff, fujing), &demandv1.ListNotificationsRequest{Parent: d.GetName()})
			apierrtest.WantCode(t, err, codes.NotFound)
			_, err = e.client.ListNotifications(e.resident("res-reporter"), &demandv1.ListNotificationsRequest{Parent: d.GetName()})
			apierrtest.WantCode(t, err, codes.PermissionDenied)
			if _, err := e.client.ListNotifications(e.as(auth.RoleGridWorker, erqiaoG1), &demandv1.ListNotificationsRequest{Parent: d.GetName()}); err != nil {
				t.Errorf("a grid worker of the community: %v", err)
			}
			e.noPhoneInLogs(reporterPhone)
		})
	}
}

// TestFollowUpCodeSent: a need recorded for a resident who left a phone sends them its
// follow-up code; staff see that it went, not the code, and the code is nowhere at rest.
func TestFollowUpCodeSent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		g := newGateway(t, nil, nil)
		e := startWith(t, b, func(c *demand.Config) { c.Notify = g.notifyConfig(0) })
		created, err := e.client.CreateDemand(e.staff(), &demandv1.CreateDemandRequest{Demand: needOf("周三下午托管")})
		if err != nil {
			t.Fatal(err)
		}
		d := created.GetDemand()
		code := d.GetFollowUpCode()
		if code == "" || d.GetReporter().GetPhone() == "" {
			t.Fatalf("a need with a phone and a code, got %v", d)
		}
		eventually(t, "the code sent", func() bool {
			ns := e.notifications(d.GetName())
			return len(ns) == 1 && ns[0].GetState() == demandv1.NotificationState_NOTIFICATION_STATE_SENT
		})
		n := e.notifications(d.GetName())[0]
		if n.GetRecipientKind() != demandv1.RecipientKind_RECIPIENT_KIND_REPORTER || strings.Contains(n.GetMessage(), code) ||
			!strings.Contains(n.GetMessage(), "已隐藏") {
			t.Errorf("staff see %v; want the reporter's notification with the code hidden", n)
		}
		calls, _ := g.snapshot()
		if len(calls) != 1 || !strings.Contains(calls[0].payload.Message, code) || calls[0].payload.Recipient.Phone != d.GetReporter().GetPhone() {
			t.Fatalf("the gateway got %v; want one message with the code %s to the reporter's phone", calls, code)
		}
		digits := strings.ReplaceAll(code, " ", "")
		rows, err := e.db.Query(t.Context(), `SELECT data FROM demand_notifications`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var data []byte
			if err := rows.Scan(&data); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(data), digits) {
				t.Error("an outbox row holds the code in the clear")
			}
		}
	})
}

func TestNotificationRetried(t *testing.T) {
	eachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		// 500, 503, then 200.
		g := newGateway(t, nil, func(n int) (time.Duration, int) {
			return 0, []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusOK}[min(n, 2)]
		})
		e := startWith(t, b, func(c *demand.Config) { c.Notify = g.notifyConfig(0) })
		d := e.filedOnline("resident-1", "周三下午托管", demandv1.Urgency_URGENCY_NORMAL)
		e.reply(d.GetName(), "已受理，周三前联系您。")
		var n *demandv1.Notification
		eventually(t, "sent after two failures", func() bool {
			ns := e.notifications(d.GetName())
			n = ns[0]
			return len(ns) == 1 && n.GetState() == demandv1.NotificationState_NOTIFICATION_STATE_SENT
		})
		calls, delivered := g.snapshot()
		if len(calls) != 3 || n.GetAttempts() != 3 || len(delivered) != 1 {
			t.Fatalf("%d calls, %d attempts recorded, %d messages; want 3, 3, 1", len(calls), n.GetAttempts(), len(delivered))
		}
		for i, c := range calls {
			if c.key != calls[0].key || string(c.body) != string(calls[0].body) || c.sigErr != nil {
				t.Errorf("try %d: key %q, body %s, signature %v; want the first try's key and body, signed", i+1, c.key, c.body, c.sigErr)
			}
		}
		// Backed off: at least half of 40ms, then of 80ms, between the tries.
		if gap := calls[1].at.Sub(calls[0].at); gap < 20*time.Millisecond {
			t.Errorf("second try %v after the first", gap)
		}
		if gap := calls[2].at.Sub(calls[1].at); gap < 40*time.Millisecond {
			t.Errorf("third try %v after the second", gap)
		}
		e.noPhoneInLogs("13907710021")
	})
}

// TestNotificationLateSuccessNotSentTwice: the gateway takes longer than the sender waits,
// then acts on the call. The retry carries the same Idempotency-Key, so the gateway sends the
// message once; once recorded SENT the notification is never tried again.
func TestNotificationLateSuccessNotSentTwice(t *testing.T) {
	eachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		g := newGateway(t, nil, func(n int) (time.Duration, int) {
			if n == 0 {
				return 400 * time.Millisecond, http.StatusOK
			}
			return 0, http.StatusOK
		})
		e := startWith(t, b, func(c *demand.Config) {
			c.Notify = g.notifyConfig(0)
			c.Notify.WebhookTimeout = 100 * time.Millisecond
		})
		d := e.filedOnline("resident-1", "周三下午托管", demandv1.Urgency_URGENCY_NORMAL)
		e.reply(d.GetName(), "已受理，周三前联系您。")
		var n *demandv1.Notification
		eventually(t, "sent", func() bool {
			n = e.notifications(d.GetName())[0]
			return n.GetState() == demandv1.NotificationState_NOTIFICATION_STATE_SENT
		})
		// The first call ends at the gateway, which acts on it (for the second time by its
		// key); the sender, polling meanwhile, tries no more.
		eventually(t, "the late call to end", func() bool {
			_, delivered := g.snapshot()
			for _, n := range delivered {
				return n == 2
			}
			return false
		})
		time.Sleep(200 * time.Millisecond)
		calls, delivered := g.snapshot()
		if len(calls) != 2 || calls[0].key != calls[1].key {
			t.Fatalf("%d calls (keys %v); want 2 with one key", len(calls), keys(calls))
		}
		if delivered[calls[0].key] != 2 || len(delivered) != 1 {
			t.Errorf("the gateway acted on %v; want the one key, twice (and sent once, by its key)", delivered)
		}
		n = e.notifications(d.GetName())[0]
		if n.GetState() != demandv1.NotificationState_NOTIFICATION_STATE_SENT || n.GetAttempts() != 2 {
			t.Errorf("recorded %v; want SENT after 2 tries", n)
		}
	})
}

func keys(calls []hookCall) []string {
	var out []string
	for _, c := range calls {
		out = append(out, c.key)
	}
	return out
}

func TestNotificationFails(t *testing.T) {
	eachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		var refuse atomic.Bool // a 400 says the call itself is wrong: not retried
		g := newGateway(t, nil, func(int) (time.Duration, int) {
			if refuse.Load() {
				return 0, http.StatusBadRequest
			}
			return 0, http.StatusBadGateway
		})
		e := startWith(t, b, func(c *demand.Config) { c.Notify = g.notifyConfig(3) })
		d := e.filedOnline("resident-1", "周三下午托管", demandv1.Urgency_URGENCY_NORMAL)
		e.reply(d.GetName(), "已受理。")
		var n *demandv1.Notification
		eventually(t, "failed after 3 tries", func() bool {
			n = e.notifications(d.GetName())[0]
			return n.GetState() == demandv1.NotificationState_NOTIFICATION_STATE_FAILED
		})
		time.Sleep(200 * time.Millisecond)
		if calls, _ := g.snapshot(); len(calls) != 3 || n.GetAttempts() != 3 || n.GetSendTime() != nil ||
			!strings.Contains(n.GetLastError(), "502") || !strings.Contains(n.GetLastError(), "gave up after 3 tries") ||
			strings.Contains(n.GetLastError(), g.srv.URL) {
			t.Fatalf("%d calls; recorded %v", len(calls), n)
		}
		refuse.Store(true)
		e.reply(d.GetName(), "再次回复。")
		eventually(t, "refused at once", func() bool {
			ns := e.notifications(d.GetName())
			n = ns[len(ns)-1]
			return len(ns) == 2 && n.GetState() == demandv1.NotificationState_NOTIFICATION_STATE_FAILED
		})
		if calls, _ := g.snapshot(); len(calls) != 4 || n.GetAttempts() != 1 || !strings.Contains(n.GetLastError(), "400") {
			t.Errorf("%d calls; recorded %v", len(calls), n)
		}
		e.noPhoneInLogs("13907710021")
	})
}

func TestQuietHoursHoldNonUrgent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		cst := calendar.TimeZone()
		night := time.Date(2026, 3, 10, 23, 15, 0, 0, cst)
		morning := time.Date(2026, 3, 11, 7, 0, 0, 0, cst)
		c := assemblytest.NewClock(night)
		g := newGateway(t, c.Now, nil)
		e := startWith(t, b, func(cfg *demand.Config) {
			cfg.Now = c.Now
			cfg.Notify = g.notifyConfig(0)
			cfg.Notify.QuietHours = "22:00-07:00"
		})
		normal := e.filedOnline("res-1", "健身器材松动", demandv1.Urgency_URGENCY_NORMAL)
		urgent := e.filedOnline("res-2", "变压器冒火花", demandv1.Urgency_URGENCY_URGENT)
		e.reply(normal.GetName(), "明天派人查看。")
		e.reply(urgent.GetName(), "电工已出发。")
		eventually(t, "the urgent one sent at night", func() bool {
			return e.notifications(urgent.GetName())[0].GetState() == demandv1.NotificationState_NOTIFICATION_STATE_SENT
		})
		held := e.notifications(normal.GetName())[0]
		if held.GetState() != demandv1.NotificationState_NOTIFICATION_STATE_HELD || !held.GetNextAttemptTime().AsTime().Equal(morning) || held.GetAttempts() != 0 {
			t.Fatalf("the non-urgent one at night: %v; want HELD until %v", held, morning)
		}
		time.Sleep(100 * time.Millisecond) // polls at night send nothing more
		if calls, _ := g.snapshot(); len(calls) != 1 || !calls[0].payload.Urgent {
			t.Fatalf("%d calls at night; want the urgent one only", len(calls))
		}
		c.Set(morning)
		eventually(t, "the held one sent in the morning", func() bool {
			return e.notifications(normal.GetName())[0].GetState() == demandv1.NotificationState_NOTIFICATION_STATE_SENT
		})
		if calls, _ := g.snapshot(); len(calls) != 2 || calls[1].payload.Urgent || calls[1].sigErr != nil {
			t.Errorf("%d calls; want the held one second, signed", len(calls))
		}
	})
}

// TestNotificationsLoggedWithoutGateway: with no gateway (jiayuan dev) every notification is
// written to the log, the phone number masked, and recorded LOGGED.
func TestNotificationsLoggedWithoutGateway(t *testing.T) {
	e := start(t, sqlstoretest.SQLiteBackend())
	d := e.filedOnline("res-1", "楼道灯坏了", demandv1.Urgency_URGENCY_NORMAL)
	e.moveDemand(d.GetName(), demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, "已受理，明天维修。")
	var n *demandv1.Notification
	eventually(t, "logged", func() bool {
		ns := e.notifications(d.GetName())
		if len(ns) == 1 {
			n = ns[0]
		}
		return n != nil && n.GetState() == demandv1.NotificationState_NOTIFICATION_STATE_LOGGED
	})
	if n.GetSendTime() == nil || n.GetAttempts() != 1 || !strings.Contains(n.GetMessage(), "已受理") {
		t.Errorf("recorded %v", n)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "logged, not sent") || !strings.Contains(logs, personal.MaskPhone(reporterPhone)) {
		t.Errorf("the notification is not in the log: %s", logs)
	}
	e.noPhoneInLogs(reporterPhone)
}

// TestRefusedWriteNotifiesNobody: a reply or a move that is refused writes no notification.
func TestRefusedWriteNotifiesNobody(t *testing.T) {
	eachBackend(t, func(t *testing.T, b sqlstoretest.Backend) {
		g := newGateway(t, nil, nil)
		e := startWith(t, b, func(c *demand.Config) { c.Notify = g.notifyConfig(0) })
		d := e.filedOnline("res-1", "楼道灯坏了", demandv1.Urgency_URGENCY_NORMAL)
		_, err := e.client.ReplyToDemand(e.staff(), &demandv1.ReplyToDemandRequest{Name: d.GetName(), Message: "好"})
		apierrtest.WantCode(t, err, codes.InvalidArgument)
		_, err = e.client.ReplyToDemand(e.as(auth.RoleCommunityStaff, fujing), &demandv1.ReplyToDemandRequest{Name: d.GetName(), Message: "已受理"})
		apierrtest.WantCode(t, err, codes.NotFound)
		_, err = e.client.ChangeDemandStatus(e.staff(), &demandv1.ChangeDemandStatusRequest{
			Name: d.GetName(), Status: demandv1.DemandStatus_DEMAND_STATUS_CLOSED, Reply: "关闭"})
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
		_, err = e.client.ChangeDemandStatus(e.staff(), &demandv1.ChangeDemandStatusRequest{
			Name: d.GetName(), Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "已受理", Etag: "W/\"stale\""})
		apierrtest.WantCode(t, err, codes.Aborted)
		time.Sleep(100 * time.Millisecond)
		if got := e.notifications(d.GetName()); len(got) != 0 {
			t.Errorf("refused writes left %v", got)
		}
		if calls, _ := g.snapshot(); len(calls) != 0 {
			t.Errorf("refused writes made %d calls to the gateway", len(calls))
		}
	})
}

// TestWebhookMustBeHTTPS: a production start (no loopback allowance) refuses a webhook that is
// not https, and the other bad settings, with an error saying which.
func TestWebhookMustBeHTTPS(t *testing.T) {
	ctx := context.Background()
	db := sqlstoretest.OpenURL(t, sqlstoretest.SQLiteBackend().NewURL(t))
	keys, err := personal.GenerateKeys("test")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		notify demand.NotifyConfig
		want   string
	}{
		{"http", demand.NotifyConfig{WebhookURL: "http://sms.jiangnan.example/hook", WebhookSecret: hookSecret}, "must be https"},
		{"http to loopback in production", demand.NotifyConfig{WebhookURL: "http://127.0.0.1:8080/hook", WebhookSecret: hookSecret}, "must be https"},
		{"http elsewhere in a dev suite", demand.NotifyConfig{WebhookURL: "http://sms.jiangnan.example/hook", WebhookSecret: hookSecret, AllowLoopbackHTTP: true}, "loopback"},
		{"no secret", demand.NotifyConfig{WebhookURL: "https://sms.jiangnan.example/hook"}, "secret"},
		{"quiet hours", demand.NotifyConfig{QuietHours: "22-7"}, "quiet hours"},
	}
	photos, err := blob.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	urlKey, err := signedurl.LoadOrCreate(filepath.Join(t.TempDir(), "photo-url-key"))
	if err != nil {
		t.Fatal(err)
	}
	withPhotos := demand.Photos{Store: photos, Signer: urlKey}
	for _, tt := range tests {
		_, err := demand.Open(ctx, demand.Config{DB: db, Tree: region.Demo(), Partners: assemblytest.Dial(t, "127.0.0.1:1"), Keys: keys, Notify: tt.notify, Photos: withPhotos})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Open = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := demand.Open(ctx, demand.Config{DB: db, Tree: region.Demo(), Partners: assemblytest.Dial(t, "127.0.0.1:1"), Keys: keys, Photos: withPhotos,
		Notify: demand.NotifyConfig{WebhookURL: "https://sms.jiangnan.example/hook", WebhookSecret: hookSecret, QuietHours: "22:00-07:00"}}); err != nil {
		t.Errorf("an https webhook: %v", err)
	}
}

// eachBackend runs fn on every back end; fn starts its own services (startWith), configured
// as the test needs.
func eachBackend(t *testing.T, fn func(t *testing.T, b sqlstoretest.Backend)) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, b) })
	}
}
