package suite

import (
	"context"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc"

	"github.com/jiayuan/jiayuan/platform/assembly"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/telemetry"
	"github.com/jiayuan/jiayuan/services/reporting"
)

// RollupNodeConfig is what running the city rollup takes (`jiayuan serve reporting-rollup`).
type RollupNodeConfig struct {
	// File is the rollup's configuration: the city and its districts.
	File *reporting.RollupFile
	// Conns holds a connection to each district's reporting service, by district code, each
	// carrying the rollup's token for that district. The caller owns and closes them.
	Conns     map[string]grpc.ClientConnInterface
	Verifier  *auth.Verifier
	Logger    *slog.Logger
	Telemetry *telemetry.Providers
	// ServerOptions tunes the gRPC server (drain delay, TLS, size caps).
	ServerOptions server.Options
	// Limits are the node's rate limits and stream caps; nil means limits.DefaultConfig().
	Limits *limits.Config
}

// RollupNode is the city rollup on its own gRPC server: assembled as every service is
// (authentication, the method check, the limits), with no database: it keeps no figures, so
// it has no writes to audit (its reads are logged) and nothing to migrate.
type RollupNode struct {
	Server *server.Server
}

// OpenRollupNode builds the city rollup's server.
func OpenRollupNode(cfg RollupNodeConfig) (*RollupNode, error) {
	tree, err := cfg.File.Tree()
	if err != nil {
		return nil, fmt.Errorf("%s: the city: %w", reporting.RollupName, err)
	}
	var districts []reporting.RollupDistrictConn
	for _, d := range cfg.File.Districts {
		conn := cfg.Conns[d.Code]
		if conn == nil {
			return nil, fmt.Errorf("%s: no connection to district %s (%s)", reporting.RollupName, d.Code, d.Name)
		}
		districts = append(districts, reporting.RollupDistrictConn{Name: d.Name, RegionCode: d.Code, Conn: conn})
	}
	log := cfg.Logger.With("service", reporting.RollupName)
	svc, err := reporting.OpenRollup(reporting.RollupConfig{CityCode: cfg.File.City, Districts: districts, Deadline: cfg.File.DeadlineOrDefault(), Logger: log})
	if err != nil {
		return nil, err
	}
	opts := cfg.ServerOptions
	opts.Logger, opts.Telemetry = log, cfg.Telemetry
	srv, err := assembly.New(assembly.Config{
		Name: reporting.RollupName, Verifier: cfg.Verifier, Tree: tree, Policies: reporting.Policies(), Register: svc.Register,
		Server: opts, Limits: cfg.Limits,
	})
	if err != nil {
		return nil, err
	}
	return &RollupNode{Server: srv}, nil
}

// Serve serves the rollup on lis until ctx is cancelled, then drains and stops.
func (n *RollupNode) Serve(ctx context.Context, lis net.Listener) error {
	return n.Server.Serve(ctx, lis)
}
