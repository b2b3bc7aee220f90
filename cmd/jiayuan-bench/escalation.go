package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/escalation"
	"github.com/jiayuan/jiayuan/services/escalation/benchseed"
	"github.com/jiayuan/jiayuan/services/escalation/rules"
)

// The escalation figures of issue 13, in the same report: a sweep over cfg.cases open cases
// with 1% past their escalation time (it escalates exactly those; target ≤ 500 ms), a sweep
// with nothing due (an index lookup; ≤ 20 ms), and the district's three-colour board over gRPC
// at cfg.concurrency callers (p99 ≤ 20 ms). The cases are seeded straight into the store
// (services/escalation/benchseed, as the Go benchmarks do), relative to now, so the board's
// overdue and due-soon counts read as they would in service.

// sweepRounds is how many 1%-overdue sweeps are measured (the due cases put back between).
const sweepRounds = 5

func runEscalation(ctx context.Context, cfg config, signer *auth.DevSigner, verifier *auth.Verifier, out io.Writer) error {
	dbURL, drop, err := createDatabase(ctx, cfg.serverURL, cfg.poolSize)
	if err != nil {
		return err
	}
	if cfg.keep {
		fmt.Fprintf(out, "keeping the escalation database: %s\n", redact(dbURL))
	} else {
		defer drop()
	}
	tree := region.Demo()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	spec, _ := suite.Lookup(escalation.Name)
	// The demand service is not part of this run: a peer that is never reached (the feed
	// follower retries quietly).
	nowhere, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer nowhere.Close()
	node, err := suite.OpenNode(ctx, spec, suite.NodeConfig{DatabaseURL: dbURL, Tree: tree, Verifier: verifier, Logger: quiet,
		ServerOptions: server.Options{DrainDelay: -1}, Rules: "demo", SweepInterval: time.Hour,
		Peers: map[string]grpc.ClientConnInterface{"demand": nowhere},
		// One officer's 16 callers reading a cached board outrun their per-caller rate limit
		// (10,000 a second); the refusals would be counted as fast answers. The board is what
		// is measured here, not the limits.
		Limits: noLimits()})
	if err != nil {
		return err
	}

	// The sweeps, on a service of its own over the same database, the database's clock.
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := escalation.Open(ctx, escalation.Config{DB: db, Tree: tree, Rules: rules.Demo(), Demands: nowhere, Logger: quiet, SweepInterval: time.Hour})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "seeding %d open cases…\n", cfg.cases)
	due, err := benchseed.Seed(ctx, db, tree, rules.Demo(), cfg.cases, 100, time.Now())
	if err != nil {
		return err
	}
	var sweeps []time.Duration
	for i := range sweepRounds {
		if i > 0 {
			if err := benchseed.Reset(ctx, db, due); err != nil {
				return err
			}
		}
		t0 := time.Now()
		n, err := svc.Sweep(ctx)
		if err != nil {
			return err
		}
		sweeps = append(sweeps, time.Since(t0))
		if n != len(due) {
			return fmt.Errorf("a sweep escalated %d cases, want %d", n, len(due))
		}
	}
	// Everything due was escalated by the last sweep: now nothing is.
	var idle []time.Duration
	for range 50 {
		t0 := time.Now()
		n, err := svc.Sweep(ctx)
		if err != nil {
			return err
		}
		idle = append(idle, time.Since(t0))
		if n != 0 {
			return fmt.Errorf("a sweep with nothing due handled %d cases", n)
		}
	}

	// The board, over gRPC, as a district officer.
	sctx, stopServer := context.WithCancel(ctx)
	defer stopServer()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go func() { _ = node.Serve(sctx, lis) }()
	token, err := signer.Token(auth.Principal{Subject: "bench", Roles: []auth.Role{auth.RoleDistrictOfficer}, Scope: []string{tree.Root().Code}}, 2*time.Hour)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	client := escalationv1.NewCaseServiceClient(conn)
	actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	board := func() error {
		resp, err := client.GetCaseBoard(actx, &escalationv1.GetCaseBoardRequest{})
		if err == nil && int(resp.GetOpen()) != cfg.cases {
			err = fmt.Errorf("the board counts %d open cases, want %d", resp.GetOpen(), cfg.cases)
		}
		return err
	}
	many := measureRun(ctx, cfg.profileDir, "GetCaseBoard (district)", cfg.concurrency, cfg.warmup, cfg.duration, board)
	one := measureRun(ctx, cfg.profileDir, "GetCaseBoard (district), one caller", 1, cfg.warmup, cfg.duration, board)
	fmt.Fprintln(out, many)
	fmt.Fprintln(out, one)

	slices.Sort(sweeps)
	slices.Sort(idle)
	sweepMedian, idleP99 := sweeps[len(sweeps)/2], idle[min(len(idle)-1, len(idle)*99/100)]
	fmt.Fprintf(out, "Sweep, %d open, 1%% overdue      median %s of %d (max %s), escalating %d  (target ≤ 500ms: %s)\n",
		cfg.cases, sweepMedian.Round(100*time.Microsecond), len(sweeps), sweeps[len(sweeps)-1].Round(100*time.Microsecond), len(due),
		meets(sweepMedian <= 500*time.Millisecond))
	fmt.Fprintf(out, "Sweep, %d open, nothing due     p99 %s of %d  (target ≤ 20ms: %s)\n",
		cfg.cases, idleP99.Round(10*time.Microsecond), len(idle), meets(idleP99 <= 20*time.Millisecond))
	fmt.Fprintf(out, "GetCaseBoard p99 (district)   %s at concurrency %d, %s from one caller  (target ≤ 20ms: %s)\n",
		many.p99.Round(10*time.Microsecond), cfg.concurrency, one.p99.Round(10*time.Microsecond), meets(many.p99 <= 20*time.Millisecond))
	for _, r := range []result{many, one} {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d calls failed", r.name, r.errors)
		}
	}
	return nil
}

// meets says whether a figure meets its target, as the report prints it.
func meets(ok bool) string {
	if ok {
		return "meets target"
	}
	return "MISSES target"
}

// runEscalationOnly is the report's escalation part alone (-only escalation).
func runEscalationOnly(ctx context.Context, cfg config, out io.Writer) error {
	tmp, err := os.MkdirTemp("", "jiayuan-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	signer, err := auth.LoadOrCreateDevKey(filepath.Join(tmp, "key.pem"))
	if err != nil {
		return err
	}
	verifier, err := auth.NewVerifier(ctx, signer.VerifierConfig())
	if err != nil {
		return err
	}
	return runEscalation(ctx, cfg, signer, verifier, out)
}

// noLimits is the default limits turned off.
func noLimits() *limits.Config {
	c := limits.DefaultConfig()
	c.Disabled = true
	return &c
}
