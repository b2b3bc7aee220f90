package suite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"time"

	"google.golang.org/grpc"

	"github.com/jiayuan/jiayuan/platform/assembly"
	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/idempotency"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/personal"
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
	// runner is the service's background work, if it has any.
	runner Runner
	// trail is the service's audit trail, chained while the node serves.
	trail *audit.Trail
	log   *slog.Logger
	// stopMetrics ends the node's own metric reports when it stops.
	stopMetrics func()
}

// NodeConfig is what running one service takes.
type NodeConfig struct {
	DatabaseURL string
	// PoolSize is each PostgreSQL pool's size (sqlstore.WithPoolSize); 0 leaves it to the URL's
	// pool_max_conns, else sqlstore.DefaultPoolSize.
	PoolSize  int
	Tree      *region.Tree
	Verifier  *auth.Verifier
	Logger    *slog.Logger
	Telemetry *telemetry.Providers
	// ServerOptions tunes the gRPC server (drain delay, TLS, size caps); the assembly adds
	// authentication and the method check.
	ServerOptions server.Options
	// Peers are connections to the services the spec calls (Spec.Peers), by name, each
	// carrying this service's own credentials. The caller owns and closes them.
	Peers map[string]grpc.ClientConnInterface
	// Keys seal the personal data a service stores; required when the spec has RotateKeys.
	Keys *personal.Keys
	// Photos keeps the photos a service attaches to its records; required when the spec has
	// Photos.
	Photos *Photos
	// Notify is how a service's notifications reach residents (Spec.Notifies).
	Notify Notify
	// Limits are the node's rate limits and stream caps; nil means limits.DefaultConfig().
	Limits *limits.Config
	// AuditLogOnly writes the audit trail as log lines instead of records in the service's
	// database (platform/audit); only to measure the records' cost (jiayuan-bench).
	AuditLogOnly bool
	// Rules is the district's rules file for a service that reads it (Spec.Rules); "demo" or
	// empty for the demo rules.
	Rules string
	// SweepInterval is how often a service with a sweeper sweeps; zero for its default.
	SweepInterval time.Duration
	// FollowUp is the follow-up settings of a service that follows contracts up
	// (Spec.FollowUp); zero fields take its defaults.
	FollowUp FollowUp
}

// OpenNode opens the service's database, migrates it, builds the service and its gRPC server
// as platform/assembly assembles every service: authentication, the deny-by-default method
// check and the services every node shares.
func OpenNode(ctx context.Context, spec Spec, cfg NodeConfig) (*Node, error) {
	// Only the declared peers reach the service, so a spec cannot use a connection it does not
	// name (and `jiayuan serve` would not configure).
	peers := make(map[string]grpc.ClientConnInterface, len(spec.Peers))
	for _, name := range spec.Peers {
		conn := cfg.Peers[name]
		if conn == nil {
			return nil, fmt.Errorf("%s: no connection to the %s service, which it calls", spec.Name, name)
		}
		peers[name] = conn
	}
	if spec.RotateKeys != nil && cfg.Keys == nil {
		return nil, fmt.Errorf("%s: %w: the service stores personal data, sealed (--personal-data-keys)", spec.Name, personal.ErrNoKeys)
	}
	if err := photosOf(spec, cfg.Photos); err != nil {
		return nil, err
	}
	dbOpts := []sqlstore.Option{sqlstore.WithPoolSize(cfg.PoolSize)}
	if cfg.Telemetry != nil && cfg.Telemetry.TracesExported {
		dbOpts = append(dbOpts, sqlstore.WithTracerProvider(cfg.Telemetry.TracerProvider))
	}
	if cfg.Telemetry != nil && cfg.Telemetry.MetricsExported {
		// The pools' use, and the meter the platform pieces a service builds on its database
		// (feed consumers, sweepers) record on: every service gets them without a line.
		dbOpts = append(dbOpts, sqlstore.WithMetrics(cfg.Telemetry.MeterProvider, spec.Name))
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL, dbOpts...)
	if err != nil {
		return nil, fmt.Errorf("%s: open database: %w", spec.Name, err)
	}
	log := cfg.Logger.With("service", spec.Name)
	env := Env{DB: db, Tree: cfg.Tree, Logger: log, Peers: peers, Keys: cfg.Keys, Notify: cfg.Notify, Rules: cfg.Rules, SweepInterval: cfg.SweepInterval,
		FollowUp: cfg.FollowUp}
	if spec.Photos {
		env.Photos = cfg.Photos
	}
	svc, err := spec.Open(ctx, env)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", spec.Name, err)
	}
	opts := cfg.ServerOptions
	// A method that carries more than the node's request limit (a photo upload) says so;
	// every other method keeps the limit.
	if c, ok := svc.(interface{ MethodMaxRecvMsgSize() map[string]int }); ok {
		opts.MethodMaxRecvMsgSize = maps.Clone(opts.MethodMaxRecvMsgSize)
		if opts.MethodMaxRecvMsgSize == nil {
			opts.MethodMaxRecvMsgSize = map[string]int{}
		}
		maps.Copy(opts.MethodMaxRecvMsgSize, c.MethodMaxRecvMsgSize())
	}
	opts.Logger = log
	opts.Telemetry = cfg.Telemetry
	trail := audit.New(db, log, audit.WithRecords(!cfg.AuditLogOnly))
	srv, err := assembly.New(assembly.Config{
		Name: spec.Name, Verifier: cfg.Verifier, Tree: cfg.Tree, Policies: spec.Policies(), Register: svc.Register, Server: opts,
		Audit: trail, Limits: cfg.Limits,
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	stopMetrics, err := calendarMetrics(spec, db, cfg.Rules)
	if err != nil {
		db.Close()
		return nil, err
	}
	node := &Node{Spec: spec, Server: srv, DB: db, log: log, trail: trail, stopMetrics: stopMetrics}
	if r, ok := svc.(Runner); ok {
		node.runner = r
	}
	return node, nil
}

// Request ids (AIP-155) are kept a week: long enough for any client retry, including a
// resident's phone coming back online days later, and no longer, so the table stays small.
const (
	requestIDRetention = 7 * 24 * time.Hour
	requestIDExpiry    = time.Hour
	// The audit trail is chained soon after each commit of this node; this interval catches
	// the rest (other replicas' records, transactions that ended late).
	auditChainInterval = 5 * time.Second
)

// Serve serves the node on lis until ctx is cancelled, then drains and stops, and closes the
// database. Beside the server it forgets expired request ids, and a service with background
// work (Runner) runs it until ctx ends; if that fails before, the node drains and stops too and
// Serve returns its error: a replica whose background work is dead must be restarted, not left
// serving half a service.
func (n *Node) Serve(ctx context.Context, lis net.Listener) error {
	defer n.DB.Close()
	defer n.stopMetrics()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	expired := make(chan struct{})
	go func() {
		defer close(expired)
		idempotency.Expire(ctx, n.DB, requestIDRetention, requestIDExpiry, n.log)
	}()
	chained := make(chan struct{})
	go func() {
		defer close(chained)
		n.trail.Run(ctx, auditChainInterval)
	}()
	ran := make(chan error, 1)
	if n.runner == nil {
		ran <- nil
	} else {
		go func() {
			err := n.runner.Run(ctx)
			switch {
			case err == nil:
			case ctx.Err() == nil:
				n.log.ErrorContext(ctx, "background work failed; stopping the service", "error", err)
				err = fmt.Errorf("%s: background work: %w", n.Spec.Name, err)
				cancel()
			default:
				// Stopped as asked; an error on the way out is no reason to fail the stop.
				if !errors.Is(err, context.Canceled) {
					n.log.WarnContext(context.WithoutCancel(ctx), "background work ended with an error while stopping", "error", err)
				}
				err = nil
			}
			ran <- err
		}()
	}
	serveErr := n.Server.Serve(ctx, lis)
	// The server stops on its own only when its listener fails; the background work then goes
	// too. Either way, wait for it before the database closes under it.
	cancel()
	<-expired
	<-chained
	return errors.Join(serveErr, <-ran)
}
