package chaos_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/oklog/ulid/v2"
	"google.golang.org/grpc/health/grpc_health_v1"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/internal/privatepg"
	"github.com/jiayuan/jiayuan/internal/suite"
)

// TestDatabaseFaultsUnderLoad runs the suite on a private PostgreSQL cluster while callers
// record about 200 demands a second (each with a request id), and breaks the database under
// them: (a) every connection of the services killed (pg_terminate_backend), over and over;
// (b) PostgreSQL restarted (pg_ctl restart -m fast). Meanwhile the services answer
// UNAVAILABLE, never INTERNAL or UNKNOWN, and the callers send what was refused again with the
// same request id. Afterwards every acknowledged write has its row, once; nothing is half
// written (each demand has its request id, its event, its case); every node still runs, none
// restarted by hand.
func TestDatabaseFaultsUnderLoad(t *testing.T) {
	pg := startPrivatePostgres(t)
	c := startCluster(t, clusterConfig{URL: pg.newDatabase, PoolSize: 8, Gateway: true})
	for _, spec := range suite.Services() {
		c.waitServing(spec.Name, 0)
	}
	l := newLoad(c, "故障")
	l.persist, l.rate = true, 200
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		l.drive(ctx, 24)
	}()
	t.Cleanup(func() { stop(); <-done })

	rounds := 1
	if long() {
		rounds = 4
	}
	began := time.Now()
	var killed int
	var restarts, recoveries []time.Duration
	time.Sleep(time.Second)
	for range rounds {
		// (a) Connections killed, every 300ms for 3s.
		for range 10 {
			n, err := pg.terminate(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			killed += n
			time.Sleep(300 * time.Millisecond)
		}
		recoveries = append(recoveries, c.recovery(t, time.Now()))
		time.Sleep(time.Second)
		// (b) PostgreSQL restarted.
		at := time.Now()
		pg.restart(t)
		restarts = append(restarts, time.Since(at))
		recoveries = append(recoveries, c.recovery(t, time.Now()))
		time.Sleep(2 * time.Second)
	}
	stop()
	<-done
	elapsed := time.Since(began)
	c.checkRunning()

	if killed == 0 {
		t.Error("pg_terminate_backend killed no connection: the fault was not injected")
	}
	if f := l.failed.Load(); f != 0 {
		t.Errorf("%d calls failed with something other than UNAVAILABLE (or not within a minute): %v", f, l.failures())
	}
	rows := l.checkRows(t)
	demands, groups := l.acked()
	slices.Sort(restarts)
	slices.Sort(recoveries)
	t.Logf("%d rounds in %v: %d connections killed, %d restarts (pg_ctl restart took at most %v); %d calls (%.0f creates/s), %d answered UNAVAILABLE (at most %v in a row), %d failed; "+
		"every service served again %v (median) and at most %v after the database was back; %d demands and %d partner groups acknowledged, %d rows checked, 0 duplicates",
		rounds, elapsed.Round(time.Millisecond), killed, len(restarts), restarts[len(restarts)-1].Round(time.Millisecond),
		l.calls.Load(), float64(len(demands))/elapsed.Seconds(), l.unavailable.Load(), l.longestOutage().Round(time.Millisecond), l.failed.Load(),
		recoveries[len(recoveries)/2].Round(time.Millisecond), recoveries[len(recoveries)-1].Round(time.Millisecond),
		len(demands), len(groups), rows)
}

// recovery returns how long after since every service answers a read that needs its database
// again, with no retry: the services recover by themselves.
func (c *cluster) recovery(t *testing.T, since time.Time) time.Duration {
	t.Helper()
	demands := demandv1.NewDemandServiceClient(c.dial("demand"))
	ctx := c.as(t.Context(), staff)
	var worst time.Duration
	for _, spec := range suite.Services() {
		conn := c.dial(spec.Name)
		health := grpc_health_v1.NewHealthClient(conn)
		deadline := time.Now().Add(30 * time.Second)
		for {
			cctx, cancel := context.WithTimeout(ctx, time.Second)
			var err error
			if spec.Name == "demand" {
				_, err = demands.CountDemands(cctx, &demandv1.CountDemandsRequest{})
			} else {
				_, err = health.Check(cctx, &grpc_health_v1.HealthCheckRequest{})
			}
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still failing 30s after the database came back: %v", spec.Name, err)
			}
			time.Sleep(10 * time.Millisecond)
		}
		worst = max(worst, time.Since(since))
	}
	return worst
}

// privatePostgres is a PostgreSQL cluster of the test's own, in a temporary directory, on a
// spare loopback port: the faults injected here never reach the server other tests share.
type privatePostgres struct {
	runner    *privatepg.Runner
	dir, data string
	port      int
	admin     string
}

// startPrivatePostgres initdbs and starts a cluster of the test's own on a spare loopback port.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	r := privatepg.New(t, "jiayuan-chaos-pg-")
	p := &privatePostgres{runner: r, dir: r.Dir, data: filepath.Join(r.Dir, "data")}
	dir := r.Dir
	p.run(t, "initdb", "-D", p.data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
	p.port = sparePort(t)
	// Loopback only; the socket in the cluster's own directory; no fsync: the test restarts the
	// server cleanly (a fast shutdown checkpoints), it does not crash the machine.
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c fsync=off -c max_connections=200", p.port, dir)
	p.run(t, "pg_ctl", "-D", p.data, "-l", filepath.Join(dir, "server.log"), "-o", opts, "-w", "-t", "60", "start")
	t.Cleanup(func() {
		out, err := p.command("pg_ctl", "-D", p.data, "-m", "immediate", "-w", "stop").CombinedOutput()
		if err != nil {
			t.Errorf("stop the private PostgreSQL: %v\n%s", err, out)
		}
	})
	p.admin = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	return p
}

func (p *privatePostgres) command(name string, args ...string) *exec.Cmd {
	return p.runner.Command(name, args...)
}

func (p *privatePostgres) run(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := p.command(name, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		t.Fatalf("%s %s: %v\n%s\nserver log:\n%s", name, strings.Join(args, " "), err, out, log)
	}
}

// sparePort returns a loopback port nothing listens on.
func sparePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newDatabase creates a database for a service and returns its URL.
func (p *privatePostgres) newDatabase(t *testing.T, service string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, p.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	name := "chaos_" + service + "_" + strings.ToLower(ulid.Make().String())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.port, name)
}

// terminate kills every connection to the services' databases and returns how many.
func (p *privatePostgres) terminate(ctx context.Context) (int, error) {
	conn, err := pgx.Connect(ctx, p.admin)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname LIKE 'chaos\_%' AND pid <> pg_backend_pid()) AS killed`).Scan(&n)
	return n, err
}

// restart restarts the server as an operator would for a configuration change or a minor
// upgrade: a fast shutdown (running transactions rolled back, connections closed), then up.
func (p *privatePostgres) restart(t *testing.T) {
	t.Helper()
	p.run(t, "pg_ctl", "-D", p.data, "-l", filepath.Join(p.dir, "server.log"), "-m", "fast", "-w", "-t", "60", "restart")
}
