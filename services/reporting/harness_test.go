package reporting_test

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/signedurl"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand"
	"github.com/jiayuan/jiayuan/services/escalation"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
	"github.com/jiayuan/jiayuan/services/partner"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// Region codes of the demo tree (platform/region/demo/jiangnan.yaml).
const (
	district = "450105"
	jiangnan = "450105001" // 江南街道
	erqiao   = "450105001001"
	fujing   = "450105001002"
	nahong   = "450105003" // 那洪街道
	peihong  = "450105003001"
)

// env is the reporting service following the real partner, demand and escalation services,
// each assembled as in production (assemblytest) on a real gRPC server over loopback with its
// own database on one back end.
type env struct {
	t        testing.TB
	signer   *auth.DevSigner
	logs     *assemblytest.Logs
	partners partnerv1.PartnerServiceClient
	demands  demandv1.DemandServiceClient
	cases    escalationv1.CaseServiceClient
	reports  reportingv1.ReportServiceClient
	svc      *reporting.Service
	db       *sqlstore.DB // reporting's
	addr     string       // reporting's
	sources  map[string]grpc.ClientConnInterface
	stop     func()
}

// start builds the four services on backend b and runs every follower.
func start(t testing.TB, b sqlstoretest.Backend) *env {
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
	escAddr := ""
	photos, err := blob.NewDir(filepath.Join(t.TempDir(), "photos"))
	if err != nil {
		t.Fatal(err)
	}
	urlKey, err := signedurl.LoadOrCreate(filepath.Join(t.TempDir(), "photo-url-key"))
	if err != nil {
		t.Fatal(err)
	}
	dsvc, err := demand.Open(ctx, demand.Config{
		DB: sqlstoretest.OpenURL(t, b.NewURL(t)), Tree: tree, Keys: keys, Logger: log.With("service", "demand"),
		Partners: assemblytest.Dial(t, partnerSrv.Addr, assemblytest.SystemCreds(signer, "demand", district)),
		Cases: assemblytest.DialLate(t, func() string {
			mu.Lock()
			defer mu.Unlock()
			return escAddr
		}, assemblytest.SystemCreds(signer, "demand", district)),
		Photos: demand.Photos{Store: photos, Signer: urlKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	demandSrv := assemblytest.Start(t, assemblytest.Config{Name: demand.Name, Signer: signer, Tree: tree, Logger: log, Policies: demand.Policies(), Register: dsvc.Register})
	esvc, err := escalation.Open(ctx, escalation.Config{
		DB: sqlstoretest.OpenURL(t, b.NewURL(t)), Tree: tree, Rules: rules.Demo(), Logger: log.With("service", "escalation"),
		Demands: assemblytest.Dial(t, demandSrv.Addr, assemblytest.SystemCreds(signer, "escalation", district)), SweepInterval: time.Hour,
	})
	if err != nil {
		t.Fatal(err)
	}
	escSrv := assemblytest.Start(t, assemblytest.Config{Name: escalation.Name, Signer: signer, Tree: tree, Logger: log, Policies: escalation.Policies(), Register: esvc.Register})
	mu.Lock()
	escAddr = escSrv.Addr
	mu.Unlock()
	runUntilStopped(t, "demand.Run", dsvc.Run)
	runUntilStopped(t, "escalation.Run", esvc.Run)

	sources := map[string]grpc.ClientConnInterface{
		reporting.SourcePartner:    assemblytest.Dial(t, partnerSrv.Addr, assemblytest.SystemCreds(signer, "reporting", district)),
		reporting.SourceDemand:     assemblytest.Dial(t, demandSrv.Addr, assemblytest.SystemCreds(signer, "reporting", district)),
		reporting.SourceEscalation: assemblytest.Dial(t, escSrv.Addr, assemblytest.SystemCreds(signer, "reporting", district)),
		// The contract service is not deployed: its source is retried, never fatal.
		reporting.SourceContract: assemblytest.Dial(t, "127.0.0.1:1", assemblytest.SystemCreds(signer, "reporting", district)),
	}
	db := sqlstoretest.OpenURL(t, b.NewURL(t))
	rsvc, err := reporting.Open(ctx, reporting.Config{DB: db, Tree: tree, Logger: log.With("service", "reporting"), Sources: sources})
	if err != nil {
		t.Fatal(err)
	}
	repSrv := assemblytest.Start(t, assemblytest.Config{Name: reporting.Name, Signer: signer, Tree: tree, Logger: log, Policies: reporting.Policies(), Register: rsvc.Register})
	e := &env{
		t: t, signer: signer, logs: logs, svc: rsvc, db: db, addr: repSrv.Addr, sources: sources,
		partners: partnerv1.NewPartnerServiceClient(assemblytest.Dial(t, partnerSrv.Addr)),
		demands:  demandv1.NewDemandServiceClient(assemblytest.Dial(t, demandSrv.Addr)),
		cases:    escalationv1.NewCaseServiceClient(assemblytest.Dial(t, escSrv.Addr)),
		reports:  reportingv1.NewReportServiceClient(assemblytest.Dial(t, repSrv.Addr)),
	}
	e.stop = runUntilStopped(t, "reporting.Run", rsvc.Run)
	return e
}

func runUntilStopped(t testing.TB, what string, run func(context.Context) error) func() {
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

// forEachBackend runs fn on a fresh suite on every back end.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, start(t, b)) })
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

// as is a caller with role acting within scope.
func (e *env) as(role auth.Role, scope ...string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: "test-" + string(role) + "@" + strings.Join(scope, ","), Roles: []auth.Role{role}, Scope: scope})
}

func (e *env) staff(community string) context.Context {
	return e.as(auth.RoleCommunityStaff, community)
}
func (e *env) districtOfficer() context.Context { return e.as(auth.RoleDistrictOfficer, district) }
func (e *env) admin() context.Context           { return e.as(auth.RoleAdmin, district) }
func (e *env) resident(community string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: "res-" + community, Roles: []auth.Role{auth.RoleResident}, Scope: []string{community}})
}

// eventually polls cond until it holds, or fails the test after 20 seconds.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s\nlogs:\n%s", what, e.logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// today is the local date now, the period of the tests.
func today() string { return time.Now().In(time.FixedZone("CST", 8*3600)).Format(time.DateOnly) }

func thisYear() *reportingv1.Period {
	t := today()
	return &reportingv1.Period{StartDate: t[:4] + "-01-01", EndDate: t}
}

// headline reads a region's figures this year as a district officer.
func (e *env) headline(code string) *reportingv1.Figures {
	e.t.Helper()
	resp, err := e.reports.GetHeadline(e.districtOfficer(), &reportingv1.GetHeadlineRequest{RegionCode: code, Period: thisYear()})
	if err != nil {
		e.t.Fatalf("headline of %s: %v", code, err)
	}
	return resp.GetFigures()
}

// waitFigures waits until code's figures equal want (compared by the fields want sets).
func (e *env) waitFigures(code string, want *reportingv1.Figures) *reportingv1.Figures {
	e.t.Helper()
	var got *reportingv1.Figures
	e.eventually("the figures of "+code, func() bool {
		got = e.headline(code)
		return proto.Equal(counts(got), want)
	})
	return got
}

// counts keeps the counts of f that the scripted history sets, for comparison.
func counts(f *reportingv1.Figures) *reportingv1.Figures {
	return &reportingv1.Figures{
		PartnerGroups: f.GetPartnerGroups(), Partners: f.GetPartners(), Projects: f.GetProjects(),
		MattersSolved: f.GetMattersSolved(), ServiceSessions: f.GetServiceSessions(), PeopleServed: f.GetPeopleServed(),
		VolunteerHours: f.GetVolunteerHours(), Demands: f.GetDemands(), CasesOpened: f.GetCasesOpened(),
		Escalations: f.GetEscalations(), CasesClosed: f.GetCasesClosed(), CasesOnTime: f.GetCasesOnTime(),
		ClosedUnresolved: f.GetClosedUnresolved(), Ratings: f.GetRatings(), SatisfiedRatings: f.GetSatisfiedRatings(),
		MeetingsHeld: f.GetMeetingsHeld(),
	}
}

// startCity serves a city rollup's instance as production does and returns its address.
func startCity(t *testing.T, e *env, svc *reporting.Rollup) string {
	srv := assemblytest.Start(t, assemblytest.Config{Name: "reporting-city", Signer: e.signer, Tree: region.Demo(),
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), Policies: reporting.Policies(), Register: svc.Register})
	return srv.Addr
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
