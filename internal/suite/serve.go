package suite

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// Node is one service running on its own gRPC server.
type Node struct {
	Spec   Spec
	Server *server.Server
	DB     *sqlstore.DB
}

// NodeConfig is what running one service takes.
type NodeConfig struct {
	DatabaseURL string
	Tree        *region.Tree
	Verifier    *auth.Verifier
	Logger      *slog.Logger
	Telemetry   *telemetry.Providers
	// ServerOptions tunes the gRPC server (drain delay, TLS, size caps); the service's
	// interceptors and method check are added here.
	ServerOptions server.Options
}

// OpenNode opens the service's database, migrates it, builds the service and its gRPC server
// with authentication and the deny-by-default method check.
func OpenNode(ctx context.Context, spec Spec, cfg NodeConfig) (*Node, error) {
	var dbOpts []sqlstore.Option
	if cfg.Telemetry != nil && cfg.Telemetry.TracesExported {
		dbOpts = append(dbOpts, sqlstore.WithTracerProvider(cfg.Telemetry.TracerProvider))
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL, dbOpts...)
	if err != nil {
		return nil, fmt.Errorf("%s: open database: %w", spec.Name, err)
	}
	log := cfg.Logger.With("service", spec.Name)
	svc, err := spec.Open(ctx, db, cfg.Tree, log)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	policies, err := auth.Merge(auth.StandardPublic(), spec.Policies())
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: policies: %w", spec.Name, err)
	}
	opts := cfg.ServerOptions
	opts.Logger = log
	opts.Telemetry = cfg.Telemetry
	opts.Unary = append(opts.Unary, auth.UnaryServerInterceptor(cfg.Verifier, policies))
	opts.Stream = append(opts.Stream, auth.StreamServerInterceptor(cfg.Verifier, policies))
	opts.CheckMethods = func(info map[string]grpc.ServiceInfo) error { return auth.CheckCoverage(info, policies) }
	srv, err := server.New(opts)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: server: %w", spec.Name, err)
	}
	svc.Register(srv.GRPC())
	return &Node{Spec: spec, Server: srv, DB: db}, nil
}

// Serve serves the node on lis until ctx is cancelled, then drains and stops, and closes the
// database.
func (n *Node) Serve(ctx context.Context, lis net.Listener) error {
	defer n.DB.Close()
	return n.Server.Serve(ctx, lis)
}
