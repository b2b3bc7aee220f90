package gateway_test

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/gateway"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
)

// stoppingPartner answers its first call UNAVAILABLE, as a replica does while it stops, then
// serves; it notes whether the calls came with a deadline.
type stoppingPartner struct {
	partnerv1.UnimplementedPartnerServiceServer
	calls, noDeadline atomic.Int64
}

func (p *stoppingPartner) GetPartnerGroup(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error) {
	if _, ok := ctx.Deadline(); !ok {
		p.noDeadline.Add(1)
	}
	if p.calls.Add(1) == 1 {
		return nil, status.Error(codes.Unavailable, "the server is shutting down")
	}
	return &partnerv1.GetPartnerGroupResponse{PartnerGroup: &partnerv1.PartnerGroup{Name: req.GetName()}}, nil
}

// TestUpstreamUnavailableIsRetried: a REST call whose upstream replica answers UNAVAILABLE once
// succeeds, the gateway retrying it; and the call reaches the service with a deadline.
func TestUpstreamUnavailableIsRetried(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stoppingPartner{}
	srv := grpc.NewServer()
	partnerv1.RegisterPartnerServiceServer(srv, p)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	gw := startGateway(t, &upstream{addr: lis.Addr().String()}, gateway.Options{})
	resp, err := http.Get(gw.URL + "/v1/partnerGroups/" + groupID)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET after one UNAVAILABLE: %s, want 200", resp.Status)
	}
	if n := p.calls.Load(); n != 2 {
		t.Errorf("the service saw %d calls, want 2", n)
	}
	if n := p.noDeadline.Load(); n != 0 {
		t.Errorf("%d calls reached the service with no deadline", n)
	}
}
