package limits_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/limits"
)

// BenchmarkUnaryInterceptor is the limiter's own cost per call: one bucket lookup and take, for
// one official calling from every goroutine (the bench's shape: contention on one bucket) and
// for many callers (contention on the map only).
func BenchmarkUnaryInterceptor(b *testing.B) {
	for _, callers := range []int{1, 10_000} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			// A limit the benchmark's millions of calls a second never reach: every call takes
			// the whole path (lookup, take) and none is refused.
			cfg := limits.DefaultConfig()
			cfg.Roles[auth.RoleAdmin] = limits.Limit{Rate: 1e12, Burst: 1e9}
			l, err := limits.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			ctxs := make([]context.Context, callers)
			for i := range ctxs {
				ctxs[i] = auth.WithPrincipal(context.Background(), auth.Principal{Subject: fmt.Sprint("official-", i), Roles: []auth.Role{auth.RoleAdmin}})
			}
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := unary(l, ctxs[int(n.Add(1))%callers]); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
