package chaos_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/gateway"
	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	reportingv1 "github.com/jiayuan/jiayuan/gen/jiayuan/reporting/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/internal/demo"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/grpcclient"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/platform/telemetry"
	"github.com/jiayuan/jiayuan/services/contract"
	"github.com/jiayuan/jiayuan/services/demand"
	"github.com/jiayuan/jiayuan/services/escalation"
	"github.com/jiayuan/jiayuan/services/partner"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// long reports whether the long versions run (JIAYUAN_CHAOS=long, `make chaos-faults`).
func long() bool { return os.Getenv("JIAYUAN_CHAOS") == "long" }

// longOn reports whether the long version runs on back end b: on PostgreSQL, production's,
// when the tests have it, else on SQLite; the other back end keeps the short version, so that
// `make chaos-faults` stays within its ten minutes.
func longOn(b sqlstoretest.Backend) bool {
	if !long() {
		return false
	}
	_, pg := os.LookupEnv(sqlstoretest.PostgresURLEnv)
	return b.Name == "postgres" || !pg
}

// clusterConfig is the suite a fault test runs.
type clusterConfig struct {
	// URL returns a fresh database for the service named.
	URL func(t *testing.T, service string) string
	// Replicas is how many replicas of each service run (at least 1), each on its own
	// address, all on the service's one database, as a Deployment's pods are.
	Replicas int
	// PoolSize is each PostgreSQL pool's size; 0 for the default.
	PoolSize int
	// Gateway also serves the REST gateway in front of every service.
	Gateway bool
	// DrainDelay is how long a stopping replica keeps serving with its health NOT_SERVING;
	// 0 for none.
	DrainDelay time.Duration
}

// cluster is the whole suite, every service as `jiayuan serve` runs it (suite.OpenNode and
// Node.Serve), their peers dialled as in production (suite.DialPeer: platform/grpcclient's
// retries and deadlines), over loopback. A service's callers resolve it to all its replicas,
// as a headless Kubernetes Service does, so one replica can be restarted while the others
// serve.
type cluster struct {
	t        *testing.T
	cfg      clusterConfig
	tree     *region.Tree
	signer   *auth.DevSigner
	verifier *auth.Verifier
	tel      *telemetry.Providers
	logger   *slog.Logger
	logs     *assemblytest.Logs
	keys     *personal.Keys
	photos   *suite.Photos
	urls     map[string]string
	addrs    map[string][]string
	peers    map[string]map[string]grpc.ClientConnInterface

	mu    sync.Mutex
	nodes map[string][]*replica

	// MetricsURL is the Prometheus page of every node (one meter provider, as `jiayuan dev`).
	MetricsURL string
	// GatewayURL is the REST gateway's base URL when clusterConfig.Gateway is set.
	GatewayURL string
}

// replica is one running node.
type replica struct {
	cancel context.CancelFunc
	exited chan struct{}
	err    error // Serve's result, once exited is closed
}

func startCluster(t *testing.T, cfg clusterConfig) *cluster {
	t.Helper()
	cfg.Replicas = max(cfg.Replicas, 1)
	ctx := t.Context()
	dir := t.TempDir()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(dir, "dev-signing-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := auth.NewVerifier(ctx, signer.VerifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	tel, shutdown, err := telemetry.Setup(ctx, "jiayuan-chaos", telemetry.WithPrometheus())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = shutdown(context.Background()) })
	keys, err := personal.GenerateKeys("chaos-1")
	if err != nil {
		t.Fatal(err)
	}
	photos, err := suite.DevPhotos(dir)
	if err != nil {
		t.Fatal(err)
	}
	logs := &assemblytest.Logs{}
	c := &cluster{
		t: t, cfg: cfg, tree: region.Demo(), signer: signer, verifier: verifier, tel: &tel, logs: logs,
		// Warnings and errors only: what an operator would be paged for; shown when a test fails.
		logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		keys:   keys, photos: photos,
		urls: map[string]string{}, addrs: map[string][]string{}, peers: map[string]map[string]grpc.ClientConnInterface{},
		nodes: map[string][]*replica{},
	}
	t.Cleanup(func() {
		if t.Failed() {
			// Every error (calls that failed, background work that did), once each, and the
			// tail of the warnings.
			out := logs.String()
			seen := map[string]bool{}
			var errs []string
			for _, line := range strings.Split(out, "\n") {
				if i := strings.Index(line, " level="); i >= 0 && (strings.Contains(line, "level=ERROR") || strings.Contains(line, "grpc.code=Internal") || strings.Contains(line, "grpc.code=Unknown")) {
					if key := line[i:]; !seen[key] && len(errs) < 60 {
						seen[key] = true
						errs = append(errs, line)
					}
				}
			}
			t.Logf("the services' errors:\n%s\nthe last warnings:\n%s", strings.Join(errs, "\n"), out[max(0, len(out)-3000):])
		}
	})

	// Every replica listens before any service is built: demand and escalation call each other.
	listeners := map[string][]net.Listener{}
	for _, spec := range suite.Services() {
		c.urls[spec.Name] = cfg.URL(t, spec.Name)
		for range cfg.Replicas {
			lis, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			listeners[spec.Name] = append(listeners[spec.Name], lis)
			c.addrs[spec.Name] = append(c.addrs[spec.Name], lis.Addr().String())
		}
	}
	var conns []*grpc.ClientConn
	// Registered first, so it runs last: after every node has stopped.
	t.Cleanup(func() {
		for _, conn := range conns {
			_ = conn.Close()
		}
	})
	for _, spec := range suite.Services() {
		c.peers[spec.Name] = map[string]grpc.ClientConnInterface{}
		for _, peer := range spec.Peers {
			creds := auth.NewBearerCredentials(signer.TokenSource(suite.ServicePrincipal(spec.Name, c.tree), time.Hour), true)
			conn, err := suite.DialPeer("chaos:///"+peer, c.tel, grpc.WithTransportCredentials(insecure.NewCredentials()),
				grpc.WithPerRPCCredentials(creds), grpc.WithResolvers(c.resolver(peer)))
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
			c.peers[spec.Name][peer] = conn
		}
	}
	t.Cleanup(c.stopAll)
	for _, spec := range suite.Services() {
		for i, lis := range listeners[spec.Name] {
			c.startReplica(spec.Name, i, lis)
		}
	}

	ml, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.MetricsURL = "http://" + ml.Addr().String() + "/metrics"
	mctx, mcancel := context.WithCancel(context.Background())
	mdone := make(chan struct{})
	go func() {
		defer close(mdone)
		_ = tel.ServeMetrics(mctx, ml, c.logger)
	}()
	t.Cleanup(func() { mcancel(); <-mdone })

	if cfg.Gateway {
		var upstreams []gateway.Upstream
		for _, spec := range suite.Services() {
			upstreams = append(upstreams, gateway.Upstream{
				Name: spec.Name, Target: "chaos:///" + spec.Name, Register: spec.RegisterGateway,
				DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(c.resolver(spec.Name))},
			})
		}
		gw, err := gateway.New(ctx, gateway.Options{Upstreams: upstreams, Logger: c.logger, Telemetry: c.tel,
			RouteBodyLimits: suite.GatewayBodyLimits(photos.MaxBytes)})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(gw.Handler())
		c.GatewayURL = hs.URL
		t.Cleanup(func() { hs.Close(); _ = gw.Close() })
	}
	return c
}

// resolver resolves a service to every replica's address. Addresses never change: a
// restarted replica listens where it did.
func (c *cluster) resolver(service string) resolver.Builder {
	r := manual.NewBuilderWithScheme("chaos")
	var addrs []resolver.Address
	for _, a := range c.addrs[service] {
		addrs = append(addrs, resolver.Address{Addr: a})
	}
	r.InitialState(resolver.State{Addresses: addrs})
	return r
}

// dial connects to a service as our clients do (platform/grpcclient: round robin over its
// replicas, retries of UNAVAILABLE within a budget, a deadline on every call).
func (c *cluster) dial(service string) *grpc.ClientConn {
	c.t.Helper()
	opts := append(grpcclient.DialOptions(0), grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(c.resolver(service)))
	conn, err := grpc.NewClient("chaos:///"+service, opts...)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// token mints a token for p, valid for the test.
func (c *cluster) token(p auth.Principal) string {
	c.t.Helper()
	tok, err := c.signer.Token(p, time.Hour)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

// as is ctx carrying p's token.
func (c *cluster) as(ctx context.Context, p auth.Principal) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+c.token(p))
}

// The callers of the tests: 二桥西's staff, who record residents' demands, and the district's
// officer, who reads the reports.
var (
	staff   = auth.Principal{Subject: "chaos-staff", Name: "二桥西社区工作人员", Roles: []auth.Role{auth.RoleCommunityStaff}, Scope: []string{demo.Erqiaoxi}}
	officer = auth.Principal{Subject: "chaos-officer", Name: "江南区干部", Roles: []auth.Role{auth.RoleDistrictOfficer}, Scope: []string{demo.District}}
)

// startReplica builds replica i of service as a new pod does (open and migrate the database,
// build the service), then serves it on lis, or, when lis is nil, on the replica's address.
func (c *cluster) startReplica(service string, i int, lis net.Listener) {
	c.t.Helper()
	spec, ok := suite.Lookup(service)
	if !ok {
		c.t.Fatalf("no service %s", service)
	}
	ctx, cancel := context.WithCancel(context.Background())
	node, err := suite.OpenNode(ctx, spec, suite.NodeConfig{
		DatabaseURL: c.urls[service], PoolSize: c.cfg.PoolSize, Tree: c.tree, Verifier: c.verifier, Logger: c.logger, Telemetry: c.tel,
		ServerOptions: server.Options{DrainDelay: c.drainDelay(), ShutdownTimeout: 10 * time.Second},
		Peers:         c.peers[service], Keys: c.keys, Photos: c.photos, Rules: "demo",
		SweepInterval: time.Second,
	})
	if err != nil {
		cancel()
		c.t.Fatalf("start %s/%d: %v", service, i, err)
	}
	if lis == nil {
		lis, err = listenAgain(c.addrs[service][i])
		if err != nil {
			cancel()
			node.DB.Close()
			c.t.Fatalf("start %s/%d: %v", service, i, err)
		}
	}
	r := &replica{cancel: cancel, exited: make(chan struct{})}
	go func() {
		defer close(r.exited)
		r.err = node.Serve(ctx, lis)
	}()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.nodes[service]) <= i {
		c.nodes[service] = append(c.nodes[service], nil)
	}
	c.nodes[service][i] = r
}

func (c *cluster) drainDelay() time.Duration {
	if c.cfg.DrainDelay == 0 {
		return -1
	}
	return c.cfg.DrainDelay
}

// listenAgain listens on addr, which a stopped replica has just released.
func listenAgain(addr string) (net.Listener, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		lis, err := net.Listen("tcp", addr)
		if err == nil || !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return lis, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopReplica stops replica i of service as Kubernetes stops a pod (its context ends: drain,
// graceful stop) and waits for it.
func (c *cluster) stopReplica(service string, i int) {
	c.t.Helper()
	c.mu.Lock()
	r := c.nodes[service][i]
	c.mu.Unlock()
	r.cancel()
	select {
	case <-r.exited:
	case <-time.After(60 * time.Second):
		c.t.Fatalf("%s/%d did not stop within a minute", service, i)
	}
	if r.err != nil {
		c.t.Errorf("%s/%d stopped with %v", service, i, r.err)
	}
}

// waitServing waits until replica i of service answers its health check SERVING.
func (c *cluster) waitServing(service string, i int) {
	c.t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+c.addrs[service][i], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close()
	health := healthpb.NewHealthClient(conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(c.t.Context(), time.Second)
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s/%d not serving after 30s: %v %v", service, i, resp, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkRunning fails the test for every replica that stopped by itself (a node whose
// background work failed stops: see suite.Node.Serve).
func (c *cluster) checkRunning() {
	c.t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for service, rs := range c.nodes {
		for i, r := range rs {
			select {
			case <-r.exited:
				c.t.Errorf("%s/%d stopped by itself: %v", service, i, r.err)
			default:
			}
		}
	}
}

func (c *cluster) stopAll() {
	c.mu.Lock()
	var all []*replica
	for _, rs := range c.nodes {
		all = append(all, rs...)
	}
	c.mu.Unlock()
	for _, r := range all {
		r.cancel()
	}
	for _, r := range all {
		select {
		case <-r.exited:
		case <-time.After(60 * time.Second):
			c.t.Error("a replica did not stop within a minute")
		}
	}
}

// load is a city's callers: workers that record residents' demands (creates with a request
// id, AIP-155) over gRPC and, every other one, through the REST gateway, read each one back,
// register partner groups now and then, and read every other service (cases, contracts,
// reports). It counts every call and every failure the callers saw.
type load struct {
	c   *cluster
	run string // prefix of every title and name this load writes
	// persist: a create answered UNAVAILABLE is sent again with its request id, a while later,
	// until it succeeds, as a client that keeps what it could not send does; otherwise every
	// error is a failure.
	persist bool
	rate    float64 // creates per second over all workers; 0 as fast as they go

	demands   demandv1.DemandServiceClient
	partners  partnerv1.PartnerServiceClient
	cases     escalationv1.CaseServiceClient
	contracts contractv1.ContractServiceClient
	reports   reportingv1.ReportServiceClient
	staffTok  string
	ctxStaff  context.Context
	ctxOff    context.Context

	seq           atomic.Int64
	calls, failed atomic.Int64
	// unavailable counts UNAVAILABLE answers (persist mode: retried, not failures).
	unavailable atomic.Int64

	mu       sync.Mutex
	demandOf map[string]string // acknowledged demand title → name
	groupOf  map[string]string // acknowledged partner group title → name
	errs     map[string]int    // failures by code and message
	// outages are the stretches in which the callers got UNAVAILABLE (down: since when, while
	// one lasts).
	outages []outage
	down    time.Time
}

// outage is a stretch in which callers got UNAVAILABLE, until the next success.
type outage struct{ from, to time.Time }

func newLoad(c *cluster, run string) *load {
	staffTok, offTok := c.token(staff), c.token(officer)
	return &load{
		c: c, run: run,
		demands:   demandv1.NewDemandServiceClient(c.dial(demand.Name)),
		partners:  partnerv1.NewPartnerServiceClient(c.dial(partner.Name)),
		cases:     escalationv1.NewCaseServiceClient(c.dial(escalation.Name)),
		contracts: contractv1.NewContractServiceClient(c.dial(contract.Name)),
		reports:   reportingv1.NewReportServiceClient(c.dial(reporting.Name)),
		staffTok:  staffTok,
		ctxStaff:  metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+staffTok),
		ctxOff:    metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+offTok),
		demandOf:  map[string]string{}, groupOf: map[string]string{}, errs: map[string]int{},
	}
}

// drive runs workers until ctx ends, then waits for the calls in flight.
func (l *load) drive(ctx context.Context, workers int) {
	var tick <-chan time.Time
	if l.rate > 0 {
		t := time.NewTicker(time.Duration(float64(time.Second) / l.rate))
		defer t.Stop()
		tick = t.C
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if tick != nil {
					select {
					case <-tick:
					case <-ctx.Done():
						return
					}
				}
				l.step(w)
			}
		})
	}
	wg.Wait()
}

// step is one caller's turn: a create, its read back, and a read of another service.
func (l *load) step(worker int) {
	// The gateway's deadline (30s), not the services' 10s: on a loaded test machine under the
	// race detector a call may be slow; what this counts is whether it fails. A persistent
	// caller's step outlasts its minute of sending again.
	timeout := 30 * time.Second
	if l.persist {
		timeout = 2 * time.Minute
	}
	asStaff, cancel := context.WithTimeout(l.ctxStaff, timeout)
	defer cancel()
	asOfficer, cancelOff := context.WithTimeout(l.ctxOff, timeout)
	defer cancelOff()
	n := l.seq.Add(1)
	title := fmt.Sprintf("%s 第%d号 楼道灯坏了", l.run, n)
	var name string
	var ok bool
	if l.c.GatewayURL != "" && n%2 == 0 {
		name, ok = l.createREST(title)
	} else {
		name, ok = l.createGRPC(asStaff, title)
	}
	if ok {
		l.record(func() error {
			resp, err := l.demands.GetDemand(asStaff, &demandv1.GetDemandRequest{Name: name})
			if err == nil && resp.GetDemand().GetTitle() != title {
				err = fmt.Errorf("read back %s: title %q, want %q", name, resp.GetDemand().GetTitle(), title)
			}
			return err
		})
	}
	switch n % 5 {
	case 0:
		group := fmt.Sprintf("%s 第%d号 志愿者队", l.run, n)
		var got string
		if l.persistent(func() error {
			resp, err := l.partners.CreatePartnerGroup(asStaff, &partnerv1.CreatePartnerGroupRequest{RequestId: uuid.NewString(),
				PartnerGroup: &partnerv1.PartnerGroup{DisplayName: group, Kind: partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM, RegionCode: demo.Erqiaoxi,
					RecruitmentChannel: partnerv1.RecruitmentChannel_RECRUITMENT_CHANNEL_JOINT_MEETING}})
			got = resp.GetPartnerGroup().GetName()
			return err
		}) {
			l.mu.Lock()
			l.groupOf[group] = got
			l.mu.Unlock()
		}
	case 1:
		l.record(func() error {
			_, err := l.cases.ListCases(asStaff, &escalationv1.ListCasesRequest{PageSize: 10})
			return err
		})
	case 2:
		l.record(func() error {
			_, err := l.contracts.ListContracts(asStaff, &contractv1.ListContractsRequest{PageSize: 10})
			return err
		})
	case 3:
		l.record(func() error {
			_, err := l.reports.GetHeadline(asOfficer, &reportingv1.GetHeadlineRequest{RegionCode: demo.District, Period: today()})
			return err
		})
	case 4:
		l.record(func() error {
			_, err := l.partners.ListPartnerGroups(asStaff, &partnerv1.ListPartnerGroupsRequest{PageSize: 10})
			return err
		})
	}
}

// today is the period of the reports the load reads: yesterday and today, China time.
func today() *reportingv1.Period {
	now := time.Now().In(time.FixedZone("CST", 8*3600))
	return &reportingv1.Period{StartDate: now.AddDate(0, 0, -1).Format(time.DateOnly), EndDate: now.Format(time.DateOnly)}
}

// problem is a resident's problem as 二桥西's staff record it: the escalation service opens a
// case for each.
func problem(title string) *demandv1.Demand {
	return &demandv1.Demand{
		Kind: demandv1.DemandKind_DEMAND_KIND_PROBLEM, Category: typev1.Category_CATEGORY_ENVIRONMENT, Channel: demandv1.Channel_CHANNEL_WALK_IN,
		Title: title, CommunityCode: demo.Erqiaoxi, Reporter: &demandv1.Reporter{Name: "覃秀兰", Phone: "13907710021"},
	}
}

func (l *load) createGRPC(ctx context.Context, title string) (string, bool) {
	var name string
	requestID := uuid.NewString()
	ok := l.persistent(func() error {
		resp, err := l.demands.CreateDemand(ctx, &demandv1.CreateDemandRequest{Demand: problem(title), RequestId: requestID})
		name = resp.GetDemand().GetName()
		return err
	})
	if ok {
		l.ack(title, name)
	}
	return name, ok
}

// createREST records the demand through the gateway, as the staff's web console does.
func (l *load) createREST(title string) (string, bool) {
	body, err := protojson.Marshal(problem(title))
	if err != nil {
		panic(err)
	}
	url := l.c.GatewayURL + "/v1/demands?requestId=" + uuid.NewString()
	var name string
	ok := l.persistent(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+l.staffTok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if resp.StatusCode != http.StatusOK {
			// The gateway's error body is a google.rpc.Status.
			st := &spb.Status{}
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, st); err != nil {
				return fmt.Errorf("HTTP %d: %s", resp.StatusCode, data)
			}
			return status.ErrorProto(st)
		}
		d := &demandv1.Demand{}
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, d); err != nil {
			return err
		}
		name = d.GetName()
		return nil
	})
	if ok {
		l.ack(title, name)
	}
	return name, ok
}

func (l *load) ack(title, name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.demandOf[title] = name
}

// record makes one call and counts it; in persist mode an UNAVAILABLE answer is counted
// apart, not as a failure.
func (l *load) record(call func() error) bool {
	l.calls.Add(1)
	err := call()
	l.note(err)
	if err != nil && l.persist && status.Code(err) == codes.Unavailable {
		// The database is away: the answer a caller may retry, not a failure.
		l.unavailable.Add(1)
		return false
	}
	if err != nil {
		l.failed.Add(1)
		l.mu.Lock()
		l.errs[status.Code(err).String()+": "+status.Convert(err).Message()]++
		l.mu.Unlock()
		return false
	}
	return true
}

// persistent makes a write; in persist mode an UNAVAILABLE answer is the caller's cue to send
// the same request again (its request id makes that safe) a little later, for up to a minute.
func (l *load) persistent(call func() error) bool {
	if !l.persist {
		return l.record(call)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		l.calls.Add(1)
		err := call()
		l.note(err)
		if err == nil {
			return true
		}
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			l.failed.Add(1)
			l.mu.Lock()
			l.errs[status.Code(err).String()+": "+status.Convert(err).Message()]++
			l.mu.Unlock()
			return false
		}
		l.unavailable.Add(1)
		time.Sleep(200 * time.Millisecond)
	}
}

// note times the outages: from the first UNAVAILABLE to the next success.
func (l *load) note(err error) {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case status.Code(err) == codes.Unavailable && l.down.IsZero():
		l.down = now
	case err == nil && !l.down.IsZero():
		l.outages = append(l.outages, outage{l.down, now})
		l.down = time.Time{}
	}
}

// longestOutage is the longest stretch in which the callers got UNAVAILABLE and nothing else
// succeeded.
func (l *load) longestOutage() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	var m time.Duration
	for _, o := range l.outages {
		m = max(m, o.to.Sub(o.from))
	}
	return m
}

// acked returns the demands and partner groups acknowledged so far, by title.
func (l *load) acked() (demands, groups map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.demandOf), maps.Clone(l.groupOf)
}

func (l *load) failures() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.errs)
}

// checkRows reads the databases back: every acknowledged demand and partner group is there
// once, under the name its caller was given; nothing this load wrote is there that was not
// acknowledged; every demand has its request id and its DemandSubmitted event, once each, and
// the reports count it once: no partial writes, no double effects. It returns the rows
// checked (demands and partner groups).
func (l *load) checkRows(t *testing.T) int {
	t.Helper()
	ctx := t.Context()
	demands, groups := l.acked()
	rows := 0

	db := sqlstoretest.OpenURL(t, l.c.urls[demand.Name])
	found := map[string][]string{}
	err := each(ctx, db, `SELECT name, data FROM demands`, nil, func(r sqlstore.Row) error {
		var name string
		var data []byte
		if err := r.Scan(&name, &data); err != nil {
			return err
		}
		d := &demandv1.Demand{}
		if err := proto.Unmarshal(data, d); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if strings.HasPrefix(d.GetTitle(), l.run+" ") {
			found[d.GetTitle()] = append(found[d.GetTitle()], name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for title, names := range found {
		rows += len(names)
		if want, ok := demands[title]; !ok || len(names) != 1 || names[0] != want {
			t.Errorf("demand %q: rows %v, acknowledged as %q (%v)", title, names, want, ok)
		}
	}
	for title := range demands {
		if _, ok := found[title]; !ok {
			t.Errorf("demand %q was acknowledged and is not in the database", title)
		}
	}
	count := func(db *sqlstore.DB, query string, args ...any) int {
		var n int
		if err := db.QueryRow(ctx, query, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, name := range demands {
		if n := count(db, `SELECT count(*) FROM events WHERE subject = $1 AND type = $2`, name, "jiayuan.demand.v1.DemandSubmitted"); n != 1 {
			t.Errorf("%s: %d DemandSubmitted events, want 1", name, n)
		}
	}
	if got, want := count(db, `SELECT count(*) FROM idempotency_keys WHERE method = $1`, demandv1.DemandService_CreateDemand_FullMethodName), len(demands); got != want {
		t.Errorf("%d request ids recorded for CreateDemand, want %d (one per acknowledged create)", got, want)
	}

	pdb := sqlstoretest.OpenURL(t, l.c.urls[partner.Name])
	gfound := map[string][]string{}
	if err := each(ctx, pdb, `SELECT name, display_name FROM parties WHERE display_name LIKE $1`, []any{l.run + " %"}, func(r sqlstore.Row) error {
		var name, title string
		if err := r.Scan(&name, &title); err != nil {
			return err
		}
		gfound[title] = append(gfound[title], name)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for title, names := range gfound {
		rows += len(names)
		if want, ok := groups[title]; !ok || len(names) != 1 || names[0] != want {
			t.Errorf("partner group %q: rows %v, acknowledged as %q (%v)", title, names, want, ok)
		}
	}
	if len(gfound) != len(groups) {
		t.Errorf("%d partner groups in the database, %d acknowledged", len(gfound), len(groups))
	}

	// The reports count every demand once: reporting's consumer followed demand's feed across
	// whatever the test did to either service or their databases, losing nothing and applying
	// nothing twice.
	reports := reportingv1.NewReportServiceClient(l.c.dial(reporting.Name))
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := reports.GetHeadline(l.ctxOff, &reportingv1.GetHeadlineRequest{RegionCode: demo.District, Period: today()})
		got := resp.GetFigures().GetDemands()
		if err == nil && got == int64(len(demands)) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the reports count %d demands (%v) a minute after the load, want %d", got, err, len(demands))
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return rows
}

// each runs fn on every row of the query.
func each(ctx context.Context, db *sqlstore.DB, query string, args []any, fn func(sqlstore.Row) error) error {
	rows, err := db.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
