package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/gateway"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
)

const defaultDuration = 5 * time.Second

type config struct {
	serverURL   string
	concurrency int
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	partners    int
	demands     int
	poolSize    int
	keep        bool
	profileDir  string
	auditOff    bool
	// metricsOn adds CreateDemand on a node with its metrics on to the create rounds.
	metricsOn bool
	// cases are the open cases seeded for the escalation figures; only names a part of the
	// report to run alone ("escalation").
	cases int
	only  string
}

// result is one measured run.
type result struct {
	name     string
	ops      int
	errors   int
	rps      float64
	p50, p99 time.Duration
}

func run(ctx context.Context, cfg config, out io.Writer) error {
	dbURL, drop, err := createDatabase(ctx, cfg.serverURL, cfg.poolSize)
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Fprintf(out, "keeping the partner database: %s\n", redact(dbURL))
	} else {
		defer drop()
	}
	tmp, err := os.MkdirTemp("", "jiayuan-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	tree := region.Demo()
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(tmp, "key.pem"))
	if err != nil {
		return err
	}
	verifier, err := auth.NewVerifier(ctx, signer.VerifierConfig())
	if err != nil {
		return err
	}
	// Personal data is sealed as in production: its cost is part of what is measured.
	keys, err := personal.GenerateKeys("bench")
	if err != nil {
		return err
	}
	spec, _ := suite.Lookup("partner")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// No contract service runs here: the bench's activities name no contract, so partner never
	// calls it.
	noContract, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer noContract.Close()
	node, err := suite.OpenNode(ctx, spec, suite.NodeConfig{DatabaseURL: dbURL, Tree: tree, Verifier: verifier, Logger: quiet, Keys: keys,
		Peers:         map[string]grpc.ClientConnInterface{"contract": noContract},
		ServerOptions: server.Options{DrainDelay: -1}})
	if err != nil {
		return err
	}
	sctx, stopServers := context.WithCancel(ctx)
	defer stopServers()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = node.Serve(sctx, lis) }()
	gw, err := gateway.New(sctx, gateway.Options{Logger: quiet, Upstreams: []gateway.Upstream{{Name: spec.Name, Target: lis.Addr().String(),
		Register: spec.RegisterGateway, DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}}}})
	if err != nil {
		return err
	}
	defer gw.Close()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: gw.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(hl) }()
	defer hs.Close()
	base := "http://" + hl.Addr().String()

	token, err := signer.Token(auth.Principal{Subject: "bench", Roles: []auth.Role{auth.RoleAdmin}, Scope: []string{tree.Root().Code}}, 2*time.Hour)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := partnerv1.NewPartnerServiceClient(conn)
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	httpClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.concurrency * 2}, Timeout: 30 * time.Second}
	post := func(path string, body []byte) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := httpClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: HTTP %d", path, resp.StatusCode)
		}
		return nil
	}

	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_raw (name TEXT PRIMARY KEY, display_name TEXT NOT NULL,
		region_code TEXT NOT NULL, status INTEGER NOT NULL, data BYTEA NOT NULL, create_us BIGINT NOT NULL)`); err != nil {
		return err
	}
	gen := newGenerator(tree)
	var seq atomic.Int64
	fmt.Fprintf(out, "jiayuan-bench: PostgreSQL, concurrency %d, %s per run, pool %d connections, %d partners for search\n\n",
		cfg.concurrency, cfg.duration, cfg.poolSize, cfg.partners)

	var results []result
	measure := func(name string, op func(i int64) error) result {
		r := measureRun(ctx, cfg.profileDir, name, cfg.concurrency, cfg.warmup, cfg.duration, func() error { return op(seq.Add(1)) })
		results = append(results, r)
		fmt.Fprintln(out, r)
		return r
	}
	// Fill to the search population first (not measured), so the search sees exactly it.
	if err := fill(actx, client, gen, &seq, cfg.partners, cfg.concurrency); err != nil {
		return err
	}
	// What autovacuum does within a minute of a bulk load: statistics for the planner and the
	// visibility map that lets the search index answer without reading the table.
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return err
	}
	search := func(i int64) *partnerv1.SearchPartnersRequest { return gen.search(i) }
	// The searches over gRPC and REST in turn, round after round, like the creates: their
	// ratio and the p99 are the medians of the rounds.
	searches := rounds(cfg.rounds, measure,
		named{fmt.Sprintf("gRPC SearchPartners (%d partners)", cfg.partners), func(i int64) error {
			_, err := client.SearchPartners(actx, search(i))
			return err
		}},
		named{fmt.Sprintf("REST POST /v1/partners:search (%d partners)", cfg.partners), func(i int64) error {
			body, err := protojson.Marshal(search(i))
			if err != nil {
				return err
			}
			return post("/v1/partners:search", body)
		}})
	grpcSearch := medianOf(searches[0])
	fmt.Fprintln(out, grpcSearch)
	// The same search from one caller: its latency without queueing behind the others.
	single := measureRun(ctx, cfg.profileDir, "gRPC SearchPartners, one caller", 1, cfg.warmup, cfg.duration, func() error {
		_, err := client.SearchPartners(actx, search(seq.Add(1)))
		return err
	})
	results = append(results, single)
	fmt.Fprintln(out, single)

	rawInsert := func(i int64) error {
		p := gen.partner(i)
		data, err := proto.Marshal(p)
		if err != nil {
			return err
		}
		_, err = pool.Exec(ctx, `INSERT INTO bench_raw (name, display_name, region_code, status, data, create_us) VALUES ($1, $2, $3, $4, $5, $6)`,
			fmt.Sprintf("partners/raw%023d", i), p.GetDisplayName(), p.GetRegionCode(), 1, data, time.Now().UnixMicro())
		return err
	}
	// The creates and their baselines in turn, round after round: a ratio is taken between
	// runs seconds apart, so that the machine's drift (its disk above all) touches both sides.
	creates := rounds(cfg.rounds, measure,
		named{"baseline: raw pgx INSERT", rawInsert},
		named{"baseline: raw pgx tx, CreatePartner's rows", func(i int64) error {
			return rawPartnerTx(ctx, pool, gen.partner(i), i)
		}},
		named{"gRPC CreatePartner", func(i int64) error {
			_, err := client.CreatePartner(actx, &partnerv1.CreatePartnerRequest{Partner: gen.partner(i), RequestId: uuid.NewString()})
			return err
		}},
		named{"REST POST /v1/partners", func(i int64) error {
			body, err := protojson.Marshal(gen.partner(i))
			if err != nil {
				return err
			}
			return post("/v1/partners?requestId="+url.QueryEscape(uuid.NewString()), body)
		}})
	raw, rawPartner, grpcCreate, restCreate := creates[0], creates[1], creates[2], creates[3]

	demandURL, dropDemand, err := createDatabase(ctx, cfg.serverURL, cfg.poolSize)
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Fprintf(out, "keeping the demand database: %s\n", redact(demandURL))
	} else {
		defer dropDemand()
	}
	// The demand service keeps photos; the benchmarks attach none, so a temporary directory does.
	photoDir, err := os.MkdirTemp("", "jiayuan-bench-photos-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(photoDir)
	photos, err := suite.DevPhotos(photoDir)
	if err != nil {
		return err
	}
	demandCreates, match, lists, err := runDemand(ctx, demandBench{
		cfg: cfg, tree: tree, signer: signer, partnerURL: lis.Addr().String(), partnerDB: dbURL, partners: client, admin: actx, rawInsert: rawInsert,
		gen: gen, seq: &seq, measure: measure,
		node: suite.NodeConfig{Tree: tree, Verifier: verifier, Logger: quiet, Keys: keys, Photos: photos},
	}, demandURL, out)
	if err != nil {
		return err
	}

	fmt.Fprintln(out)
	rawD, rawDemand, demandCreate := demandCreates[0], demandCreates[1], demandCreates[2]
	ratio := medianRatio
	check := func(ok bool) string {
		if ok {
			return "meets target"
		}
		return "BELOW TARGET"
	}
	fmt.Fprintf(out, "Ratios of throughput and p99s at concurrency %d are medians over %d rounds.\n", cfg.concurrency, cfg.rounds)
	// The create target is against the create's own rows written raw in one pipelined
	// transaction: on this hardware the database alone writes those at well under half a
	// single-row insert, so the single row is shown for reference only.
	fmt.Fprintf(out, "gRPC create / its rows written raw  %.2f×  (target ≥ 0.5×: %s)\n", ratio(grpcCreate, rawPartner), check(ratio(grpcCreate, rawPartner) >= 0.5))
	fmt.Fprintf(out, "  for reference: gRPC create / raw insert %.2f×; its rows written raw / raw insert %.2f×\n",
		ratio(grpcCreate, raw), ratio(rawPartner, raw))
	fmt.Fprintf(out, "REST create / gRPC create     %.2f×  (target ≥ 0.5×: %s)\n", ratio(restCreate, grpcCreate), check(ratio(restCreate, grpcCreate) >= 0.5))
	searchRatio := medianRatio(searches[1], searches[0])
	fmt.Fprintf(out, "REST search / gRPC search     %.2f×  (target ≥ 0.5×: %s)\n", searchRatio, check(searchRatio >= 0.5))
	fmt.Fprintf(out, "gRPC SearchPartners p99       %s at concurrency %d, %s from one caller  (target ≤ 20ms: %s at concurrency %d)\n",
		grpcSearch.p99.Round(10*time.Microsecond), cfg.concurrency, single.p99.Round(10*time.Microsecond),
		check(grpcSearch.p99 <= 20*time.Millisecond), cfg.concurrency)
	fmt.Fprintf(out, "SubmitDemand / its rows written raw %.2f×  (target ≥ 0.5×: %s)\n", ratio(demandCreate, rawDemand), check(ratio(demandCreate, rawDemand) >= 0.5))
	fmt.Fprintf(out, "  for reference: SubmitDemand / raw insert %.2f×; its rows written raw / raw insert %.2f×\n",
		ratio(demandCreate, rawD), ratio(rawDemand, rawD))
	if cfg.auditOff {
		// The audit records' cost: the create with them over the create without (issue 11:
		// they may cost at most 15% of its throughput).
		withAudit := ratio(demandCreate, demandCreates[3])
		fmt.Fprintf(out, "SubmitDemand, audit records on / off %.2f×  (target ≥ 0.85×: %s)\n", withAudit, check(withAudit >= 0.85))
	}
	if cfg.metricsOn {
		// The metrics' cost: the create with them over the create without (issue 17: at
		// most 5% of its throughput). Its run follows the audit-off one, when there is one.
		i := 3
		if cfg.auditOff {
			i = 4
		}
		withMetrics := ratio(demandCreates[i], demandCreate)
		fmt.Fprintf(out, "SubmitDemand, metrics on / off %.2f×  (target ≥ 0.95×: %s)\n", withMetrics, check(withMetrics >= 0.95))
	}
	fmt.Fprintf(out, "MatchPartners p99             %s  (target ≤ 50ms with %d partners: %s)\n",
		match.p99.Round(10*time.Microsecond), cfg.partners, check(match.p99 <= 50*time.Millisecond))
	var listP99 []string
	var worst time.Duration
	for _, l := range lists {
		listP99 = append(listP99, l.p99.Round(10*time.Microsecond).String()+" "+l.label)
		worst = max(worst, l.p99)
	}
	fmt.Fprintf(out, "ListDemands p99               %s  (target ≤ 20ms with %d demands: %s)\n",
		strings.Join(listP99, ", "), cfg.demands, check(worst <= 20*time.Millisecond))
	for _, r := range results {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d calls failed", r.name, r.errors)
		}
	}
	// The escalation figures (issue 13), on a database of their own.
	return runEscalation(ctx, cfg, signer, verifier, out)
}

// named is a run to measure.
type named struct {
	name string
	op   func(i int64) error
}

// rounds measures the runs in turn, n times over, and returns each run's results by round.
// Each round starts one run further on, so that no run always follows the same one or always
// meets the tables at the same size: the runs compared are all in one database, which grows
// through the rounds, and whose autovacuum or chaining a run may leave to the next.
func rounds(n int, measure func(string, func(int64) error) result, runs ...named) [][]result {
	out := make([][]result, len(runs))
	for r := range n {
		for i := range runs {
			k := (r + i) % len(runs)
			run := runs[k]
			name := run.name
			if n > 1 {
				name = fmt.Sprintf("%s (%d/%d)", run.name, r+1, n)
			}
			out[k] = append(out[k], measure(name, run.op))
		}
	}
	return out
}

// medianOf is the median round of rs, the results of one run by round: the median throughput
// and, taken apart, the median p50 and p99. One five-second run's p99 on a shared two-core
// machine swings with whatever else runs in those seconds (MatchPartners' p99 was 50 and 77 ms
// in two runs of one build here); the median of the rounds does not follow one bad run.
func medianOf(rs []result) result {
	m := result{name: rs[0].name}
	if i := strings.LastIndex(m.name, " ("); i > 0 && len(rs) > 1 {
		m.name = m.name[:i] + fmt.Sprintf(" (median of %d)", len(rs))
	}
	var rps []float64
	var p50, p99 []time.Duration
	for _, r := range rs {
		m.ops += r.ops
		m.errors += r.errors
		rps = append(rps, r.rps)
		p50 = append(p50, r.p50)
		p99 = append(p99, r.p99)
	}
	m.rps, m.p50, m.p99 = median(rps), median(p50), median(p99)
	return m
}

// median is the middle of vs, or the mean of the two middle values.
func median[T float64 | time.Duration](vs []T) T {
	vs = slices.Clone(vs)
	slices.Sort(vs)
	if len(vs)%2 == 1 {
		return vs[len(vs)/2]
	}
	return (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
}

// medianRatio is the median over rounds of a's throughput over b's in the same round.
func medianRatio(a, b []result) float64 {
	rs := make([]float64, len(a))
	for i := range a {
		rs[i] = a[i].rps / b[i].rps
	}
	slices.Sort(rs)
	if len(rs)%2 == 1 {
		return rs[len(rs)/2]
	}
	return (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
}

func (r result) String() string {
	return fmt.Sprintf("%-46s %8.0f ops/s  p50 %8s  p99 %8s  (%d ops, %d errors)", r.name, r.rps,
		r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond), r.ops, r.errors)
}

// measureRun calls op from concurrency goroutines for d and reports throughput and latency.
// The calls of a warm-up before it are not counted: they fill connection pools, the plans
// prepared on each connection and the services' caches, as a running service has them.
// With a profile directory it writes the run's CPU profile there, named after the run.
func measureRun(ctx context.Context, profileDir, name string, concurrency int, warmup, d time.Duration, op func() error) result {
	if warmup > 0 {
		_ = measureRun(ctx, "", name, concurrency, 0, warmup, op)
	}
	if profileDir != "" {
		stop, err := startProfile(profileDir, name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: no profile: %v\n", name, err)
		} else {
			defer stop()
		}
	}
	var mu sync.Mutex
	var lat []time.Duration
	var errs atomic.Int64
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) && ctx.Err() == nil {
				t0 := time.Now()
				if err := op(); err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(lat)
	r := result{name: name, ops: len(lat), errors: int(errs.Load()), rps: float64(len(lat)) / elapsed.Seconds()}
	if len(lat) > 0 {
		r.p50 = lat[len(lat)/2]
		r.p99 = lat[min(len(lat)-1, len(lat)*99/100)]
	}
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "%s: first error: %v\n", name, e)
	}
	return r
}

// startProfile starts a CPU profile in dir, in a file named after the run.
func startProfile(dir, name string) (stop func(), err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	slug := strings.Trim(strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return unicode.ToLower(r)
		}
		return '-'
	}, name), "-")
	f, err := os.Create(filepath.Join(dir, slug+".pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func fill(ctx context.Context, c partnerv1.PartnerServiceClient, gen *generator, seq *atomic.Int64, n, concurrency int) error {
	return parallel(concurrency, n, func() error {
		_, err := c.CreatePartner(ctx, &partnerv1.CreatePartnerRequest{Partner: gen.partner(seq.Add(1))})
		return err
	})
}

// createDatabase makes a throwaway database on the server and returns its URL (with the pool
// size) and a function that drops it.
func createDatabase(ctx context.Context, serverURL string, poolSize int) (string, func(), error) {
	admin, err := pgx.Connect(ctx, serverURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", redact(serverURL), err)
	}
	name := fmt.Sprintf("jiayuan_bench_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return "", nil, err
	}
	u, err := url.Parse(serverURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	q := u.Query()
	q.Set("pool_max_conns", fmt.Sprint(poolSize))
	u.RawQuery = q.Encode()
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = admin.Exec(dctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close(dctx)
	}
	return u.String(), drop, nil
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the PostgreSQL URL"
	}
	return u.Redacted()
}

// generator makes plausible partners and searches over the demo district.
type generator struct {
	communities []string
}

func newGenerator(tree *region.Tree) *generator {
	g := &generator{}
	for _, n := range tree.Nodes() {
		if n.Level == region.LevelCommunity {
			g.communities = append(g.communities, n.Code)
		}
	}
	return g
}

var weekdays = []typev1.Weekday{typev1.Weekday_WEEKDAY_MONDAY, typev1.Weekday_WEEKDAY_TUESDAY, typev1.Weekday_WEEKDAY_WEDNESDAY,
	typev1.Weekday_WEEKDAY_THURSDAY, typev1.Weekday_WEEKDAY_FRIDAY, typev1.Weekday_WEEKDAY_SATURDAY, typev1.Weekday_WEEKDAY_SUNDAY}

func (g *generator) partner(i int64) *partnerv1.Partner {
	r := rand.New(rand.NewPCG(uint64(i), 7))
	community := g.communities[r.IntN(len(g.communities))]
	area := community
	if r.IntN(4) == 0 {
		area = community[:9] // the whole sub-district
	}
	p := &partnerv1.Partner{
		DisplayName: fmt.Sprintf("志愿者%06d", i), RegionCode: community, ServiceAreas: []string{area},
		RecruitmentChannel: partnerv1.RecruitmentChannel(1 + r.IntN(4)),
		Contact:            &partnerv1.Contact{PersonName: "张三", Phone: fmt.Sprintf("138%08d", i%100000000)},
	}
	for range 1 + r.IntN(2) {
		p.Capabilities = append(p.Capabilities, &partnerv1.Capability{Category: typev1.Category(1 + r.IntN(12)), Tags: []string{"志愿服务"}, CapacityHoursPerMonth: 8})
	}
	for range 1 + r.IntN(3) {
		h := 8 + r.IntN(10)
		p.Availability = append(p.Availability, &typev1.WeeklyWindow{Weekday: weekdays[r.IntN(7)],
			StartTime: fmt.Sprintf("%02d:00", h), EndTime: fmt.Sprintf("%02d:00", h+2+r.IntN(3))})
	}
	return p
}

func (g *generator) search(i int64) *partnerv1.SearchPartnersRequest {
	r := rand.New(rand.NewPCG(uint64(i), 11))
	return &partnerv1.SearchPartnersRequest{
		Categories: []typev1.Category{typev1.Category(1 + r.IntN(12))},
		Tags:       []string{"志愿服务"},
		RegionCode: g.communities[r.IntN(len(g.communities))],
		Window:     &typev1.WeeklyWindow{Weekday: weekdays[r.IntN(7)], StartTime: "14:00", EndTime: "18:00"},
		// New partners are still APPLIED; searching them exercises the same indexes.
		Statuses: []partnerv1.PartnerStatus{partnerv1.PartnerStatus_PARTNER_STATUS_APPLIED, partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE},
		PageSize: 20,
	}
}
