package suite_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/internal/suite"
)

// unavailableOnce answers its first Check UNAVAILABLE (a replica stopping), then SERVING.
type unavailableOnce struct {
	healthpb.UnimplementedHealthServer
	calls atomic.Int64
}

func (u *unavailableOnce) Check(ctx context.Context, _ *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	if _, ok := ctx.Deadline(); !ok {
		return nil, status.Error(codes.FailedPrecondition, "the call came with no deadline")
	}
	if u.calls.Add(1) == 1 {
		return nil, status.Error(codes.Unavailable, "stopping")
	}
	return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_SERVING}, nil
}

// TestDialPeerRetries: a call from one service to another over DialPeer's connection rides
// out a peer's UNAVAILABLE, and carries a deadline though its caller set none.
func TestDialPeerRetries(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	peer := &unavailableOnce{}
	healthpb.RegisterHealthServer(srv, peer)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	conn, err := suite.DialPeer(lis.Addr().String(), nil, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check = %v, %v; want SERVING after a retry", resp, err)
	}
	if n := peer.calls.Load(); n != 2 {
		t.Errorf("the peer saw %d calls, want 2", n)
	}
}
