package chaos_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/grpcclient"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// TestRollingRestartUnderLoad restarts the replicas of every service (two each) in turn, as a
// rollout does (graceful stop, then a new process on the same address and database), while callers
// record demands (with request ids) over gRPC and through the gateway, read them back and read
// every other service, all with platform/grpcclient's retry policy. No call may fail, no
// create may leave two rows, and every problem still gets its case from escalation's
// consumer, which follows demand's feed across both services' restarts.
func TestRollingRestartUnderLoad(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			// go test restarts one replica of each service; the long version every replica,
			// twice.
			rounds, workers, replicas, pause := 1, 3, 1, 300*time.Millisecond
			if longOn(b) {
				rounds, workers, replicas, pause = 2, 6, 2, grpcclient.ReconnectMaxDelay*3/2
			}
			c := startCluster(t, clusterConfig{
				URL:      func(t *testing.T, _ string) string { return b.NewURL(t) },
				Replicas: 2, PoolSize: 4, Gateway: true,
				// Long enough for the callers' balancer to see the replica's connection end
				// before the listener closes, as the Deployment's readiness drain does.
				DrainDelay: 200 * time.Millisecond,
			})
			for _, spec := range suite.Services() {
				for i := range 2 {
					c.waitServing(spec.Name, i)
				}
			}
			l := newLoad(c, "重启-"+b.Name)
			ctx, stop := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				l.drive(ctx, workers)
			}()
			// Whatever happens below, the load stops before the cluster does.
			t.Cleanup(func() { stop(); <-done })

			time.Sleep(500 * time.Millisecond)
			var took []time.Duration
			began := time.Now()
			for range rounds {
				for _, spec := range suite.Services() {
					for i := range replicas {
						at := time.Now()
						c.stopReplica(spec.Name, i)
						c.startReplica(spec.Name, i, nil)
						c.waitServing(spec.Name, i)
						took = append(took, time.Since(at))
						// Let the callers reach the new replica before its sibling goes: a caller
						// dials a replica that went away again within grpcclient.ReconnectMaxDelay
						// (plus jitter), as a rollout waits for its new pod before stopping the
						// next. The short version restarts no sibling.
						time.Sleep(pause)
					}
				}
			}
			stop()
			<-done
			elapsed := time.Since(began)
			c.checkRunning()

			if f := l.failed.Load(); f != 0 {
				t.Errorf("%d of %d calls failed during the restarts: %v", f, l.calls.Load(), l.failures())
			}
			rows := l.checkRows(t)
			demands, groups := l.acked()
			slices.Sort(took)
			t.Logf("%s: %d restarts in %v (each: median %v, max %v); %d calls, %d failed; %d demands and %d partner groups acknowledged, %d rows checked, 0 duplicates",
				b.Name, len(took), elapsed.Round(time.Millisecond), took[len(took)/2].Round(time.Millisecond), took[len(took)-1].Round(time.Millisecond),
				l.calls.Load(), l.failed.Load(), len(demands), len(groups), rows)
		})
	}
}
