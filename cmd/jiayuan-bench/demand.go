package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// demandBench is what the demand runs need from the partner runs before them.
type demandBench struct {
	cfg        config
	tree       *region.Tree
	signer     *auth.DevSigner
	verifier   *auth.Verifier
	partnerURL string              // the partner service's gRPC address
	partnerDB  string              // the partner service's database
	rawInsert  func(i int64) error // the single-row baseline, into the partner database
	partners   partnerv1.PartnerServiceClient
	admin      context.Context
	gen        *generator
	seq        *atomic.Int64
	measure    func(name string, op func(i int64) error) result
	// node is the partner node's configuration (tree, verifier, logger), reused for demand.
	node suite.NodeConfig
}

// labelled is a result with its name in the summary.
type labelled struct {
	label string
	result
}

// runDemand measures the demand service: SubmitDemand (CreateDemand) against the raw insert
// baseline, MatchPartners over the partner population, and the needs list at cfg.demands
// demands. It returns the results for the summary.
// creates holds, by round, the raw insert, the create's rows written raw and CreateDemand;
// lists the needs-list runs, each labelled by its scope and order.
func runDemand(ctx context.Context, b demandBench, dbURL string, out io.Writer) (creates [][]result, match result, lists []labelled, err error) {
	// The demand service reaches the partner service with its own system credentials, as it
	// does in a deployment.
	sysTok, err := b.signer.Token(auth.Principal{Subject: "svc-demand", Roles: []auth.Role{auth.RoleSystem}, Scope: []string{b.tree.Root().Code}}, 2*time.Hour)
	if err != nil {
		return
	}
	peer, err := grpc.NewClient(b.partnerURL, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(auth.NewBearerCredentials(func(context.Context) (string, error) { return sysTok, nil }, true)))
	if err != nil {
		return
	}
	defer peer.Close()
	// No escalation or contract service runs here: demand's followers of their feeds find
	// nobody at this address and retry quietly in the background, which the demand figures do
	// not include.
	noEscalation, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return
	}
	defer noEscalation.Close()
	spec, _ := suite.Lookup("demand")
	nc := b.node
	nc.DatabaseURL = dbURL
	nc.Peers = map[string]grpc.ClientConnInterface{"partner": peer, "escalation": noEscalation, "contract": noEscalation}
	nc.ServerOptions = server.Options{DrainDelay: -1}
	node, err := suite.OpenNode(ctx, spec, nc)
	if err != nil {
		return
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	go func() { _ = node.Serve(sctx, lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return
	}
	defer conn.Close()
	client := demandv1.NewDemandServiceClient(conn)
	// The node as configured, before the audit-off node changes nc.
	base := nc
	// A second node on the same database with the audit records off (log lines instead), so
	// that the records' cost is measured side by side, round by round, with the same data.
	var noAudit demandv1.DemandServiceClient
	// stopOff stops that node once the creates are measured: its connection pools would
	// otherwise count against the server's max_connections for the runs after them.
	stopOff := func() {}
	if b.cfg.auditOff {
		nc.AuditLogOnly = true
		var offNode *suite.Node
		if offNode, err = suite.OpenNode(ctx, spec, nc); err != nil {
			return
		}
		var offLis net.Listener
		if offLis, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return
		}
		offCtx, cancelOff := context.WithCancel(sctx)
		served := make(chan struct{})
		go func() { defer close(served); _ = offNode.Serve(offCtx, offLis) }()
		stopOff = func() { cancelOff(); <-served }
		defer stopOff()
		var offConn *grpc.ClientConn
		if offConn, err = grpc.NewClient(offLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials())); err != nil {
			return
		}
		defer offConn.Close()
		noAudit = demandv1.NewDemandServiceClient(offConn)
	}

	// Another node with its metrics on, as `jiayuan serve` runs by default (the Prometheus
	// exporter recording every instrument, its page scraped every second, thirty times as often
	// as the PodMonitor), beside the first, whose providers are no-ops: the metrics' cost.
	var withMetrics demandv1.DemandServiceClient
	stopMetricsNode := func() {}
	if b.cfg.metricsOn {
		var mclient demandv1.DemandServiceClient
		if mclient, stopMetricsNode, err = metricsNode(sctx, spec, base); err != nil {
			return
		}
		defer stopMetricsNode()
		withMetrics = mclient
	}

	// Matching considers ACTIVE partners only: activate the search population, the first
	// partners created; those the create runs added stay APPLIED (not measured).
	if err = activateFirst(b.admin, b.partners, b.cfg.concurrency, b.cfg.partners); err != nil {
		return
	}
	if err = analyze(ctx, b.partnerDB); err != nil {
		return
	}
	staff := func(community string) context.Context {
		tok, err := b.signer.Token(auth.Principal{Subject: "staff-" + community, Roles: []auth.Role{auth.RoleCommunityStaff}, Scope: []string{community}}, 2*time.Hour)
		if err != nil {
			panic(err) // the dev signer signing in memory does not fail
		}
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	staffCtx := map[string]context.Context{}
	for _, c := range b.gen.communities {
		staffCtx[c] = staff(c)
	}
	admin := b.admin

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return
	}
	defer pool.Close()
	runs := []named{
		{"baseline: raw pgx INSERT", b.rawInsert},
		{"baseline: raw pgx tx, CreateDemand's rows", func(i int64) error {
			return rawDemandTx(ctx, pool, b.gen.demand(i), i)
		}},
		{"gRPC CreateDemand (SubmitDemand)", func(i int64) error {
			d := b.gen.demand(i)
			_, err := client.CreateDemand(staffCtx[d.GetCommunityCode()], &demandv1.CreateDemandRequest{Demand: d, RequestId: uuid.NewString()})
			return err
		}},
	}
	if noAudit != nil {
		runs = append(runs, named{"gRPC CreateDemand, audit records off", func(i int64) error {
			d := b.gen.demand(i)
			_, err := noAudit.CreateDemand(staffCtx[d.GetCommunityCode()], &demandv1.CreateDemandRequest{Demand: d, RequestId: uuid.NewString()})
			return err
		}})
	}
	if withMetrics != nil {
		runs = append(runs, named{"gRPC CreateDemand, metrics on", func(i int64) error {
			d := b.gen.demand(i)
			_, err := withMetrics.CreateDemand(staffCtx[d.GetCommunityCode()], &demandv1.CreateDemandRequest{Demand: d, RequestId: uuid.NewString()})
			return err
		}})
	}
	creates = rounds(b.cfg.rounds, b.measure, runs...)
	stopOff()
	stopMetricsNode()
	// Fill the needs list to its population (not measured).
	var count int64
	if err = countDemands(admin, client, &count); err != nil {
		return
	}
	if err = parallel(b.cfg.concurrency, int(int64(b.cfg.demands)-count), func() error {
		d := b.gen.demand(b.seq.Add(1))
		_, err := client.CreateDemand(staffCtx[d.GetCommunityCode()], &demandv1.CreateDemandRequest{Demand: d})
		return err
	}); err != nil {
		return
	}
	if err = analyze(ctx, dbURL); err != nil {
		return
	}
	// The three lists in turn, round after round; each p99 is the median of its rounds.
	listRounds := rounds(b.cfg.rounds, b.measure,
		named{fmt.Sprintf("gRPC ListDemands, a community (%d demands)", b.cfg.demands), func(i int64) error {
			c := b.gen.communities[int(i)%len(b.gen.communities)]
			_, err := client.ListDemands(staffCtx[c], &demandv1.ListDemandsRequest{PageSize: 20, Filter: "status = SUBMITTED"})
			return err
		}},
		// The weekly meeting's view: what is most urgent first.
		named{fmt.Sprintf("gRPC ListDemands, a community, urgent first (%d)", b.cfg.demands), func(i int64) error {
			c := b.gen.communities[int(i)%len(b.gen.communities)]
			_, err := client.ListDemands(staffCtx[c], &demandv1.ListDemandsRequest{PageSize: 20, Filter: "status = SUBMITTED", OrderBy: "urgency desc"})
			return err
		}},
		named{fmt.Sprintf("gRPC ListDemands, the district (%d demands)", b.cfg.demands), func(i int64) error {
			_, err := client.ListDemands(admin, &demandv1.ListDemandsRequest{PageSize: 20})
			return err
		}})
	listCommunity, listUrgent, listDistrict := medianOf(listRounds[0]), medianOf(listRounds[1]), medianOf(listRounds[2])
	for _, l := range []result{listCommunity, listUrgent, listDistrict} {
		fmt.Fprintln(out, l)
	}
	lists = []labelled{{"a community", listCommunity}, {"a community urgent first", listUrgent}, {"the district", listDistrict}}

	// One approved project per community and category, matched in turn.
	var projects []string
	for i, c := range b.gen.communities {
		for cat := 1; cat <= 12; cat++ {
			p, perr := client.CreateProject(staffCtx[c], &demandv1.CreateProjectRequest{Project: b.gen.project(int64(i*12+cat), c, typev1.Category(cat))})
			if perr != nil {
				err = perr
				return
			}
			if _, err = client.ChangeProjectStatus(staffCtx[c], &demandv1.ChangeProjectStatusRequest{
				Name: p.GetProject().GetName(), Status: demandv1.ProjectStatus_PROJECT_STATUS_APPROVED, Reply: "项目已批准，开始匹配合伙人。",
			}); err != nil {
				return
			}
			projects = append(projects, p.GetProject().GetName())
		}
	}
	matches := rounds(b.cfg.rounds, b.measure, named{fmt.Sprintf("gRPC MatchPartners (%d active partners)", b.cfg.partners), func(i int64) error {
		resp, err := client.MatchPartners(admin, &demandv1.MatchPartnersRequest{Name: projects[int(i)%len(projects)]})
		if err == nil && len(resp.GetCandidates()) == 0 {
			return fmt.Errorf("no candidates for %s", projects[int(i)%len(projects)])
		}
		return err
	}})
	match = medianOf(matches[0])
	fmt.Fprintln(out, match)
	// The same from one caller: its latency without queueing behind the others.
	single := measureRun(ctx, b.cfg.profileDir, "gRPC MatchPartners, one caller", 1, b.cfg.warmup, b.cfg.duration, func() error {
		_, err := client.MatchPartners(admin, &demandv1.MatchPartnersRequest{Name: projects[int(b.seq.Add(1))%len(projects)]})
		return err
	})
	fmt.Fprintln(out, single)
	return
}

// analyze does what autovacuum does within a minute of a bulk load: statistics for the
// planner and the visibility map for index-only scans.
func analyze(ctx context.Context, dbURL string) error {
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	_, err = pool.Exec(ctx, "VACUUM ANALYZE")
	return err
}

func countDemands(ctx context.Context, c demandv1.DemandServiceClient, n *int64) error {
	resp, err := c.CountDemands(ctx, &demandv1.CountDemandsRequest{})
	if err != nil {
		return err
	}
	*n = int64(resp.GetTotal())
	return nil
}

// activateFirst walks the first n partners created to ACTIVE.
func activateFirst(ctx context.Context, c partnerv1.PartnerServiceClient, concurrency, n int) error {
	var names []string
	token := ""
	for len(names) < n {
		resp, err := c.ListPartners(ctx, &partnerv1.ListPartnersRequest{PageSize: 1000, PageToken: token, Filter: "status = APPLIED", OrderBy: "create_time"})
		if err != nil {
			return err
		}
		for _, p := range resp.GetPartners() {
			names = append(names, p.GetName())
		}
		if token = resp.GetNextPageToken(); token == "" {
			break
		}
	}
	names = names[:min(n, len(names))]
	var next atomic.Int64
	return parallel(concurrency, len(names), func() error {
		name := names[next.Add(1)-1]
		for _, st := range []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_VERIFIED, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE} {
			if _, err := c.ChangePartnerStatus(ctx, &partnerv1.ChangePartnerStatusRequest{Name: name, Status: st}); err != nil {
				return err
			}
		}
		return nil
	})
}

// parallel runs op n times from concurrency goroutines and returns the first error.
func parallel(concurrency, n int, op func() error) error {
	if n <= 0 {
		return nil
	}
	var left atomic.Int64
	left.Store(int64(n))
	var wg sync.WaitGroup
	errc := make(chan error, concurrency)
	for range concurrency {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				if err := op(); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	return <-errc
}

var (
	demandTitles = []string{"楼道垃圾桶满了没人清理", "周三下午孩子放学没人看管", "老人需要楼梯扶手", "小区飞线充电有隐患", "楼顶漏水", "想学书法", "物业纠纷需要法律咨询", "老人吃饭不方便"}
	channels     = []demandv1.Channel{demandv1.Channel_CHANNEL_DOOR_KNOCKING, demandv1.Channel_CHANNEL_GRID_WORKER_VISIT, demandv1.Channel_CHANNEL_WALK_IN, demandv1.Channel_CHANNEL_HOTLINE}
)

// demand makes a plausible demand recorded by community staff.
func (g *generator) demand(i int64) *demandv1.Demand {
	r := rand.New(rand.NewPCG(uint64(i), 13))
	kind := demandv1.DemandKind(1 + r.IntN(2))
	return &demandv1.Demand{
		Kind: kind, Category: typev1.Category(1 + r.IntN(12)),
		Title:         demandTitles[r.IntN(len(demandTitles))],
		Description:   "居民反映：" + demandTitles[r.IntN(len(demandTitles))] + "，希望社区协调解决。",
		CommunityCode: g.communities[r.IntN(len(g.communities))],
		Address:       fmt.Sprintf("%d栋%d单元", 1+r.IntN(30), 1+r.IntN(6)),
		Reporter:      &demandv1.Reporter{Name: "李四", Phone: fmt.Sprintf("139%08d", i%100000000)},
		Channel:       channels[r.IntN(len(channels))],
		Urgency:       demandv1.Urgency(1 + r.IntN(4)),
	}
}

func (g *generator) project(i int64, community string, cat typev1.Category) *demandv1.Project {
	r := rand.New(rand.NewPCG(uint64(i), 17))
	return &demandv1.Project{
		Title: fmt.Sprintf("社区项目%04d", i), Category: cat, ListType: demandv1.ListType(1 + r.IntN(8)), CommunityCode: community,
		RequiredTags: []string{"志愿服务"},
		Schedule:     []*typev1.WeeklyWindow{{Weekday: weekdays[r.IntN(7)], StartTime: "14:00", EndTime: "17:00"}},
	}
}

// metricsNode serves the demand service of nc with the Prometheus exporter on, its page
// scraped every second, and returns a client; stop stops it.
func metricsNode(ctx context.Context, spec suite.Spec, nc suite.NodeConfig) (client demandv1.DemandServiceClient, stop func(), err error) {
	providers, shutdown, err := telemetry.Setup(ctx, "jiayuan-demand", telemetry.WithPrometheus())
	if err != nil {
		return nil, nil, err
	}
	nc.Telemetry = &providers
	node, err := suite.OpenNode(ctx, spec, nc)
	if err != nil {
		return nil, nil, err
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); _ = node.Serve(ctx, lis) }()
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				providers.MetricsHandler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
			}
		}
	}()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		<-served
		return nil, nil, err
	}
	var once sync.Once
	return demandv1.NewDemandServiceClient(conn), func() {
		once.Do(func() {
			_ = conn.Close()
			cancel()
			<-served
			_ = shutdown(context.Background())
		})
	}, nil
}
