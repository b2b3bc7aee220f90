package grpcclient_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/platform/grpcclient"
)

// flaky answers Check with the codes of fail, one per call, then OK; it counts the calls and
// notes whether each came with a deadline.
type flaky struct {
	healthpb.UnimplementedHealthServer
	fail        []codes.Code
	calls       atomic.Int64
	noDeadlines atomic.Int64
}

func (f *flaky) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	n := f.calls.Add(1)
	if _, ok := ctx.Deadline(); !ok {
		f.noDeadlines.Add(1)
	}
	if int(n) <= len(f.fail) {
		return nil, status.Error(f.fail[n-1], "not now")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

func start(t *testing.T, srv *flaky) healthpb.HealthClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	healthpb.RegisterHealthServer(s, srv)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), append(grpcclient.DialOptions(0),
		grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return healthpb.NewHealthClient(conn)
}

func TestRetries(t *testing.T) {
	tests := []struct {
		name      string
		fail      []codes.Code
		wantCode  codes.Code
		wantCalls int64
	}{
		{name: "unavailable once, then served", fail: []codes.Code{codes.Unavailable}, wantCode: codes.OK, wantCalls: 2},
		{name: "unavailable three times, then served", fail: []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable}, wantCode: codes.OK, wantCalls: 4},
		{name: "attempts are bounded", fail: []codes.Code{codes.Unavailable, codes.Unavailable, codes.Unavailable, codes.Unavailable, codes.Unavailable},
			wantCode: codes.Unavailable, wantCalls: 4},
		// The server ran the call: retrying it might do it twice.
		{name: "internal is not retried", fail: []codes.Code{codes.Internal}, wantCode: codes.Internal, wantCalls: 1},
		{name: "deadline exceeded is not retried", fail: []codes.Code{codes.DeadlineExceeded}, wantCode: codes.DeadlineExceeded, wantCalls: 1},
		{name: "aborted is not retried", fail: []codes.Code{codes.Aborted}, wantCode: codes.Aborted, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &flaky{fail: tt.fail}
			client := start(t, srv)
			// No deadline of the caller's own: the client's default applies.
			_, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{})
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("code = %v (%v), want %v", got, err, tt.wantCode)
			}
			if got := srv.calls.Load(); got != tt.wantCalls {
				t.Errorf("the server saw %d calls, want %d", got, tt.wantCalls)
			}
			if n := srv.noDeadlines.Load(); n != 0 {
				t.Errorf("%d calls reached the server with no deadline", n)
			}
		})
	}
}

// TestRetryThrottling: against a service that is down, retries stop once the budget is spent,
// so callers do not multiply the load on it.
func TestRetryThrottling(t *testing.T) {
	fail := make([]codes.Code, 1000)
	for i := range fail {
		fail[i] = codes.Unavailable
	}
	srv := &flaky{fail: fail}
	client := start(t, srv)
	const calls = 30
	for range calls {
		if _, err := client.Check(context.Background(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("err = %v, want UNAVAILABLE", err)
		}
	}
	// Without throttling: 4 attempts a call. With it: the first calls retry until half of the
	// 10 tokens are gone, and then each call is tried once.
	if got := srv.calls.Load(); got > calls+10 {
		t.Errorf("the server saw %d attempts for %d calls: retries were not throttled", got, calls)
	}
}

func TestDeadlineKeepsTheCallersOwn(t *testing.T) {
	var got time.Duration
	inv := func(ctx context.Context, _ string, _, _ any, _ *grpc.ClientConn, _ ...grpc.CallOption) error {
		dl, ok := ctx.Deadline()
		if !ok {
			t.Fatal("no deadline")
		}
		got = time.Until(dl)
		return nil
	}
	tests := []struct {
		name     string
		ctx      func() (context.Context, context.CancelFunc)
		min, max time.Duration
	}{
		{name: "none of its own: the default", ctx: func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) },
			min: 9 * time.Second, max: 10 * time.Second},
		{name: "a longer one of its own", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		}, min: 59 * time.Second, max: time.Minute},
		{name: "a shorter one of its own", ctx: func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Second)
		}, min: 0, max: time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := tt.ctx()
			defer cancel()
			if err := grpcclient.Deadline(10*time.Second)(ctx, "/m", nil, nil, nil, inv); err != nil {
				t.Fatal(err)
			}
			if got < tt.min || got > tt.max {
				t.Errorf("deadline in %v, want %v..%v", got, tt.min, tt.max)
			}
		})
	}
}

// TestReconnectsSoonAfterAnOutage: a service away for 17s (a restart that took long, a node
// lost) is called again within seconds of its return. With grpc-go's own reconnection backoff
// (1s growing 1.6 times an attempt, to 2 minutes) the attempts would come at about 9s, 16s and
// 26s, and every call until the last fail with the old connection error.
func TestReconnectsSoonAfterAnOutage(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	serve := func(lis net.Listener) *grpc.Server {
		s := grpc.NewServer()
		healthpb.RegisterHealthServer(s, &flaky{})
		go func() { _ = s.Serve(lis) }()
		return s
	}
	s := serve(lis)
	conn, err := grpc.NewClient(addr, append(grpcclient.DialOptions(0), grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	client := healthpb.NewHealthClient(conn)
	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}

	s.Stop()
	down := time.Now().Add(17 * time.Second)
	for time.Now().Before(down) {
		// Calls during the outage fail; they do not hold the reconnection back.
		if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unavailable {
			t.Fatalf("call while the server is away: %v, want UNAVAILABLE", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	var lis2 net.Listener
	for lis2 == nil {
		if lis2, err = net.Listen("tcp", addr); err != nil {
			time.Sleep(10 * time.Millisecond)
		}
	}
	back := time.Now()
	s = serve(lis2)
	t.Cleanup(s.Stop)
	for {
		_, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err == nil {
			break
		}
		// ReconnectMaxDelay (2s) plus its jitter (20%) and the connection's own set-up.
		if time.Since(back) > 4*time.Second {
			t.Fatalf("still failing %v after the server came back: %v", time.Since(back), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("called again %v after the server came back", time.Since(back).Round(time.Millisecond))
}
