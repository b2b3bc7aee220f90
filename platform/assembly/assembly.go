// Package assembly builds a service's gRPC server the one way every jiayuan service runs it,
// in production (`jiayuan serve`), under `jiayuan dev` and in each service's tests
// (assemblytest): the server of platform/server with authentication and the per-method role
// check of platform/auth in its chain, the rate limits and stream caps of platform/limits, the service's policies merged with the standard ones
// (health public, reflection for authenticated callers) and the shared services', the deny-by-default coverage check at
// start, the shared services every node serves (the region tree, platform/region/regionapi;
// the service's audit trail, platform/audit/auditapi), and then the service's own.
package assembly

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"

	"github.com/jiayuan/jiayuan/platform/audit"
	"github.com/jiayuan/jiayuan/platform/audit/auditapi"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/region/regionapi"
	"github.com/jiayuan/jiayuan/platform/server"
)

// Config is what assembling a service's server takes.
type Config struct {
	// Name names the service in errors.
	Name string
	// Verifier authenticates every call's bearer token.
	Verifier *auth.Verifier
	// Tree is the deployment's region tree, which the shared RegionService serves.
	Tree *region.Tree
	// Policies are the roles allowed on each of the service's own methods.
	Policies auth.Policies
	// Register adds the service's own gRPC services to the server.
	Register func(grpc.ServiceRegistrar)
	// Audit is the service's audit trail (platform/audit): every call's context carries it,
	// so that resource.Run and auth.AuditRead write their records to it, and the node serves
	// it to auditors (AuditService, platform/audit/auditapi). Nil (tests of a service alone)
	// leaves each write to the resource path's own trail, each read to the log, and no
	// AuditService.
	Audit *audit.Trail
	// Limits are the rate limits, the failed authentication buckets and the stream caps every
	// call passes (platform/limits); nil means limits.DefaultConfig().
	Limits *limits.Config
	// Server tunes the gRPC server (logger, telemetry, TLS, drain, size caps). Interceptors
	// given here run after authentication; CheckMethods is the assembly's own and must be nil.
	Server server.Options
}

// Policies returns every policy a server assembled for a service with the policies own
// enforces: the standard ones (health, reflection), the shared services', and own. A method in two sets is
// an error.
func Policies(own auth.Policies) (auth.Policies, error) {
	return auth.Merge(auth.Standard(), regionapi.Policies(), auditapi.Policies(), own)
}

// New builds the service's server, ready to Serve. Serve refuses to start while a registered
// method has no policy.
func New(cfg Config) (*server.Server, error) {
	if cfg.Verifier == nil || cfg.Tree == nil || cfg.Register == nil {
		return nil, fmt.Errorf("%s: assembly: a verifier, a region tree and a Register function are required", cfg.Name)
	}
	if cfg.Server.CheckMethods != nil {
		return nil, errors.New(cfg.Name + ": assembly: Server.CheckMethods is set by the assembly (the policies' coverage)")
	}
	policies, err := Policies(cfg.Policies)
	if err != nil {
		return nil, fmt.Errorf("%s: policies: %w", cfg.Name, err)
	}
	lc := limits.DefaultConfig()
	if cfg.Limits != nil {
		lc = *cfg.Limits
	}
	var lopts []limits.Option
	if t := cfg.Server.Telemetry; t != nil {
		lopts = append(lopts, limits.WithMetrics(t.MeterProvider, cfg.Name))
	}
	limiter, err := limits.New(lc, lopts...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cfg.Name, err)
	}
	opts := cfg.Server
	// Authentication comes first among the caller's interceptors: nothing runs for a caller
	// who may not call the method. Repeated failures from one address are refused before
	// their tokens are read; then each caller's calls and streams are counted against its
	// own limits, which need the principal authentication found.
	guard := []auth.GuardOption{auth.WithFailureGate(limiter)}
	if cfg.Audit != nil {
		guard = append(guard, auth.OnRoleDenied(cfg.Audit.RoleDenied))
	}
	unary := []grpc.UnaryServerInterceptor{auth.UnaryServerInterceptor(cfg.Verifier, policies, guard...), limiter.UnaryServerInterceptor()}
	stream := []grpc.StreamServerInterceptor{auth.StreamServerInterceptor(cfg.Verifier, policies, guard...), limiter.StreamServerInterceptor()}
	if cfg.Audit != nil {
		unary = append(unary, auditUnary(cfg.Audit))
		stream = append(stream, auditStream(cfg.Audit))
	}
	opts.Unary = append(unary, opts.Unary...)
	opts.Stream = append(stream, opts.Stream...)
	opts.CheckMethods = func(info map[string]grpc.ServiceInfo) error { return auth.CheckCoverage(info, policies) }
	srv, err := server.New(opts)
	if err != nil {
		return nil, fmt.Errorf("%s: server: %w", cfg.Name, err)
	}
	// On srv itself, not its grpc.Server: a request that does not decode is then
	// INVALID_ARGUMENT and logged (see server.Server.RegisterService).
	regionapi.New(cfg.Tree).Register(srv)
	if cfg.Audit != nil {
		auditapi.New(cfg.Name, cfg.Audit.DB(), cfg.Tree).Register(srv)
	}
	cfg.Register(srv)
	return srv, nil
}

// auditUnary puts the trail in every call's context.
func auditUnary(trail *audit.Trail) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		return handler(audit.NewContext(ctx, trail), req)
	}
}

// auditStream puts the trail in every stream's context.
func auditStream(trail *audit.Trail) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		return handler(srv, auditedStream{ServerStream: ss, ctx: audit.NewContext(ss.Context(), trail)})
	}
}

type auditedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s auditedStream) Context() context.Context { return s.ctx }
