// Command jiayuan-bench measures the partner and demand services end to end on PostgreSQL,
// beside a baseline taken in the same run: CreatePartner and SearchPartners over gRPC and over
// REST (through the gateway), CreateDemand (SubmitDemand), MatchPartners and the needs list
// over gRPC, against a raw pgx single-row INSERT at the same concurrency. It prints
// throughput, p50 and p99 latency, and the ratios the project tracks.
//
//	go run ./cmd/jiayuan-bench [-concurrency 16] [-warmup 1s] [-duration 5s] [-rounds 3] [-partners 10000] [-demands 100000] [-cases 100000] [-only escalation]
//
// It also reports the escalation service's figures (issue 13): a sweep over -cases open cases
// with 1% overdue and with nothing due, and the district's board at -concurrency callers;
// -only escalation runs those alone.
//
// It creates throwaway databases (one per service) on the server in JIAYUAN_BENCH_POSTGRES_URL (default: the
// local server) and drops it afterwards.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/jiayuan/jiayuan/internal/suite"
)

func main() {
	code := 0
	defer func() { os.Exit(code) }()
	cfg := config{}
	flag.StringVar(&cfg.serverURL, "postgres", envOr("JIAYUAN_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"),
		"PostgreSQL server to create the benchmark database on (env JIAYUAN_BENCH_POSTGRES_URL)")
	flag.IntVar(&cfg.concurrency, "concurrency", 16, "concurrent callers in every run")
	flag.DurationVar(&cfg.duration, "duration", defaultDuration, "length of each measured run")
	flag.DurationVar(&cfg.warmup, "warmup", time.Second, "calls before each measured run that are not counted")
	flag.IntVar(&cfg.rounds, "rounds", 3, "rounds of the create runs and their baselines, in turn; a create's ratio is the median")
	flag.IntVar(&cfg.partners, "partners", 10000, "partners in the database before the search runs")
	flag.IntVar(&cfg.demands, "demands", 100000, "demands in the needs list before it is listed")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the benchmark database afterwards (its name is printed), e.g. to EXPLAIN queries")
	flag.IntVar(&cfg.poolSize, "pool", 16, "PostgreSQL connections, for the service and the baseline alike")
	flag.StringVar(&cfg.profileDir, "profiles", "", "write a CPU profile of this process (client, service and gateway) for each measured run into the directory")
	flag.BoolVar(&cfg.auditOff, "audit-off-run", true, "also measure CreateDemand on a second demand node with the audit records off "+
		"(jiayuan serve --audit-records=false: log lines instead), in the same rounds, and report the records' cost as the ratio on/off")
	flag.BoolVar(&cfg.metricsOn, "metrics-on-run", false, "also measure CreateDemand on a demand node with its metrics on (the Prometheus exporter, "+
		"scraped every second), in the same rounds, and report the metrics' cost as the ratio on/off; the node's two pools come on top of the others': "+
		"with the defaults that passes a max_connections of 100, so use it with -audit-off-run=false or a smaller -pool")
	flag.IntVar(&cfg.cases, "cases", 100000, "open cases in the escalation database before it is swept and its board read")
	flag.StringVar(&cfg.only, "only", "", `run one part of the report alone: "escalation" (the sweeps and the board of issue 13)`)
	flag.Parse()
	// The services in this process collect garbage as `jiayuan serve` does.
	suite.TuneGC(os.LookupEnv)
	if cfg.rounds < 1 || cfg.concurrency < 1 || cfg.duration <= 0 {
		fmt.Fprintln(os.Stderr, "jiayuan-bench: -rounds and -concurrency must be at least 1, -duration positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	runner := run
	switch cfg.only {
	case "":
	case "escalation":
		runner = runEscalationOnly
	default:
		fmt.Fprintf(os.Stderr, "jiayuan-bench: -only %q: want escalation\n", cfg.only)
		os.Exit(2)
	}
	if err := runner(ctx, cfg, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "jiayuan-bench:", err)
		code = 1
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
