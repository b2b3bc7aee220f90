package suite

import (
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/grpcclient"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// DialPeer returns a connection from one service to another at target (host:port, resolved by
// DNS), balanced round robin over the peer's replicas, retrying UNAVAILABLE within a budget,
// with a deadline on every unary call (platform/grpcclient), and traced, so a call's trace continues into the peer. opts must
// hold the transport credentials and the calling service's own per-RPC credentials; they come
// last and may override the defaults. The connection is made lazily, on first use.
func DialPeer(target string, tel *telemetry.Providers, opts ...grpc.DialOption) (*grpc.ClientConn, error) {
	var otelOpts []otelgrpc.Option
	if tel != nil {
		otelOpts = append(otelOpts,
			otelgrpc.WithTracerProvider(tel.TracerProvider),
			otelgrpc.WithMeterProvider(tel.MeterProvider),
			otelgrpc.WithPropagators(tel.Propagator))
	}
	dial := append(grpcclient.DialOptions(grpcclient.DefaultCallTimeout),
		grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelOpts...)))
	dial = append(dial, opts...)
	conn, err := grpc.NewClient(target, dial...)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", target, err)
	}
	return conn, nil
}

// ServicePrincipal is the identity a service calls its peers with under `jiayuan dev`: the
// system role over the whole tree, as the identity provider would issue it in production.
func ServicePrincipal(service string, tree *region.Tree) auth.Principal {
	return auth.Principal{
		Subject: "jiayuan-" + service,
		Name:    "jiayuan " + service + " service",
		Roles:   []auth.Role{auth.RoleSystem},
		Scope:   []string{tree.Root().Code},
	}
}
