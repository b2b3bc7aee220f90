package escalation_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/platform/webhook"
	"github.com/jiayuan/jiayuan/services/escalation"
)

// gateway is the district's messaging gateway, faked: it checks each call's signature and
// keeps what it was sent, once per Idempotency-Key.
type gateway struct {
	t      *testing.T
	secret []byte
	mu     sync.Mutex
	// now is the clock the calls are signed by (the service's, controlled by the test).
	now  func() time.Time
	got  []map[string]any
	seen map[string]bool
}

func newGateway(t *testing.T) (*gateway, *httptest.Server) {
	g := &gateway{t: t, secret: []byte("unit-gateway-secret-0123"), seen: map[string]bool{}, now: time.Now}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		now := g.now
		g.mu.Unlock()
		if err := webhook.Verify(g.secret, r.Header.Get(webhook.SignatureHeader), body, now(), 0); err != nil {
			t.Errorf("a call with a bad signature: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Errorf("body %s: %v", body, err)
		}
		g.mu.Lock()
		defer g.mu.Unlock()
		if key := r.Header.Get(webhook.IdempotencyHeader); !g.seen[key] {
			g.seen[key] = true
			g.got = append(g.got, m)
		}
	}))
	t.Cleanup(srv.Close)
	return g, srv
}

func (g *gateway) messages() []map[string]any {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]map[string]any(nil), g.got...)
}

// TestUnitsAreNotified: the unit responsible for a case hears of it — when the case is opened
// at its level, assigned to it (and to a person in it), moved up to it; when 80% of its limit
// has passed — through the district's messaging gateway with the contact rules.yaml gives it;
// a step that leaves the case where it was tells nobody again; a message that is not urgent
// waits for the end of quiet hours; a red case given to a department goes out at once.
func TestUnitsAreNotified(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			g, srv := newGateway(t)
			e := start(t, b, monday, func(c *escalation.Config) {
				c.Notify = escalation.NotifyConfig{WebhookURL: srv.URL, WebhookSecret: g.secret, AllowLoopbackHTTP: true,
					QuietHours: "22:00-07:00", PollInterval: 20 * time.Millisecond}
			})
			g.mu.Lock()
			g.now = e.clock.Now
			g.mu.Unlock()
			e.run()
			want := func(n int, kind, unit, contact string, urgent bool) map[string]any {
				t.Helper()
				e.eventually("unit notification "+kind, func() bool { return len(g.messages()) >= n })
				m := g.messages()[n-1]
				r, _ := m["recipient"].(map[string]any)
				got, _ := r["contact"].(string)
				if m["kind"] != kind || r["unit"] != unit || got != contact || r["kind"] != "UNIT" || m["urgent"] != urgent || m["message"] == "" {
					t.Fatalf("message %d = %v, want %s to %s (%s), urgent %v", n, m, kind, unit, contact, urgent)
				}
				return m
			}

			d := e.problem(erqiao, typev1.Category_CATEGORY_ENVIRONMENT, "楼道堆放杂物", "楼道长期堆放杂物", 12)
			e.toCase(erqiao, d.GetName())
			c := e.caseOf(d.GetName())
			m := want(1, "OPENED", "regions/"+erqiao, "wecom:erqiaoxi-community", false)
			if m["case"] != c.GetName() || m["acknowledge_deadline"] == nil || m["resolve_deadline"] == nil {
				t.Errorf("opened: %v", m)
			}
			// Given to a person in the same office: told again, naming them.
			if _, err := e.cases.AssignCase(e.staff(erqiao), &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "regions/" + erqiao, Assignee: "王主任"}); err != nil {
				t.Fatal(err)
			}
			m = want(2, "ASSIGNED", "regions/"+erqiao, "wecom:erqiaoxi-community", false)
			if r := m["recipient"].(map[string]any); r["assignee"] != "王主任" {
				t.Errorf("assigned: %v", m)
			}
			// The same assignment again changes nothing the unit needs to hear.
			if _, err := e.cases.AssignCase(e.staff(erqiao), &escalationv1.AssignCaseRequest{Name: c.GetName(), Unit: "regions/" + erqiao, Assignee: "王主任"}); err != nil {
				t.Fatal(err)
			}
			// 80% of the limit: warned.
			e.clock.Set(cst(2026, 11, 5, 12, 0))
			if _, err := e.svc.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
			want(3, "WARNED", "regions/"+erqiao, "wecom:erqiaoxi-community", false)
			// Escalated at midnight: the sub-district's office hears at seven.
			e.clock.Set(cst(2026, 11, 10, 0, 1))
			if _, err := e.svc.Sweep(t.Context()); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if n := len(g.messages()); n != 3 {
				t.Fatalf("%d messages during quiet hours, want 3 (the 4th held): %v", n, g.messages()[n-1])
			}
			e.clock.Set(cst(2026, 11, 10, 7, 1))
			want(4, "ESCALATED", "regions/"+jiangnan, "wecom:jiangnan-street-office", false)

			// A red case given to the power department at night: at once, to its contact.
			e.clock.Set(cst(2026, 11, 10, 23, 0))
			r := e.problem(fujing, typev1.Category_CATEGORY_SAFETY, "老旧变压器经常跳闸", "福临大厦的老旧变压器一开暖气就跳闸", 120)
			e.toCase(fujing, r.GetName())
			rc := e.caseOf(r.GetName())
			want(5, "OPENED", "regions/"+district, "wecom:jiangnan-district-office", true)
			if _, err := e.cases.AssignCase(e.districtOfficer(), &escalationv1.AssignCaseRequest{Name: rc.GetName(), Unit: "departments/power", Assignee: "李工"}); err != nil {
				t.Fatal(err)
			}
			want(6, "ASSIGNED", "departments/power", "wecom:jiangnan-power", true)
		})
	}
}
