package contract_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/assembly/assemblytest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/contract"
	"github.com/jiayuan/jiayuan/services/contract/internal/domain"
	"github.com/jiayuan/jiayuan/services/contract/internal/store"
)

// The benchmarks of issue 14, on PostgreSQL (JIAYUAN_TEST_POSTGRES_URL; skipped without it):
//
//	go test ./services/contract -run x -bench . -benchtime=1x
//
// They seed 20,000 active contracts of 10 duties each (200,000 duties) across the demo district
// straight into the store (the API would take minutes), then measure the follow-up sweep and a
// Get as production runs them. JIAYUAN_BENCH_CONTRACTS sets a smaller number for a quick run.

// benchContracts is how many contracts the benchmarks seed.
func benchContracts(b *testing.B) int {
	if s := os.Getenv("JIAYUAN_BENCH_CONTRACTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 100 {
			b.Fatalf("JIAYUAN_BENCH_CONTRACTS=%q: want a number ≥ 100", s)
		}
		return n
	}
	return 20_000
}

// benchAt is the moment the benchmarks' sweeps run at: a Thursday morning.
var benchAt = cst(2026, 12, 3, 9, 0)

type benchEnv struct {
	db  *sqlstore.DB
	svc *contract.Service
	due []*contractv1.Contract // the contracts due at benchAt, as seeded
	any []string               // every contract's name
}

// benchContract is an active contract of community with partner p: ten duties (one weekly on
// Wednesdays, nine one-off ones due in the new year), versions amended versions times. due
// leaves Wednesday 2 December's session unrecorded, so the sweep at benchAt raises its alert.
func benchContract(community, p string, versions int, due bool) *contractv1.Contract {
	start := calendar.DateOf(benchAt).AddDays(-30)
	terms := &contractv1.Terms{
		Content: "周三下午四点半课堂", StartDate: start.Proto(), EndDate: start.AddDays(180).Proto(),
		Duties: []*contractv1.Duty{{Id: "d1", Owner: p, Description: "每周三下午托管",
			When: &contractv1.Duty_Weekly{Weekly: &typev1.WeeklyWindow{Weekday: typev1.Weekday_WEEKDAY_WEDNESDAY, StartTime: "15:00", EndTime: "18:00"}}}},
		ExpectedResults: []*contractv1.ExpectedResult{{Id: "r1", Description: "每周服务儿童", TargetValue: 20, Unit: "人",
			Measure: contractv1.ResultMeasure_RESULT_MEASURE_PEOPLE_SERVED, Cadence: contractv1.ResultCadence_RESULT_CADENCE_WEEKLY}},
	}
	for i := 2; i <= 10; i++ {
		terms.Duties = append(terms.Duties, &contractv1.Duty{Id: fmt.Sprintf("d%d", i), Owner: "community", Description: fmt.Sprintf("第%d项职责", i),
			When: &contractv1.Duty_DueDate{DueDate: start.AddDays(60 + i).Proto()}})
	}
	if !due {
		terms.Duties[0].LastFulfilledDate = calendar.DateOf(benchAt).Proto()
	}
	activated := timestamppb.New(start.Start().Add(10 * time.Hour))
	c := &contractv1.Contract{
		Name: aip.NewName("contracts"), Project: aip.NewName("projects"), CommunityCode: community, Title: "周三下午四点半课堂",
		ListType: demandv1.ListType_LIST_TYPE_ELDERLY_AND_CHILDREN, Parties: domain.NewParties([]string{p}),
		Status: contractv1.ContractStatus_CONTRACT_STATUS_ACTIVE, ActivateTime: activated, CreateTime: activated, UpdateTime: activated,
		SweptTime: timestamppb.New(benchAt.Add(-time.Hour)),
	}
	c.Parties[1].LastActiveDate = calendar.DateOf(benchAt).Proto()
	if due {
		c.SweptTime = timestamppb.New(benchAt.Add(-30 * time.Hour))
	}
	for v := 1; v <= versions; v++ {
		state := contractv1.VersionState_VERSION_STATE_SUPERSEDED
		if v == versions {
			state = contractv1.VersionState_VERSION_STATE_IN_FORCE
		}
		c.Versions = append(c.Versions, &contractv1.ContractVersion{Number: int32(v), State: state, Terms: proto.Clone(terms).(*contractv1.Terms),
			Signatures: []*contractv1.Signature{{Party: "community", Signer: "staff", SignTime: activated}, {Party: p, Signer: "partner", SignTime: activated}},
			CreateTime: activated, InForceTime: activated})
	}
	c.InForceVersion = int32(versions)
	return c
}

// seedBench fills a fresh PostgreSQL database with benchContracts active contracts spread over
// the demo tree's communities, of which every dueEvery-th is due at benchAt (0: none).
func seedBench(b *testing.B, dueEvery int) *benchEnv {
	b.Helper()
	pg, ok := sqlstoretest.PostgresBackend(b)
	if !ok {
		b.Skip("set " + sqlstoretest.PostgresURLEnv + " to benchmark on PostgreSQL")
	}
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, pg.NewURL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(db.Close)
	tree := region.Demo()
	clk := assemblytest.NewClock(benchAt)
	svc, err := contract.Open(ctx, contract.Config{
		DB: db, Tree: tree, Now: clk.Now, SweepInterval: time.Hour,
		Demands: dialBench(b, "127.0.0.1:1"), Partners: dialBench(b, "127.0.0.1:1"),
	})
	if err != nil {
		b.Fatal(err)
	}
	var communities []string
	for _, n := range tree.Subtree(tree.Root().Code) {
		if n.Level == region.LevelCommunity {
			communities = append(communities, n.Code)
		}
	}
	st := store.New()
	e := &benchEnv{db: db, svc: svc}
	n := benchContracts(b)
	const batch = 1000
	for from := 0; from < n; from += batch {
		err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			for i := from; i < min(from+batch, n); i++ {
				community := communities[i%len(communities)]
				due := dueEvery > 0 && i%dueEvery == 0
				c := benchContract(community, aip.NewName("partnerGroups"), 1+i%3, due)
				if err := st.InsertContract(ctx, tx, c, community[:9], "", domain.NextDue(c, domain.Policy{})); err != nil {
					return err
				}
				if due {
					e.due = append(e.due, c)
				}
				e.any = append(e.any, c.GetName())
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec(ctx, `VACUUM ANALYZE contracts`); err != nil {
		b.Fatal(err)
	}
	return e
}

func dialBench(b *testing.B, addr string) *grpc.ClientConn {
	b.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// BenchmarkSweepOnePercentDue: 20,000 active contracts (200,000 duties), 1% with a weekly
// session left unrecorded; one sweep raises exactly those alerts (issue 14: ≤ 500 ms on
// PostgreSQL).
func BenchmarkSweepOnePercentDue(b *testing.B) {
	e := seedBench(b, 100)
	ctx := context.Background()
	st := store.New()
	for b.Loop() {
		b.StopTimer()
		// Put the due contracts back as seeded, their alerts gone, so every run raises the same.
		err := e.db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM contract_alerts`); err != nil {
				return err
			}
			for _, c := range e.due {
				_, v, err := st.GetContract(ctx, tx, c.GetName())
				if err != nil {
					return err
				}
				if _, err := st.UpdateContract(ctx, tx, c, v, domain.NextDue(c, domain.Policy{})); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := e.svc.Sweep(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n != len(e.due) {
			b.Fatalf("swept %d contracts, want %d", n, len(e.due))
		}
	}
	b.StopTimer()
	var alerts int64
	if err := e.db.Reads().QueryRow(ctx, `SELECT COUNT(*) FROM contract_alerts`).Scan(&alerts); err != nil || alerts != int64(len(e.due)) {
		b.Fatalf("%d alerts for %d due contracts, %v", alerts, len(e.due), err)
	}
}

// BenchmarkSweepNothingDue: the same contracts, none due: a sweep is one index lookup (issue
// 14: ≤ 20 ms), which the plan must show.
func BenchmarkSweepNothingDue(b *testing.B) {
	e := seedBench(b, 0)
	ctx := context.Background()
	rows, err := e.db.Query(ctx, `EXPLAIN SELECT name FROM contracts WHERE sweep_due_us <= $1 ORDER BY sweep_due_us LIMIT 200 FOR UPDATE SKIP LOCKED`, benchAt.UnixMicro())
	if err != nil {
		b.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			b.Fatal(err)
		}
		plan = append(plan, line)
	}
	rows.Close()
	if !strings.Contains(strings.Join(plan, "\n"), "Index") {
		b.Fatalf("the sweep's claim is not an index lookup:\n%s", strings.Join(plan, "\n"))
	}
	for b.Loop() {
		if n, err := e.svc.Sweep(ctx); err != nil || n != 0 {
			b.Fatalf("swept %d, %v", n, err)
		}
	}
}

// BenchmarkGetContract16: GetContract of contracts with up to three versions of ten duties, over
// gRPC as a district officer, from 16 callers at once (issue 14: p99 ≤ 10 ms). Reports the p99.
func BenchmarkGetContract16(b *testing.B) {
	e := seedBench(b, 0)
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(b.TempDir(), "dev.pem"))
	if err != nil {
		b.Fatal(err)
	}
	srv := assemblytest.Start(b, assemblytest.Config{Name: contract.Name, Signer: signer, Tree: region.Demo(), Policies: contract.Policies(), Register: e.svc.Register})
	client := contractv1.NewContractServiceClient(dialBench(b, srv.Addr))
	tok, err := signer.Token(auth.Principal{Subject: "bench", Roles: []auth.Role{auth.RoleDistrictOfficer}, Scope: []string{district}}, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	// A running service: the connection made, the token verified and cached, the plans warm.
	if _, err := client.GetContract(ctx, &contractv1.GetContractRequest{Name: e.any[0]}); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var took []time.Duration
	var next int
	// 16 callers: RunParallel starts parallelism × GOMAXPROCS goroutines.
	b.SetParallelism(max(1, 16/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			mu.Lock()
			name := e.any[next%len(e.any)]
			next++
			mu.Unlock()
			t0 := time.Now()
			resp, err := client.GetContract(ctx, &contractv1.GetContractRequest{Name: name})
			if err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
			if len(resp.GetContract().GetVersions()) == 0 {
				b.Error("a contract without versions")
				return
			}
		}
		mu.Lock()
		took = append(took, mine...)
		mu.Unlock()
	})
	if len(took) == 0 {
		return
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds())/1000, "p99-ms")
}
