package server

import (
	"log/slog"
	"net"
	"time"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// Defaults applied by New to zero Options fields.
const (
	DefaultMaxRecvMsgSize  = 4 << 20
	DefaultDrainDelay      = 5 * time.Second
	DefaultShutdownTimeout = 20 * time.Second
	// DefaultMaxConcurrentStreams is every connection's HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS:
	// a client opening more waits for one to end. grpc-go's own default is unlimited, so one
	// connection could hold a thousand event feed Watches. The gateway multiplexes its REST
	// calls to a replica over one connection; 128 at once is more than a replica serves in
	// parallel on the cores it has.
	DefaultMaxConcurrentStreams = 128
)

// DefaultKeepalive returns the server's keepalive when Options.Keepalive is nil: ping an idle
// client after a minute and drop it if it does not answer in 20s, so dead peers (a pod gone
// without a FIN) are noticed; recycle connections after about 30 minutes so clients behind a
// Kubernetes Service spread over new replicas. Long Watch streams end with the connection;
// their consumers resume from their cursor, as they must after any disconnect.
func DefaultKeepalive() keepalive.ServerParameters {
	return keepalive.ServerParameters{
		Time:                  time.Minute,
		Timeout:               20 * time.Second,
		MaxConnectionAge:      30 * time.Minute,
		MaxConnectionAgeGrace: time.Minute,
	}
}

// DefaultKeepalivePolicy returns the enforcement policy when Options.KeepalivePolicy is nil:
// clients may ping every 10s (grpc-go's own floor), also with no call in flight, and are
// disconnected (GOAWAY too_many_pings) when they ping faster.
func DefaultKeepalivePolicy() keepalive.EnforcementPolicy {
	return keepalive.EnforcementPolicy{
		MinTime:             10 * time.Second,
		PermitWithoutStream: true,
	}
}

// Options configures New. The zero value is a working plaintext server.
type Options struct {
	// Logger receives the request log and lifecycle messages; build it with
	// telemetry.NewLogger so records carry trace ids. Nil means slog.Default().
	Logger *slog.Logger
	// Telemetry are the providers for the otelgrpc stats handler. Nil means the otel
	// globals (no-ops unless the binary installed providers).
	Telemetry *telemetry.Providers

	// Unary and Stream are the caller's interceptors — typically auth's — run after recovery
	// and request logging and before validation, so an unauthenticated caller learns nothing
	// from validation errors.
	Unary  []grpc.UnaryServerInterceptor
	Stream []grpc.StreamServerInterceptor
	// CheckMethods, when set, is given every registered service's methods when Serve starts
	// (health and reflection included); an error stops Serve before it accepts a connection.
	// Pass auth's coverage check so no method is ever served without an access policy.
	CheckMethods func(map[string]grpc.ServiceInfo) error

	// Validator checks every request message against its protovalidate rules. Nil means a
	// validator built by protovalidate.New().
	Validator protovalidate.Validator

	// MaxRecvMsgSize is the largest request message accepted, in bytes; larger ones fail with
	// RESOURCE_EXHAUSTED. Zero means DefaultMaxRecvMsgSize.
	MaxRecvMsgSize int
	// MethodMaxRecvMsgSize raises the limit for the methods named (full gRPC method names), e.g.
	// an upload carrying a photo; every other method keeps MaxRecvMsgSize. The transport then
	// reads messages up to the largest of them, and a message over its own method's limit is
	// refused (RESOURCE_EXHAUSTED) as soon as it is decoded: for a unary method before any
	// interceptor runs, for a stream's message once the interceptors' own checks pass.
	MethodMaxRecvMsgSize map[string]int
	// MaxConcurrentStreams caps the calls and streams in flight on one connection. Zero means
	// DefaultMaxConcurrentStreams.
	MaxConcurrentStreams uint32
	// Keepalive and KeepalivePolicy override DefaultKeepalive and DefaultKeepalivePolicy.
	Keepalive       *keepalive.ServerParameters
	KeepalivePolicy *keepalive.EnforcementPolicy
	// TLS, when set, serves TLS (and mTLS when it has a client CA) instead of plaintext.
	TLS *TLSConfig

	// HealthListener, when set, also serves the gRPC health checking protocol on this listener,
	// in plaintext and without authentication, with the same statuses: for the kubelet's gRPC
	// probes when the main port requires mutual TLS, which the kubelet cannot present. It is
	// closed when Serve returns.
	HealthListener net.Listener

	// DrainDelay is how long Serve keeps serving after its context is cancelled, with every
	// health status NOT_SERVING, so load balancers and Kubernetes stop sending new calls
	// before the server stops accepting them. Zero means DefaultDrainDelay; negative means
	// none.
	DrainDelay time.Duration
	// ShutdownTimeout bounds the graceful stop after the drain: calls still running then are
	// cancelled (grpc.Server.Stop). Zero means DefaultShutdownTimeout.
	ShutdownTimeout time.Duration

	// Reflection serves gRPC server reflection (grpc.reflection.v1 and v1alpha), which lets
	// tools such as grpcurl call methods without the proto files. It describes the whole API,
	// so production leaves it off (`jiayuan serve --reflection`); `jiayuan dev` turns it on.
	// The auth policies let only authenticated callers use it.
	Reflection bool

	// ServerOptions are appended to the options New builds, for anything not covered above.
	ServerOptions []grpc.ServerOption
}

func (o Options) withDefaults() (Options, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Validator == nil {
		v, err := protovalidate.New()
		if err != nil {
			return o, err
		}
		o.Validator = v
	}
	if o.MaxRecvMsgSize == 0 {
		o.MaxRecvMsgSize = DefaultMaxRecvMsgSize
	}
	if o.MaxConcurrentStreams == 0 {
		o.MaxConcurrentStreams = DefaultMaxConcurrentStreams
	}
	if o.Keepalive == nil {
		ka := DefaultKeepalive()
		o.Keepalive = &ka
	}
	if o.KeepalivePolicy == nil {
		kp := DefaultKeepalivePolicy()
		o.KeepalivePolicy = &kp
	}
	switch {
	case o.DrainDelay == 0:
		o.DrainDelay = DefaultDrainDelay
	case o.DrainDelay < 0:
		o.DrainDelay = 0
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	return o, nil
}
