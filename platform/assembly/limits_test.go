package assembly_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	regionv1 "github.com/jiayuan/jiayuan/gen/jiayuan/region/v1"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// node is a service started as production assembles it: the region tree every node serves,
// and, when it has one, an event feed.
type node struct {
	t      testing.TB
	signer *auth.DevSigner
	addr   string
}

type nodeOptions struct {
	limits *limits.Config
	server server.Options
	// feed serves an event feed over a fresh SQLite database holding feedEvents events, so
	// that each Watch accepted answers at once, and reads and sends what a feed that has been
	// running a while would.
	feed bool
}

func startNode(t testing.TB, o nodeOptions) *node {
	t.Helper()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(t.TempDir(), "dev.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tree := region.Demo()
	register := func(grpc.ServiceRegistrar) {}
	policies := auth.Policies{}
	if o.feed {
		db := sqlstoretest.SQLiteBackend().Open(t)
		if err := db.Migrate(t.Context(), "", nil); err != nil {
			t.Fatal(err)
		}
		outbox := eventfeed.NewOutbox()
		if err := db.InTx(t.Context(), func(ctx context.Context, tx sqlstore.Tx) error {
			for i := range feedEvents {
				if _, err := outbox.Append(ctx, tx, fmt.Sprintf("partners/p%d", i), tree.Root().Code, wrapperspb.String(fmt.Sprintf("event %d of a feed that has been running a while", i))); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		feed := eventfeed.NewFeed(db, outbox, eventfeed.WithScope(tree), eventfeed.WithFeedLogger(quiet()))
		t.Cleanup(feed.Close)
		register = func(r grpc.ServiceRegistrar) { eventsv1.RegisterEventFeedServiceServer(r, feed) }
		policies[eventsv1.EventFeedService_Watch_FullMethodName] = auth.Allow(auth.RoleSystem, auth.RoleAdmin)
	}
	srv := assemblytest.Start(t, assemblytest.Config{Name: "limits", Signer: signer, Tree: tree, Logger: quiet(),
		Policies: policies, Register: register, Limits: o.limits, Server: o.server})
	return &node{t: t, signer: signer, addr: srv.Addr}
}

// feedEvents are the events in a test feed: four full batches of Watch.
const feedEvents = 2000

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// dial opens a connection of its own to the node.
func (n *node) dial() *grpc.ClientConn {
	n.t.Helper()
	conn, err := grpc.NewClient(n.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		n.t.Fatal(err)
	}
	n.t.Cleanup(func() { conn.Close() })
	return conn
}

// as returns a context calling as subject with role.
func (n *node) as(subject string, role auth.Role) context.Context {
	n.t.Helper()
	tok, err := n.signer.Token(auth.Principal{Subject: subject, Roles: []auth.Role{role}, Scope: []string{region.Demo().Root().Code}}, time.Hour)
	if err != nil {
		n.t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(n.t.Context(), "authorization", "Bearer "+tok)
}

// hammer makes calls calls of call from concurrency goroutines and counts the outcomes by code.
func hammer(calls, concurrency int, call func() error) (map[codes.Code]int, []error) {
	var (
		mu       sync.Mutex
		counts   = map[codes.Code]int{}
		refusals []error
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(calls) {
				err := call()
				mu.Lock()
				counts[status.Code(err)]++
				if status.Code(err) == codes.ResourceExhausted {
					refusals = append(refusals, err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return counts, refusals
}

// retryDelay is the RetryInfo delay of err, or -1 without one.
func retryDelay(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration()
		}
	}
	return -1
}

// TestResidentIsThrottledOfficialIsNot: 600 calls at 40-way concurrency from one resident are
// mostly refused, each refusal RESOURCE_EXHAUSTED saying when to retry, while another resident
// is untouched; the same from an official (and from a system principal) all succeed.
func TestResidentIsThrottledOfficialIsNot(t *testing.T) {
	n := startNode(t, nodeOptions{})
	client := regionv1.NewRegionServiceClient(n.dial())
	get := func(ctx context.Context) func() error {
		return func() error {
			_, err := client.GetRegion(ctx, &regionv1.GetRegionRequest{Name: "regions/450105"})
			return err
		}
	}

	start := time.Now()
	counts, refusals := hammer(600, 40, get(n.as("resident-1", auth.RoleResident)))
	elapsed := time.Since(start)
	// The burst of 20, then 5 a second for as long as the run took.
	allowed := 20 + int(5*elapsed.Seconds()) + 1
	if counts[codes.OK] > allowed || counts[codes.ResourceExhausted] != 600-counts[codes.OK] {
		t.Errorf("one resident, 600 calls at 40-way in %s: %v; want at most %d OK and the rest RESOURCE_EXHAUSTED", elapsed, counts, allowed)
	}
	for _, err := range refusals {
		if d := retryDelay(err); d <= 0 || d > time.Second {
			t.Fatalf("refusal %v: RetryInfo delay %s, want one within a second (5 a second)", err, d)
		}
	}
	t.Logf("one resident, 600 calls at 40-way concurrency in %s: %d OK, %d RESOURCE_EXHAUSTED", elapsed.Round(time.Millisecond), counts[codes.OK], counts[codes.ResourceExhausted])

	if err := get(n.as("resident-2", auth.RoleResident))(); err != nil {
		t.Errorf("another resident during the first's flood: %v", err)
	}
	for _, role := range []auth.Role{auth.RoleAdmin, auth.RoleCommunityStaff, auth.RoleSystem} {
		if counts, _ := hammer(600, 40, get(n.as("official-"+string(role), role))); counts[codes.OK] != 600 {
			t.Errorf("%s, 600 calls at 40-way: %v, want all OK", role, counts)
		}
	}
}

// TestRateLimitsAreConfigured: a deployment's own limits replace the defaults, role by role.
func TestRateLimitsAreConfigured(t *testing.T) {
	cfg := limits.DefaultConfig()
	cfg.Roles[auth.RoleCommunityStaff] = limits.Limit{Rate: 1, Burst: 3}
	cfg.Roles[auth.RoleResident] = limits.Unlimited
	n := startNode(t, nodeOptions{limits: &cfg})
	client := regionv1.NewRegionServiceClient(n.dial())
	for _, tc := range []struct {
		role auth.Role
		ok   int
	}{{auth.RoleCommunityStaff, 3}, {auth.RoleResident, 100}} {
		ctx := n.as("configured-"+string(tc.role), tc.role)
		counts, _ := hammer(100, 10, func() error {
			_, err := client.GetRegion(ctx, &regionv1.GetRegionRequest{Name: "regions/450105"})
			return err
		})
		// A second of the run may refill one more.
		if got := counts[codes.OK]; got < tc.ok || got > tc.ok+1 {
			t.Errorf("%s: %v, want %d OK", tc.role, counts, tc.ok)
		}
	}
}

// TestAuthFailuresAreSlowed: 300 calls with bad tokens from one address are answered
// UNAUTHENTICATED until the address's bucket of failures (20) is spent, then refused at once as
// RESOURCE_EXHAUSTED; a token verified before still works from there, while a fresh one waits
// for the bucket like everything else from that address.
func TestAuthFailuresAreSlowed(t *testing.T) {
	n := startNode(t, nodeOptions{})
	client := regionv1.NewRegionServiceClient(n.dial())
	working := n.as("staff-1", auth.RoleCommunityStaff)
	if _, err := client.GetRegion(working, &regionv1.GetRegionRequest{Name: "regions/450105"}); err != nil {
		t.Fatal(err)
	}
	forged := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl")
	start := time.Now()
	counts, refusals := hammer(300, 10, func() error {
		_, err := client.GetRegion(forged, &regionv1.GetRegionRequest{Name: "regions/450105"})
		return err
	})
	elapsed := time.Since(start)
	allowed := 20 + int(elapsed.Seconds()) + 1
	if counts[codes.Unauthenticated] > allowed || counts[codes.Unauthenticated] < 20 || counts[codes.ResourceExhausted] != 300-counts[codes.Unauthenticated] {
		t.Errorf("300 bad tokens from one address in %s: %v; want 20 to %d UNAUTHENTICATED and the rest RESOURCE_EXHAUSTED", elapsed, counts, allowed)
	}
	for _, err := range refusals {
		if d := retryDelay(err); d <= 0 || d > time.Second {
			t.Fatalf("refusal %v: RetryInfo delay %s", err, d)
		}
	}
	t.Logf("300 bad-token calls from one address in %s: %d UNAUTHENTICATED, %d RESOURCE_EXHAUSTED", elapsed.Round(time.Millisecond), counts[codes.Unauthenticated], counts[codes.ResourceExhausted])

	// No token at all counts as a failure too.
	if _, err := client.GetRegion(t.Context(), &regionv1.GetRegionRequest{Name: "regions/450105"}); status.Code(err) != codes.ResourceExhausted {
		t.Errorf("no token from the spent address: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := client.GetRegion(working, &regionv1.GetRegionRequest{Name: "regions/450105"}); err != nil {
		t.Errorf("a token verified before, from the spent address: %v", err)
	}
	// The public health check is no authentication: it still answers.
	if _, err := healthpb.NewHealthClient(n.dial()).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Errorf("health check from the spent address: %v", err)
	}
}

// TestWatchStreamsPerPrincipal: an admin holds at most 16 Watch streams open on a node; the
// 17th is refused RESOURCE_EXHAUSTED at once, and ending one frees its place. Another admin is
// not affected.
func TestWatchStreamsPerPrincipal(t *testing.T) {
	n := startNode(t, nodeOptions{feed: true})
	feed := eventsv1.NewEventFeedServiceClient(n.dial())
	open := func(ctx context.Context) (context.CancelFunc, error) {
		ctx, cancel := context.WithCancel(ctx)
		stream, err := feed.Watch(ctx, &eventsv1.WatchRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		if err != nil {
			cancel()
		}
		return cancel, err
	}
	admin := n.as("admin-1", auth.RoleAdmin)
	var cancels []context.CancelFunc
	for i := range limits.DefaultMaxStreams {
		cancel, err := open(admin)
		if err != nil {
			t.Fatalf("Watch %d: %v", i+1, err)
		}
		cancels = append(cancels, cancel)
	}
	_, err := open(admin)
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("Watch %d of one admin: %v, want RESOURCE_EXHAUSTED", limits.DefaultMaxStreams+1, err)
	}
	if _, err := open(n.as("admin-2", auth.RoleAdmin)); err != nil {
		t.Errorf("another admin's first Watch: %v", err)
	}
	cancels[0]()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cancel, err := open(admin)
		if err == nil {
			cancel()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after ending one Watch, another is still refused: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, c := range cancels[1:] {
		c()
	}
}

// TestStreamsPerConnection: one connection carries at most server.DefaultMaxConcurrentStreams
// streams at once; the next waits (HTTP/2 flow control: the client does not even send it)
// while a second connection is served.
func TestStreamsPerConnection(t *testing.T) {
	cfg := limits.DefaultConfig()
	cfg.MaxStreams, cfg.Anonymous = 10_000, limits.Unlimited // only the connection's cap here
	n := startNode(t, nodeOptions{limits: &cfg})
	health := healthpb.NewHealthClient(n.dial())
	open := func(client healthpb.HealthClient, wait time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), wait)
		stream, err := client.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		if err != nil {
			cancel()
			return err
		}
		t.Cleanup(cancel)
		return nil
	}
	for i := range server.DefaultMaxConcurrentStreams {
		if err := open(health, 10*time.Second); err != nil {
			t.Fatalf("health Watch %d: %v", i+1, err)
		}
	}
	if err := open(health, 300*time.Millisecond); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("stream %d on one connection: %v, want it held back (DEADLINE_EXCEEDED)", server.DefaultMaxConcurrentStreams+1, err)
	}
	if err := open(healthpb.NewHealthClient(n.dial()), 10*time.Second); err != nil {
		t.Errorf("a stream on a second connection: %v", err)
	}
}

// TestRSSWithAThousandWatches: 1,000 Watch attempts by one admin on one connection leave the
// process (client and server both) within 150 MB: 16 streams are served, the rest refused.
func TestRSSWithAThousandWatches(t *testing.T) {
	n := startNode(t, nodeOptions{feed: true})
	feed := eventsv1.NewEventFeedServiceClient(n.dial())
	admin := n.as("admin-1", auth.RoleAdmin)
	before := rssBytes(t)
	ctx, cancel := context.WithCancel(admin)
	defer cancel()
	var served, refused, other atomic.Int64
	// attempted is done when every attempt has its answer; the streams served stay open until
	// the end (wg), so their places are not freed for later attempts.
	var attempted, wg sync.WaitGroup
	for range 1000 {
		attempted.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			actx, acancel := context.WithTimeout(ctx, 20*time.Second)
			defer acancel()
			stream, err := feed.Watch(actx, &eventsv1.WatchRequest{})
			if err == nil {
				_, err = stream.Recv()
			}
			switch status.Code(err) {
			case codes.OK:
				served.Add(1)
			case codes.ResourceExhausted:
				refused.Add(1)
			default:
				other.Add(1)
			}
			attempted.Done()
			if err == nil {
				<-actx.Done()
			}
		}()
	}
	attempted.Wait()
	after := rssBytes(t)
	cancel()
	wg.Wait()
	t.Logf("1,000 Watch attempts on one connection: %d served, %d refused RESOURCE_EXHAUSTED, %d otherwise; RSS %s before, %s after (peak %s)%s",
		served.Load(), refused.Load(), other.Load(), mb(before), mb(after), mb(peakRSSBytes(t)), raceNote)
	if served.Load() != limits.DefaultMaxStreams || refused.Load() != 1000-limits.DefaultMaxStreams {
		t.Errorf("%d served, %d refused, %d otherwise; want %d served and the rest refused", served.Load(), refused.Load(), other.Load(), limits.DefaultMaxStreams)
	}
	if limit := int64(150 << 20); !raceEnabled && after > limit {
		t.Errorf("RSS %s after 1,000 Watch attempts, over 150 MB", mb(after))
	}
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }
