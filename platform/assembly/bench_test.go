package assembly_test

import (
	"syscall"
	"testing"
	"time"

	regionv1 "github.com/jiayuan/jiayuan/gen/jiayuan/region/v1"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/limits"
)

// BenchmarkLimitsCost drives GetRegion, the cheapest call a node serves (no database), from 16
// goroutines over real gRPC as one admin, with the limits on (the defaults) and off: the
// limiter's share of a call, side by side. Run it with -count to interleave the two:
//
//	go test -run '^$' -bench LimitsCost -count 6 ./platform/assembly
func BenchmarkLimitsCost(b *testing.B) {
	for _, on := range []bool{true, false} {
		name := "limits=off"
		cfg := limits.DefaultConfig()
		if on {
			name = "limits=on"
		} else {
			cfg.Disabled = true
		}
		b.Run(name, func(b *testing.B) {
			n := startNode(b, nodeOptions{limits: &cfg})
			client := regionv1.NewRegionServiceClient(n.dial())
			ctx := n.as("bench", auth.RoleAdmin)
			b.SetParallelism(8) // 16 goroutines on 2 cores, as make bench runs
			// CPU time per call (client and server: one process) is reported beside the wall
			// time: on a shared machine the wall time swings with the neighbours' load, the
			// CPU the calls burn much less.
			cpu0 := cpuTime(b)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := client.GetRegion(ctx, &regionv1.GetRegionRequest{Name: "regions/450105"}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Skip("no getrusage:", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
