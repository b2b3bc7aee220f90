package server_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/jiayuan/jiayuan/platform/server"
)

// BenchmarkMutualTLSHandshake measures a new connection's mutual TLS handshake and one call,
// with both sides checking their files for changes (three stat calls each) at the handshake:
// the cost of reloading without a restart, paid once per connection, not per call.
func BenchmarkMutualTLSHandshake(b *testing.B) {
	ca := newCA(b)
	cert, key := ca.leaf(b, 1, "partner")
	srvVol := newSecretVolume(b, map[string][]byte{"tls.crt": cert, "tls.key": key, "ca.crt": ca.pem})
	cert, key = ca.leaf(b, 2, "gateway")
	cliVol := newSecretVolume(b, map[string][]byte{"tls.crt": cert, "tls.key": key, "ca.crt": ca.pem})
	srv, err := server.New(server.Options{
		TLS:        &server.TLSConfig{CertFile: srvVol.path("tls.crt"), KeyFile: srvVol.path("tls.key"), ClientCAFile: srvVol.path("ca.crt")},
		DrainDelay: -1,
	})
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	defer func() { cancel(); <-done }()
	creds, err := server.ClientCredentials(cliVol.path("ca.crt"), cliVol.path("tls.crt"), cliVol.path("tls.key"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(creds))
		if err != nil {
			b.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}); err != nil {
			b.Fatal(err)
		}
		ccancel()
		conn.Close()
	}
}
