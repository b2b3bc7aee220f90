package contract_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
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
	"github.com/jiayuan/jiayuan/services/contract"
	"github.com/jiayuan/jiayuan/services/demand"
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

// env is the contract service with the demand and partner services whose feeds it follows,
// each assembled as in production on a real gRPC server over loopback with its own database
// on one back end. The contract service's background work runs only when the test starts it.
type env struct {
	t         *testing.T
	keys      *auth.DevSigner
	clock     *assemblytest.Clock
	contracts contractv1.ContractServiceClient
	demands   demandv1.DemandServiceClient
	partners  partnerv1.PartnerServiceClient
	svc       *contract.Service
	db        *sqlstore.DB
	dbURL     string
	logs      *assemblytest.Logs
	dsvc      *demand.Service
	// ddb is the demand service's database.
	ddb       *sqlstore.DB
	psvc      *partner.Service
	demandAt  string
	partnerAt string
	// draftProject is the approved project hand-drafted contracts are for (createReq).
	draftProject string
	// groups counts the groups newParty registered.
	groups int
}

// start builds the three services on backend b, the contract service's clock at at.
// dormant sets the partner service's policy on inactive-partner alerts (default off).
func start(t *testing.T, b sqlstoretest.Backend, at time.Time, dormant ...bool) *env {
	t.Helper()
	ctx := t.Context()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	// One clock for contract and partner (which refuses activities dated after its today).
	clk := assemblytest.NewClock(at)
	logs := &assemblytest.Logs{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	tree := region.Demo()
	keys, err := personal.GenerateKeys("test")
	if err != nil {
		t.Fatal(err)
	}
	// Demand and partner follow contract's feed or call it, and contract theirs: contract's
	// address is known only once it starts, so their connections to it dial late.
	var contractAddr atomic.Value
	contractAddr.Store("127.0.0.1:1")
	lateContract := func(who string) *grpc.ClientConn {
		return assemblytest.DialLate(t, func() string { return contractAddr.Load().(string) }, assemblytest.SystemCreds(signer, who, district))
	}
	psvc, err := partner.Open(ctx, partner.Config{DB: sqlstoretest.OpenURL(t, b.NewURL(t)), Tree: tree, Keys: keys, Logger: log.With("service", "partner"),
		Contracts: lateContract("partner"), Now: clk.Now, DormantOnInactive: len(dormant) > 0 && dormant[0]})
	if err != nil {
		t.Fatal(err)
	}
	partnerSrv := assemblytest.Start(t, assemblytest.Config{Name: partner.Name, Signer: signer, Tree: tree, Logger: log, Policies: partner.Policies(), Register: psvc.Register})

	photos, err := blob.NewDir(filepath.Join(t.TempDir(), "photos"))
	if err != nil {
		t.Fatal(err)
	}
	urlKey, err := signedurl.LoadOrCreate(filepath.Join(t.TempDir(), "photo-url-key"))
	if err != nil {
		t.Fatal(err)
	}
	ddb := sqlstoretest.OpenURL(t, b.NewURL(t))
	dsvc, err := demand.Open(ctx, demand.Config{
		DB: ddb, Tree: tree, Keys: keys, Logger: log.With("service", "demand"),
		Partners: assemblytest.Dial(t, partnerSrv.Addr, assemblytest.SystemCreds(signer, "demand", district)),
		// No escalation service here: demand's follower of it retries in the background.
		Cases:     assemblytest.Dial(t, "127.0.0.1:1", assemblytest.SystemCreds(signer, "demand", district)),
		Photos:    demand.Photos{Store: photos, Signer: urlKey},
		Contracts: lateContract("demand"),
	})
	if err != nil {
		t.Fatal(err)
	}
	demandSrv := assemblytest.Start(t, assemblytest.Config{Name: demand.Name, Signer: signer, Tree: tree, Logger: log, Policies: demand.Policies(), Register: dsvc.Register})

	dbURL := b.NewURL(t)
	db := sqlstoretest.OpenURL(t, dbURL)
	csvc, err := contract.Open(ctx, contract.Config{
		DB: db, Tree: tree, Logger: log.With("service", "contract"), Now: clk.Now, SweepInterval: time.Hour,
		Demands:  assemblytest.Dial(t, demandSrv.Addr, assemblytest.SystemCreds(signer, "contract", district)),
		Partners: assemblytest.Dial(t, partnerSrv.Addr, assemblytest.SystemCreds(signer, "contract", district)),
	})
	if err != nil {
		t.Fatal(err)
	}
	csrv := assemblytest.Start(t, assemblytest.Config{Name: contract.Name, Signer: signer, Tree: tree, Logger: log, Policies: contract.Policies(), Register: csvc.Register})
	contractAddr.Store(csrv.Addr)
	return &env{
		t: t, keys: signer, clock: clk, svc: csvc, db: db, dbURL: dbURL, logs: logs, dsvc: dsvc, ddb: ddb, psvc: psvc,
		demandAt: demandSrv.Addr, partnerAt: partnerSrv.Addr,
		contracts: contractv1.NewContractServiceClient(assemblytest.Dial(t, csrv.Addr)),
		demands:   demandv1.NewDemandServiceClient(assemblytest.Dial(t, demandSrv.Addr)),
		partners:  partnerv1.NewPartnerServiceClient(assemblytest.Dial(t, partnerSrv.Addr)),
	}
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

// run starts the contract service's background work (its followers; its sweeper runs once at
// start and then hourly, so tests sweep by hand) and returns a function stopping it.
func (e *env) run() (stop func()) { return runUntilStopped(e.t, "contract.Run", e.svc.Run) }

// runPartner starts the partner service's background work (it follows contract's alerts).
func (e *env) runPartner() (stop func()) { return runUntilStopped(e.t, "partner.Run", e.psvc.Run) }

// runDemand starts the demand service's background work.
func (e *env) runDemand() (stop func()) { return runUntilStopped(e.t, "demand.Run", e.dsvc.Run) }

// forEachBackend runs fn on a fresh suite on every back end, the clock at at and the contract
// service running.
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
	tok, err := e.keys.Token(p, time.Hour)
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

func (e *env) staff(community string) context.Context {
	return e.as(auth.RoleCommunityStaff, community)
}
func (e *env) admin() context.Context  { return e.as(auth.RoleAdmin, district) }
func (e *env) system() context.Context { return e.as(auth.RoleSystem, district) }

// partnerUser is a user of the partner (or group) called name.
func (e *env) partnerUser(name string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: "user-of-" + name, Roles: []auth.Role{auth.RolePartner}, Scope: []string{district}, Partner: name})
}

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

// get reads a contract as an administrator of the district.
func (e *env) get(name string) *contractv1.Contract {
	e.t.Helper()
	resp, err := e.contracts.GetContract(e.admin(), &contractv1.GetContractRequest{Name: name})
	if err != nil {
		e.t.Fatalf("get %s: %v", name, err)
	}
	return resp.GetContract()
}

func wed(start, end string) *typev1.WeeklyWindow {
	return &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: start, EndTime: end}
}

// wantCode fails the test unless err has code c and, when field is set, names it.
func wantCode(t *testing.T, err error, c codes.Code, field string) {
	t.Helper()
	if status.Code(err) != c {
		t.Fatalf("got %v, want %v", err, c)
	}
	if field != "" && !strings.Contains(err.Error(), field) {
		t.Fatalf("%v does not name %s", err, field)
	}
}
