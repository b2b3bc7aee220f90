package demand_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/signedurl"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand"
	"github.com/jiayuan/jiayuan/services/partner"
)

// Region codes of the demo tree (platform/region/demo/jiangnan.yaml) used by the tests.
const (
	district = "450105"
	jiangnan = "450105001"
	erqiao   = "450105001001"
	erqiaoG1 = "450105001001001"
	erqiaoG2 = "450105001001002"
	fujing   = "450105001002"
	fujingG1 = "450105001002001"
	peihong  = "450105003001"
)

// env is a demand service and the partner service it calls, each assembled as in production
// (platform/assembly) on a real gRPC server over loopback with its own database on one back
// end, and a dev signer minting every caller's token. The demand service follows the partner feed (Service.Run) for the whole test.
type env struct {
	t        *testing.T
	signer   *auth.DevSigner
	client   demandv1.DemandServiceClient
	feed     eventsv1.EventFeedServiceClient
	partners partnerv1.PartnerServiceClient
	srv      *assemblytest.Server
	logs     *assemblytest.Logs
	// db is the demand service's database, where its audit records are.
	db *sqlstore.DB
	// trail is the demand node's audit trail; Flush writes its queued read records.
	trail *audit.Trail
	// stopPartner stops the partner service's server; the test's cleanup calls it too.
	stopPartner func()
	// photos is the demand service's photo store, a directory, and photoDir where it is.
	photos   blob.Store
	photoDir string
	// clock is the demand service's clock: the real time, moved forward by Advance.
	clock *offsetClock
}

// offsetClock is the real time plus an offset a test moves forward (to let a link expire).
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// start builds the pair on backend b; toPartnerOpts are extra options of the demand
// service's connection to partner. Cleanups run in reverse: the demand service's follower stops first,
// then its server, then the partner service, then the databases.
func start(t *testing.T, b sqlstoretest.Backend, toPartnerOpts ...grpc.DialOption) *env {
	t.Helper()
	return startWith(t, b, nil, toPartnerOpts...)
}

// startWith is start with the demand service's Config adjusted by configure (when not nil)
// before it opens: a messaging gateway, a clock.
func startWith(t *testing.T, b sqlstoretest.Backend, configure func(*demand.Config), toPartnerOpts ...grpc.DialOption) *env {
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

	partnerDB := sqlstoretest.OpenURL(t, b.NewURL(t))
	psvc, err := partner.Open(ctx, partner.Config{DB: partnerDB, Tree: tree, Keys: keys, Logger: log.With("service", "partner")})
	if err != nil {
		t.Fatal(err)
	}
	partnerSrv := assemblytest.Start(t, assemblytest.Config{
		Name: partner.Name, Signer: signer, Tree: tree, Logger: log, Policies: partner.Policies(), Register: psvc.Register,
	})
	partnerAddr := partnerSrv.Addr

	// The demand service calls as itself, a system caller of the whole district; plaintext is
	// allowed because the connection stays on loopback.
	self := auth.Principal{Subject: "svc-demand", Roles: []auth.Role{auth.RoleSystem}, Scope: []string{district}}
	toPartner := assemblytest.Dial(t, partnerAddr, append(toPartnerOpts, grpc.WithPerRPCCredentials(auth.NewBearerCredentials(signer.TokenSource(self, time.Hour), true)))...)

	demandDB := sqlstoretest.OpenURL(t, b.NewURL(t))
	clock := &offsetClock{}
	photoDir := filepath.Join(t.TempDir(), "photos")
	photos, err := blob.NewDir(photoDir)
	if err != nil {
		t.Fatal(err)
	}
	urlKey, err := signedurl.LoadOrCreate(filepath.Join(t.TempDir(), "photo-url-key"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := demand.Config{DB: demandDB, Tree: tree, Partners: toPartner, Keys: keys, Logger: log.With("service", "demand"),
		Photos: demand.Photos{Store: photos, Signer: urlKey}, Now: clock.Now}
	if configure != nil {
		configure(&cfg)
	}
	dsvc, err := demand.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	trail := audit.New(demandDB, log.With("service", "demand"))
	srv := assemblytest.Start(t, assemblytest.Config{
		Name: demand.Name, Signer: signer, Tree: tree, Logger: log, Policies: demand.Policies(), Register: dsvc.Register,
		Audit: trail, MethodMaxRecvMsgSize: dsvc.MethodMaxRecvMsgSize(),
	})
	demandAddr := srv.Addr

	runCtx, stopRun := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- dsvc.Run(runCtx) }()
	t.Cleanup(func() {
		stopRun()
		if err := <-ran; err != nil {
			t.Errorf("demand.Run: %v", err)
		}
	})

	conn := assemblytest.Dial(t, demandAddr)
	return &env{
		t: t, signer: signer, srv: srv, logs: logs, stopPartner: partnerSrv.Stop, db: demandDB, trail: trail,
		photos: photos, photoDir: photoDir, clock: clock,
		client:   demandv1.NewDemandServiceClient(conn),
		feed:     eventsv1.NewEventFeedServiceClient(conn),
		partners: partnerv1.NewPartnerServiceClient(assemblytest.Dial(t, partnerAddr)),
	}
}

// forEachBackend runs fn on a fresh pair of services on every back end.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, start(t, b)) })
	}
}

// as returns a context carrying a token for a caller with role acting within scope. The
// subject names both, so callers of one role in different places are different people.
func (e *env) as(role auth.Role, scope ...string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: "test-" + string(role) + "@" + strings.Join(scope, ","), Roles: []auth.Role{role}, Scope: scope})
}

// resident is the resident called subject, living in 二桥西.
func (e *env) resident(subject string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: subject, Roles: []auth.Role{auth.RoleResident}, Scope: []string{erqiao}})
}

func (e *env) asPrincipal(p auth.Principal) context.Context {
	e.t.Helper()
	tok, err := e.signer.Token(p, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.t.Context(), 20*time.Second)
	e.t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func (e *env) admin() context.Context  { return e.as(auth.RoleAdmin, district) }
func (e *env) staff() context.Context  { return e.as(auth.RoleCommunityStaff, erqiao) }
func (e *env) system() context.Context { return e.as(auth.RoleSystem, district) }
