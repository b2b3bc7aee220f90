// Package assemblytest starts a service in tests the way it runs in production: assembled by
// platform/assembly (authentication, policies, the coverage check, the shared services) on a
// real gRPC server over loopback, with callers' tokens minted by a dev signer.
//
//	srv := assemblytest.Start(t, assemblytest.Config{Name: partner.Name, Signer: signer,
//		Tree: tree, Policies: partner.Policies(), Register: svc.Register})
//	conn := assemblytest.Dial(t, srv.Addr)
package assemblytest

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jiayuan/jiayuan/platform/assembly"
	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
)

// Config is the service to start.
type Config struct {
	// Name names the service in errors.
	Name string
	// Signer mints the tests' tokens; the server verifies them with its key.
	Signer *auth.DevSigner
	// VerifierOptions tune the verifier (a clock, say).
	VerifierOptions []auth.VerifierOption
	Tree            *region.Tree
	// Logger receives the server's log; nil means slog.Default().
	Logger   *slog.Logger
	Policies auth.Policies
	Register func(grpc.ServiceRegistrar)
	// Audit is the service's audit trail, as the node's (optional).
	Audit *audit.Trail
	// MethodMaxRecvMsgSize raises the request size limit of the methods named, as the node
	// does for a service that asks (server.Options.MethodMaxRecvMsgSize).
	MethodMaxRecvMsgSize map[string]int
	// Limits are the node's rate limits and stream caps; nil means the production defaults.
	Limits *limits.Config
	// Server tunes the gRPC server; Start sets its Logger to Logger and, when zero, its
	// DrainDelay to none.
	Server server.Options
}

// Server is a started service.
type Server struct {
	*server.Server
	// Addr is where it listens (127.0.0.1 and a port the system picked).
	Addr string
	stop func()
}

// Stop stops the server without draining and waits for it. It is idempotent, and runs at the
// test's cleanup in any case; register cleanups that must run after it (closing the service's
// database) before calling Start.
func (s *Server) Stop() { s.stop() }

// Start assembles the service and serves it until Stop or the end of the test.
func Start(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	vopts := cfg.VerifierOptions
	if cfg.Logger != nil {
		vopts = append([]auth.VerifierOption{auth.WithLogger(cfg.Logger)}, vopts...)
	}
	verifier, err := auth.NewVerifier(ctx, cfg.Signer.VerifierConfig(), vopts...)
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	opts := cfg.Server
	opts.Logger = cfg.Logger
	if cfg.MethodMaxRecvMsgSize != nil {
		opts.MethodMaxRecvMsgSize = cfg.MethodMaxRecvMsgSize
	}
	if opts.DrainDelay == 0 {
		opts.DrainDelay = -1
	}
	srv, err := assembly.New(assembly.Config{
		Name: cfg.Name, Verifier: verifier, Tree: cfg.Tree, Policies: cfg.Policies, Register: cfg.Register, Audit: cfg.Audit,
		Limits: cfg.Limits, Server: opts,
	})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("serve %s at %s: %v", cfg.Name, lis.Addr(), err)
			}
		})
	}
	tb.Cleanup(stop)
	return &Server{Server: srv, Addr: lis.Addr().String(), stop: stop}
}

// Dial connects to a test server over loopback without TLS, as the services' harnesses do,
// and closes the connection at the end of the test.
func Dial(tb testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	conn, err := grpc.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	return conn
}

// DialLate connects to a server whose address is known only once it starts: two services
// that call each other (demand and escalation) are built one before the other listens. The
// connection is lazy, so addr is read at the first call.
func DialLate(tb testing.TB, addr func() string, opts ...grpc.DialOption) *grpc.ClientConn {
	tb.Helper()
	return Dial(tb, "passthrough:///late", append(opts, grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "tcp", addr())
	}))...)
}

// SystemCreds are a service's own credentials for calling its peers: a system caller of scope.
func SystemCreds(signer *auth.DevSigner, name string, scope ...string) grpc.DialOption {
	self := auth.Principal{Subject: "svc-" + name, Roles: []auth.Role{auth.RoleSystem}, Scope: scope}
	return grpc.WithPerRPCCredentials(auth.NewBearerCredentials(signer.TokenSource(self, time.Hour), true))
}

// Logs collects the log lines of the services a test starts, safe for their goroutines.
type Logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *Logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// String returns everything logged so far.
func (l *Logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Clock is a clock a test sets: the services' and sweepers' time (auth.WithClock,
// sweep.WithClock and the services' Now take its Now).
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the time set last.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
