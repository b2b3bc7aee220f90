// Package server is the gRPC server every jiayuan service runs: health checking and (when
// asked) server reflection, panic recovery, a request log with trace ids, the caller's (auth) interceptors,
// protovalidate validation with field-named errors, OpenTelemetry, message size limits,
// keepalive, optional (m)TLS, and a graceful stop that drains before it stops.
//
// Interceptor order, outermost first: request log → recovery → Options.Unary/Stream (auth) →
// validation → handler. The otelgrpc stats handler runs before all of them, so the request
// log carries the call's trace id.
//
// jiayuan's services do not call New themselves: platform/assembly builds every service's server
// with authentication and the policies' coverage check, as below. Typical use:
//
//	srv, err := server.New(server.Options{Logger: logger, Telemetry: &providers,
//		Unary: []grpc.UnaryServerInterceptor{auth.UnaryServerInterceptor(v, policies)},
//		Stream: []grpc.StreamServerInterceptor{auth.StreamServerInterceptor(v, policies)},
//		CheckMethods: func(m map[string]grpc.ServiceInfo) error { return auth.CheckCoverage(m, policies) }})
//	partnerv1.RegisterPartnerServiceServer(srv, impl) // on srv itself: see RegisterService
//	err = srv.Serve(ctx, lis) // returns after ctx is cancelled and the server has stopped
//	shutdownTelemetry(flushCtx) // the caller owns telemetry: flush it after Serve returns
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthgrpc "google.golang.org/grpc/health/grpc_health_v1"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/platform/apierr"
)

// Server is a gRPC server with jiayuan's common setup. Register services on GRPC(), then
// call Serve once.
type Server struct {
	opts       Options
	grpc       *grpc.Server
	requestLog requestLog
	health     *health.Server
	served     atomic.Bool
	// stopping is cancelled when the graceful stop begins, to end open streams.
	stopping     context.Context
	markStopping context.CancelFunc
}

// New builds a Server from opts (see Options for the defaults).
func New(opts Options) (*Server, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("server: protovalidate: %w", err)
	}

	s := &Server{opts: opts, health: health.NewServer()}
	s.stopping, s.markStopping = context.WithCancel(context.Background())

	rl := requestLog{logger: opts.Logger}
	s.requestLog = rl
	val := validation{v: opts.Validator}
	unary := []grpc.UnaryServerInterceptor{rl.unary, recovery.UnaryServerInterceptor(recoveryOption(opts.Logger))}
	unary = append(unary, opts.Unary...)
	unary = append(unary, val.unary)
	stream := []grpc.StreamServerInterceptor{rl.stream, s.endStreamsOnStop, recovery.StreamServerInterceptor(recoveryOption(opts.Logger))}
	stream = append(stream, opts.Stream...)
	stream = append(stream, val.stream)

	otelOpts := []otelgrpc.Option{otelgrpc.WithFilter(notHealthCheck)}
	if t := opts.Telemetry; t != nil {
		otelOpts = append(otelOpts,
			otelgrpc.WithTracerProvider(t.TracerProvider),
			otelgrpc.WithMeterProvider(t.MeterProvider),
			otelgrpc.WithPropagators(t.Propagator))
	}

	sopts := []grpc.ServerOption{
		grpc.StatsHandler(otelgrpc.NewServerHandler(otelOpts...)),
		grpc.ChainUnaryInterceptor(unary...),
		grpc.ChainStreamInterceptor(stream...),
		grpc.MaxRecvMsgSize(opts.transportMaxRecv()),
		grpc.MaxConcurrentStreams(opts.MaxConcurrentStreams),
		grpc.ForceServerCodecV2(newTolerantCodec()), // see RegisterService
		grpc.KeepaliveParams(*opts.Keepalive),
		grpc.KeepaliveEnforcementPolicy(*opts.KeepalivePolicy),
	}
	if opts.TLS != nil {
		cfg, err := opts.TLS.build(opts.Logger)
		if err != nil {
			return nil, err
		}
		sopts = append(sopts, grpc.Creds(credentials.NewTLS(cfg)))
	}
	sopts = append(sopts, opts.ServerOptions...)

	s.grpc = grpc.NewServer(sopts...)
	healthgrpc.RegisterHealthServer(s.grpc, s.health)
	if opts.Reflection {
		reflection.Register(s.grpc)
	}
	return s, nil
}

// GRPC returns the underlying gRPC server. Register services on the Server itself (see
// RegisterService), before Serve.
func (s *Server) GRPC() *grpc.Server { return s.grpc }

// Health returns the health server. Serve marks the whole server ("") and every registered
// service SERVING when it starts, and all of them NOT_SERVING when it drains; a service may
// set its own status in between (e.g. NOT_SERVING while its database is unreachable).
func (s *Server) Health() *health.Server { return s.health }

// Serve serves on lis until ctx is cancelled, then stops gracefully: every health status goes
// NOT_SERVING, the server keeps serving for Options.DrainDelay so load balancers notice, then
// it stops accepting calls and waits for running ones up to Options.ShutdownTimeout before
// cancelling them. Open streams have their context cancelled when the graceful stop begins
// (see endStreamsOnStop); unary calls run to completion. It returns nil after a stop caused by ctx, or the error that stopped it
// otherwise. lis is closed when Serve returns. Serve may be called once.
//
// Flushing telemetry is the caller's job, after Serve returns: the caller owns the providers.
func (s *Server) Serve(ctx context.Context, lis net.Listener) error {
	if s.served.Swap(true) {
		return errors.New("server: Serve called more than once")
	}
	if s.opts.CheckMethods != nil {
		if err := s.opts.CheckMethods(s.grpc.GetServiceInfo()); err != nil {
			_ = lis.Close()
			return fmt.Errorf("server: refusing to serve: %w", err)
		}
	}

	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for name := range s.grpc.GetServiceInfo() {
		if !infrastructure(name) {
			s.health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
		}
	}

	if hl := s.opts.HealthListener; hl != nil {
		probes := grpc.NewServer()
		healthgrpc.RegisterHealthServer(probes, s.health)
		go func() { _ = probes.Serve(hl) }()
		// Stop, not GracefulStop: health Watch streams never end by themselves.
		defer probes.Stop()
		s.opts.Logger.InfoContext(ctx, "gRPC health serving", "addr", hl.Addr().String())
	}

	served := make(chan error, 1)
	go func() { served <- s.grpc.Serve(lis) }()
	s.opts.Logger.InfoContext(ctx, "gRPC server serving", "addr", lis.Addr().String())

	select {
	case err := <-served:
		// The listener failed: nothing left to drain.
		s.health.Shutdown()
		s.grpc.Stop()
		return fmt.Errorf("server: serve: %w", err)
	case <-ctx.Done():
	}

	// ctx is done: log with a context that keeps its values (trace ids) but not its end.
	logCtx := context.WithoutCancel(ctx)
	s.health.Shutdown()
	s.opts.Logger.InfoContext(logCtx, "gRPC server draining", "drain_delay", s.opts.DrainDelay)
	drain := time.NewTimer(s.opts.DrainDelay)
	select {
	case <-drain.C:
	case err := <-served:
		drain.Stop()
		s.grpc.Stop()
		return fmt.Errorf("server: serve: %w", err)
	}

	stopped := make(chan struct{})
	s.markStopping()
	go func() {
		s.grpc.GracefulStop()
		close(stopped)
	}()
	deadline := time.NewTimer(s.opts.ShutdownTimeout)
	defer deadline.Stop()
	select {
	case <-stopped:
	case <-deadline.C:
		s.opts.Logger.WarnContext(logCtx, "gRPC graceful stop timed out; cancelling remaining calls",
			"shutdown_timeout", s.opts.ShutdownTimeout)
		// Stop closes every connection and returns; it does not wait for handlers that
		// ignore their context, and neither does Serve: a stuck handler must not keep the
		// process from exiting.
		s.grpc.Stop()
	}
	err := <-served
	s.opts.Logger.InfoContext(logCtx, "gRPC server stopped")
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("server: serve: %w", err)
	}
	return nil
}

// endStreamsOnStop cancels a stream's context when the graceful stop begins. Streams such as
// an event feed Watch or a health Watch never end by themselves and would hold the graceful
// stop until its timeout; handlers that honour their context end at once instead, and the
// client gets UNAVAILABLE, its cue to reconnect (to another replica: this one has sent GOAWAY)
// and resume. Unary calls are not touched: they run to completion.
func (s *Server) endStreamsOnStop(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	ctx, cancel := context.WithCancel(ss.Context())
	defer cancel()
	stop := context.AfterFunc(s.stopping, cancel)
	defer stop()
	err := handler(srv, contextStream{ServerStream: ss, ctx: ctx})
	if err != nil && s.stopping.Err() != nil && ss.Context().Err() == nil {
		if c := status.Code(apierr.ToStatus(err)); c == codes.Canceled || c == codes.DeadlineExceeded {
			return status.Error(codes.Unavailable, "the server is shutting down; reconnect and resume")
		}
	}
	return err
}

// contextStream is a ServerStream with another context.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s contextStream) Context() context.Context { return s.ctx }

// infrastructure reports the services the server itself registers, which need no status of
// their own.
func infrastructure(service string) bool {
	return service == healthgrpc.Health_ServiceDesc.ServiceName || strings.HasPrefix(service, "grpc.reflection.")
}

// notHealthCheck keeps health probes (every few seconds from Kubernetes) out of traces and
// metrics.
func notHealthCheck(info *stats.RPCTagInfo) bool {
	return !strings.HasPrefix(info.FullMethodName, "/grpc.health.v1.Health/")
}
