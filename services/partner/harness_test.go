package partner_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/partner"
)

// Region codes of the demo tree used by the tests.
const (
	district = "450105"
	jiangnan = "450105001"
	erqiao   = "450105001001"
	erqiaoG1 = "450105001001001"
	fujing   = "450105001002"
	peihong  = "450105003001"
)

// env is a partner service assembled as in production (platform/assembly) on a real gRPC
// server over loopback, with a dev signer minting the
// callers' tokens.
type env struct {
	t      *testing.T
	signer *auth.DevSigner
	conn   *grpc.ClientConn
	client partnerv1.PartnerServiceClient
	feed   eventsv1.EventFeedServiceClient
	srv    *assemblytest.Server
	addr   string
	dbURL  string
	logs   *assemblytest.Logs
}

func startWithURL(t *testing.T, dbURL string, opts ...auth.VerifierOption) *env {
	t.Helper()
	ctx := context.Background()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	// Registered before the server starts, so it runs after the server has stopped.
	t.Cleanup(db.Close)
	logs := &assemblytest.Logs{}
	log := slog.New(slog.NewJSONHandler(logs, nil))
	keys, err := personal.GenerateKeys("test")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := partner.Open(ctx, partner.Config{DB: db, Tree: region.Demo(), Keys: keys, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	srv := assemblytest.Start(t, assemblytest.Config{
		Name: partner.Name, Signer: signer, VerifierOptions: opts, Tree: region.Demo(), Logger: log,
		Policies: partner.Policies(), Register: svc.Register,
	})
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &env{t: t, signer: signer, conn: conn, client: partnerv1.NewPartnerServiceClient(conn),
		feed: eventsv1.NewEventFeedServiceClient(conn), srv: srv, addr: srv.Addr, dbURL: dbURL, logs: logs}
}

// start runs the service on every back end.
func forEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) { fn(t, startWithURL(t, b.NewURL(t))) })
	}
}

// as returns a context carrying a token for a caller with role acting within scope.
func (e *env) as(role auth.Role, scope ...string) context.Context {
	return e.asPrincipal(auth.Principal{Subject: "test-" + string(role), Roles: []auth.Role{role}, Scope: scope})
}

func (e *env) asPrincipal(p auth.Principal) context.Context {
	e.t.Helper()
	tok, err := e.signer.Token(p, time.Hour)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.withToken(tok)
}

func (e *env) withToken(tok string) context.Context {
	ctx, cancel := context.WithTimeout(e.t.Context(), 20*time.Second)
	e.t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func (e *env) admin() context.Context { return e.as(auth.RoleAdmin, district) }
