package escalation_test

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/signedurl"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand"
	"github.com/jiayuan/jiayuan/services/escalation"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
	"github.com/jiayuan/jiayuan/services/partner"
)

// Region codes of the demo tree (platform/region/demo/jiangnan.yaml) used by the tests.
const (
	district = "450105"
	jiangnan = "450105001" // 江南街道
	erqiao   = "450105001001"
	fujing   = "450105001002"
	nahong   = "450105003" // 那洪街道
	peihong  = "450105003001"
)

// cst is a moment in China Standard Time.
func cst(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, calendar.TimeZone())
}

// env is the escalation service with the demand service it follows and feeds (and the partner
// service demand needs), each assembled as in production on a real gRPC server over loopback
// with its own database on one back end. The escalation service's background work (its demand
// follower and sweeper) runs only when the test starts it (run), so that a test can stop it.
type env struct {
	t       *testing.T
	signer  *auth.DevSigner
	clock   *assemblytest.Clock
	cases   escalationv1.CaseServiceClient
	demands demandv1.DemandServiceClient
	svc     *escalation.Service
	db      *sqlstore.DB // escalation's
	dbURL   string
	demDB   *sqlstore.DB
	logs    *assemblytest.Logs
	dsvc    *demand.Service
	// stopDemand stops the demand service's followers (runDemand starts them again).
	stopDemand func()
	backend    sqlstoretest.Backend
}

// start builds the three services on backend b, the escalation service's clock at start.
func start(t *testing.T, b sqlstoretest.Backend, at time.Time, opts ...func(*escalation.Config)) *env {
	t.Helper()
	ctx := t.Context()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	logs := &assemblytest.Logs{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	tree := region.Demo()
	keys, err := personal.GenerateKeys("test")
	if err != nil {
		t.Fatal(err)
	}

	psvc, err := partner.Open(ctx, partner.Config{DB: sqlstoretest.OpenURL(t, b.NewURL(t)), Tree: tree, Keys: keys, Logger: log.With("service", "partner")})
	if err != nil {
		t.Fatal(err)
	}
	partnerSrv := assemblytest.Start(t, assemblytest.Config{Name: partner.Name, Signer: signer, Tree: tree, Logger: log, Policies: partner.Policies(), Register: psvc.Register})

	var mu sync.Mutex
	addrs := map[string]string{}
	addrOf := func(name string) func() string {
		return func() string {
			mu.Lock()
			defer mu.Unlock()
			return addrs[name]
		}
	}

	demDB := sqlstoretest.OpenURL(t, b.NewURL(t))
	photos, err := blob.NewDir(filepath.Join(t.TempDir(), "photos"))
	if err != nil {
		t.Fatal(err)
	}
	urlKey, err := signedurl.LoadOrCreate(filepath.Join(t.TempDir(), "photo-url-key"))
	if err != nil {
		t.Fatal(err)
	}
	dsvc, err := demand.Open(ctx, demand.Config{
		DB: demDB, Tree: tree, Keys: keys, Logger: log.With("service", "demand"),
		Partners: assemblytest.Dial(t, partnerSrv.Addr, assemblytest.SystemCreds(signer, "demand", district)),
		Cases:    assemblytest.DialLate(t, addrOf("escalation"), assemblytest.SystemCreds(signer, "demand", district)),
		Photos:   demand.Photos{Store: photos, Signer: urlKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	demandSrv := assemblytest.Start(t, assemblytest.Config{Name: demand.Name, Signer: signer, Tree: tree, Logger: log, Policies: demand.Policies(), Register: dsvc.Register})
	mu.Lock()
	addrs["demand"] = demandSrv.Addr
	mu.Unlock()

	clk := assemblytest.NewClock(at)
	dbURL := b.NewURL(t)
	db := sqlstoretest.OpenURL(t, dbURL)
	cfg := escalation.Config{
		DB: db, Tree: tree, Rules: rules.Demo(), Logger: log.With("service", "escalation"), Now: clk.Now,
		Demands: assemblytest.Dial(t, demandSrv.Addr, assemblytest.SystemCreds(signer, "escalation", district)), SweepInterval: time.Hour,
	}
	for _, o := range opts {
		o(&cfg)
	}
	esvc, err := escalation.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	escSrv := assemblytest.Start(t, assemblytest.Config{Name: escalation.Name, Signer: signer, Tree: tree, Logger: log, Policies: escalation.Policies(), Register: esvc.Register})
	mu.Lock()
	addrs["escalation"] = escSrv.Addr
	mu.Unlock()

	e := &env{
		t: t, signer: signer, clock: clk, svc: esvc, db: db, dbURL: dbURL, demDB: demDB, logs: logs, dsvc: dsvc, backend: b,
		cases:   escalationv1.NewCaseServiceClient(assemblytest.Dial(t, escSrv.Addr)),
		demands: demandv1.NewDemandServiceClient(assemblytest.Dial(t, demandSrv.Addr)),
	}
	// Demand follows partner and escalation until the test stops it.
	e.stopDemand = e.runDemand()
	return e
}

// runDemand starts the demand service's followers and returns a function stopping them.
func (e *env) runDemand() (stop func()) {
	return runUntilStopped(e.t, "demand.Run", e.dsvc.Run)
}

func runUntilStopped(t *testing.T, what string, run func(context.Context) error) func() {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-ran; err != nil {
				t.Errorf("%s: %v", what, err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// run starts the escalation service's background work (its demand follower; its sweeper runs
// once at start and then hourly, so tests sweep by hand) and returns a function stopping it.
func (e *env) run() (stop func()) {
	return runUntilStopped(e.t, "escalation.Run", e.svc.Run)
}

// secondReplica opens another escalation service on the same database, as a second replica.
func (e *env) secondReplica() *escalation.Service {
	e.t.Helper()
	svc, err := escalation.Open(e.t.Context(), escalation.Config{
		DB: sqlstoretest.OpenURL(e.t, e.dbURL), Tree: region.Demo(), Rules: rules.Demo(), Now: e.clock.Now, SweepInterval: time.Hour,
		Demands: assemblytest.Dial(e.t, "127.0.0.1:1"), Logger: slog.New(slog.NewJSONHandler(e.logs, nil)),
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

// forEachBackend runs fn on a fresh suite on every back end, the clock at at and the
// escalation service running.
func forEachBackend(t *testing.T, at time.Time, fn func(t *testing.T, e *env)) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			e := start(t, b, at)
			e.run()
			fn(t, e)
		})
	}
}

func (e *env) asPrincipal(p auth.Principal) context.Context {
	e.t.Helper()
	tok, err := e.signer.Token(p, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.t.Context(), 30*time.Second)
	e.t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// as returns a context carrying a token for a caller with role acting within scope.
func (e *env) as(role auth.Role, scope ...string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: "test-" + string(role) + "@" + strings.Join(scope, ","), Roles: []auth.Role{role}, Scope: scope})
}

// department is a caller of the district department id.
func (e *env) department(id string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: "dept-" + id, Roles: []auth.Role{auth.RoleDepartment}, Scope: []string{district}, Department: id})
}

func (e *env) staff(community string) context.Context {
	return e.as(auth.RoleCommunityStaff, community)
}
func (e *env) street(sub string) context.Context { return e.as(auth.RoleStreetOfficer, sub) }
func (e *env) districtOfficer() context.Context  { return e.as(auth.RoleDistrictOfficer, district) }
func (e *env) system() context.Context           { return e.as(auth.RoleSystem, district) }

// eventually polls cond until it holds, or fails the test after 15 seconds.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s\nlogs:\n%s", what, tail(e.logs.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// resident is the resident called subject, living in community.
func (e *env) resident(subject, community string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: subject, Roles: []auth.Role{auth.RoleResident}, Scope: []string{community}})
}

// problem files a PROBLEM demand online as the resident "res-<community>" and has the
// community's staff accept it.
func (e *env) problem(community string, category typev1.Category, title, description string, households int32) *demandv1.Demand {
	e.t.Helper()
	ctx := e.resident("res-"+community, community)
	resp, err := e.demands.CreateDemand(ctx, &demandv1.CreateDemandRequest{Demand: &demandv1.Demand{
		Kind: demandv1.DemandKind_DEMAND_KIND_PROBLEM, Category: category, Channel: demandv1.Channel_CHANNEL_ONLINE,
		Title: title, Description: description, CommunityCode: community, HouseholdsAffected: households,
		Reporter: &demandv1.Reporter{Name: "覃秀兰", Phone: "13907710021"},
	}})
	if err != nil {
		e.t.Fatalf("create %q: %v", title, err)
	}
	d := resp.GetDemand()
	if _, err := e.demands.ChangeDemandStatus(e.staff(community), &demandv1.ChangeDemandStatusRequest{
		Name: d.GetName(), Status: demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, Reply: "已受理",
	}); err != nil {
		e.t.Fatalf("accept %s: %v", d.GetName(), err)
	}
	return d
}

// toCase moves a demand to IN_CASE by hand, as community staff do.
func (e *env) toCase(community, demand string) {
	e.t.Helper()
	if _, err := e.demands.ChangeDemandStatus(e.staff(community), &demandv1.ChangeDemandStatusRequest{
		Name: demand, Status: demandv1.DemandStatus_DEMAND_STATUS_IN_CASE, Reply: "转入三色清单办理",
	}); err != nil {
		e.t.Fatalf("move %s to IN_CASE: %v", demand, err)
	}
}

// caseOf waits for the case of demand to exist and returns it, read by a district officer.
func (e *env) caseOf(demand string) *escalationv1.Case {
	e.t.Helper()
	var c *escalationv1.Case
	e.eventually("the case of "+demand, func() bool {
		resp, err := e.cases.ListCases(e.districtOfficer(), &escalationv1.ListCasesRequest{Filter: fmt.Sprintf("demand = %q", demand)})
		if err != nil {
			e.t.Fatal(err)
		}
		if len(resp.GetCases()) > 1 {
			e.t.Fatalf("%d cases for %s", len(resp.GetCases()), demand)
		}
		if len(resp.GetCases()) == 1 {
			c = resp.GetCases()[0]
		}
		return c != nil
	})
	return c
}

// get reads a case as a district officer.
func (e *env) get(name string) *escalationv1.Case {
	e.t.Helper()
	resp, err := e.cases.GetCase(e.districtOfficer(), &escalationv1.GetCaseRequest{Name: name})
	if err != nil {
		e.t.Fatalf("get %s: %v", name, err)
	}
	return resp.GetCase()
}

// timeline returns a demand's timeline, read by the system.
func (e *env) timeline(demand string) []*demandv1.TimelineEntry {
	e.t.Helper()
	resp, err := e.demands.ListTimelineEntries(e.system(), &demandv1.ListTimelineEntriesRequest{Parent: demand, PageSize: 1000})
	if err != nil {
		e.t.Fatalf("timeline of %s: %v", demand, err)
	}
	return resp.GetEntries()
}

// demand reads a demand as the system.
func (e *env) demand(name string) *demandv1.Demand {
	e.t.Helper()
	resp, err := e.demands.GetDemand(e.system(), &demandv1.GetDemandRequest{Name: name})
	if err != nil {
		e.t.Fatalf("get %s: %v", name, err)
	}
	return resp.GetDemand()
}

// history returns a case's events.
func (e *env) history(name string) []*escalationv1.CaseEvent {
	e.t.Helper()
	resp, err := e.cases.ListCaseEvents(e.districtOfficer(), &escalationv1.ListCaseEventsRequest{Parent: name, PageSize: 1000})
	if err != nil {
		e.t.Fatalf("history of %s: %v", name, err)
	}
	return resp.GetEvents()
}

// waitReplies waits until the demand's timeline holds every reply of its case's history (the
// demand service follows the escalation feed) and returns the timeline.
func (e *env) waitReplies(c *escalationv1.Case) []*demandv1.TimelineEntry {
	e.t.Helper()
	var want []string
	for _, ev := range e.history(c.GetName()) {
		if ev.GetReply() != "" {
			want = append(want, ev.GetReply())
		}
	}
	var tl []*demandv1.TimelineEntry
	e.eventually(fmt.Sprintf("%d replies on %s's timeline", len(want), c.GetDemand()), func() bool {
		tl = e.timeline(c.GetDemand())
		return len(replies(tl, want)) == len(want)
	})
	return tl
}

// replies returns the timeline entries whose message is one of want, in timeline order.
func replies(tl []*demandv1.TimelineEntry, want []string) []*demandv1.TimelineEntry {
	var out []*demandv1.TimelineEntry
	for _, en := range tl {
		for _, w := range want {
			if en.GetMessage() == w {
				out = append(out, en)
				break
			}
		}
	}
	return out
}
