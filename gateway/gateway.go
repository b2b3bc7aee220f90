// Package gateway is jiayuan's REST front: every service's HTTP mapping (from the protos'
// google.api.http annotations, through grpc-gateway), the OpenAPI document at /openapi.json,
// an aggregated /healthz, CORS, OpenTelemetry, and errors as JSON that name the bad field.
//
// Routes:
//
//	/v1/...        the services' REST mappings, forwarded to their gRPC upstreams
//	/openapi.json  the OpenAPI document
//	/healthz       200 when every upstream's gRPC health check is SERVING, else 503
//	/readyz        200 unless the gateway is draining (its own readiness, for probes)
//
// Every error, whether from an upstream or from the gateway itself, is
//
//	{"code": 3, "status": "INVALID_ARGUMENT", "message": "...", "details": [...]}
//
// with the HTTP status from grpc-gateway's standard mapping of the gRPC code. "code" is the
// gRPC code number, as in the google.rpc.Status schema (rpcStatus) of the OpenAPI document;
// "details" are the google.rpc details in protojson (BadRequest field violations included).
//
// The Authorization header is forwarded to the upstream as "authorization" metadata; the
// services verify it themselves.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/rs/cors"
	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/jiayuan/jiayuan/gateway/openapi"
	"github.com/jiayuan/jiayuan/platform/grpcclient"
	"github.com/jiayuan/jiayuan/platform/limits"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// DefaultMaxBodyBytes is the request body limit when Options.MaxBodyBytes is zero.
const DefaultMaxBodyBytes = 1 << 20

// DefaultHealthTimeout bounds each upstream health check made for /healthz.
const DefaultHealthTimeout = 2 * time.Second

// Upstream is one gRPC service behind the gateway.
type Upstream struct {
	// Name identifies the upstream in /healthz, e.g. "partner".
	Name string
	// Target is the gRPC target, e.g. "partner:8080" or "dns:///partner.jiayuan:8080".
	Target string
	// Register adds the service's REST routes to the mux, e.g.
	// partnerv1.RegisterPartnerServiceHandler.
	Register func(ctx context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error
	// DialOptions must include transport credentials (insecure.NewCredentials() for
	// plaintext, or TLS); the gateway adds its own OpenTelemetry stats handler.
	DialOptions []grpc.DialOption
	// HealthService is the name asked in the gRPC health check; empty asks about the whole
	// server.
	HealthService string
}

// Options configures New.
type Options struct {
	Upstreams []Upstream
	// AllowedOrigins are the browser origins allowed by CORS, e.g.
	// "https://console.jiayuan.example". Empty means no cross-origin access. "*" allows any
	// origin and cannot be combined with AllowCredentials.
	AllowedOrigins []string
	// AllowCredentials lets browsers send cookies with cross-origin requests. Bearer tokens
	// in the Authorization header do not need it.
	AllowCredentials bool
	// MaxBodyBytes limits request bodies; larger ones get 413. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// RouteBodyLimits replace MaxBodyBytes for the routes that carry more (a photo upload),
	// keyed by a net/http ServeMux pattern with its method, e.g.
	// "POST /v1/demands/{demand}/photos:upload".
	RouteBodyLimits map[string]int64
	// OpenAPI is the document served at /openapi.json. Nil means openapi.Document().
	OpenAPI []byte
	// Logger receives the access log and gateway errors; build it with telemetry.NewLogger
	// so records carry trace ids. Nil means slog.Default().
	Logger *slog.Logger
	// Telemetry are the providers that instrument incoming HTTP requests and the outgoing
	// gRPC calls. Nil means the otel globals.
	Telemetry *telemetry.Providers
	// HealthTimeout bounds each upstream's health check. Zero means DefaultHealthTimeout.
	HealthTimeout time.Duration
	// Limits are the gateway's own limits: on requests without a token and on failed
	// authentications, per client address (see limit.go), and the proxies whose
	// X-Forwarded-For is believed. Nil means limits.DefaultConfig(). Callers' rate limits by
	// principal are the services'.
	Limits *limits.Config
}

// Gateway serves the REST API. Build it with New; release its connections with Close.
type Gateway struct {
	opts Options
	// limits finds a request's route in Options.RouteBodyLimits (see bodyLimit).
	limits    *http.ServeMux
	mux       *runtime.ServeMux
	marshaler *jsonMarshaler
	upstreams []upstreamConn
	edge      *edgeLimiter
	handler   http.Handler
	draining  atomic.Bool
}

type upstreamConn struct {
	Upstream
	conn *grpc.ClientConn
}

// New connects to every upstream (connections are made lazily, on first use) and registers
// its routes. ctx is passed to the Register functions.
func New(ctx context.Context, opts Options) (*Gateway, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.OpenAPI == nil {
		opts.OpenAPI = openapi.Document()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.HealthTimeout <= 0 {
		opts.HealthTimeout = DefaultHealthTimeout
	}
	lc := limits.DefaultConfig()
	if opts.Limits != nil {
		lc = *opts.Limits
	}
	var lopts []limits.Option
	if t := opts.Telemetry; t != nil {
		lopts = append(lopts, limits.WithMetrics(t.MeterProvider, "gateway"))
	}
	edge, err := newEdgeLimiter(lc, lopts...)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}

	// lowerCamel names out; every field out, zero or not (a count of 0 is an answer, and
	// clients should not have to know proto3's defaults), except unset messages and optional
	// fields; unknown fields in are an error.
	out := protojson.MarshalOptions{UseProtoNames: false, EmitDefaultValues: true}
	g := &Gateway{
		opts: opts,
		edge: edge,
		marshaler: &jsonMarshaler{
			JSONPb: &runtime.JSONPb{
				MarshalOptions:   out,
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			},
			enc: &encoder{opts: out},
		},
	}
	g.limits = http.NewServeMux()
	for pattern := range opts.RouteBodyLimits {
		// Only the pattern the request matches is read back: the handler never runs.
		g.limits.Handle(pattern, http.NotFoundHandler())
	}
	g.mux = runtime.NewServeMux(
		// A method returning google.api.HttpBody (a photo's image) answers with its raw bytes and
		// content type; every other response is JSON.
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{Marshaler: g.marshaler}),
		runtime.WithForwardResponseOption(rawBodyHeaders),
		runtime.WithErrorHandler(g.handleError),
		runtime.WithForwardResponseRewriter(rewriteStatus(g.marshaler.MarshalOptions)),
		runtime.WithMiddlewares(nameSpanAfterRoute, trackReadMask),
	)

	var otelOpts []otelgrpc.Option
	if t := opts.Telemetry; t != nil {
		otelOpts = append(otelOpts,
			otelgrpc.WithTracerProvider(t.TracerProvider),
			otelgrpc.WithMeterProvider(t.MeterProvider),
			otelgrpc.WithPropagators(t.Propagator))
	}
	for _, u := range opts.Upstreams {
		// Round robin over every address the target resolves to: behind a headless Kubernetes
		// Service that is every replica, so calls spread over the pods instead of riding one
		// connection to one pod. The upstream's own options come last and may override it.
		// Retries of UNAVAILABLE within a budget, and a deadline on every call, as every client
		// of ours (platform/grpcclient).
		dial := append(grpcclient.DialOptions(upstreamCallTimeout),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(opts.maxResponse())))
		dial = append(dial, u.DialOptions...)
		dial = append(dial, grpc.WithStatsHandler(otelgrpc.NewClientHandler(otelOpts...)),
			grpc.WithChainUnaryInterceptor(normalizeUpdateMask, noteReadMask))
		conn, err := grpc.NewClient(u.Target, dial...)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("gateway: upstream %s: %w", u.Name, err), g.Close())
		}
		g.upstreams = append(g.upstreams, upstreamConn{Upstream: u, conn: conn})
		if err := u.Register(ctx, g.mux, conn); err != nil {
			return nil, errors.Join(fmt.Errorf("gateway: register upstream %s: %w", u.Name, err), g.Close())
		}
	}

	g.handler = g.buildHandler()
	return g, nil
}

// upstreamCallTimeout bounds a call to a service that the REST client gave no deadline
// (grpc-gateway turns a Grpc-Timeout header into one): longer than a photo's upload takes on
// a slow line, shorter than the HTTP server's write timeout.
const upstreamCallTimeout = 30 * time.Second

// defaultMaxResponse is the largest upstream response gRPC clients take by default.
const defaultMaxResponse = 4 << 20

// maxResponse is the largest upstream response the gateway reads: what a route may carry in
// (a photo uploaded) may be asked for back (the photo served), with room for its framing.
func (o Options) maxResponse() int {
	m := int64(defaultMaxResponse)
	for _, n := range o.RouteBodyLimits {
		m = max(m, n+64<<10)
	}
	return int(m)
}

func (o Options) validate() error {
	seen := map[string]bool{}
	for _, u := range o.Upstreams {
		switch {
		case u.Name == "":
			return errors.New("gateway: an upstream has no name")
		case seen[u.Name]:
			return fmt.Errorf("gateway: upstream %s listed twice", u.Name)
		case u.Target == "":
			return fmt.Errorf("gateway: upstream %s has no target", u.Name)
		case u.Register == nil:
			return fmt.Errorf("gateway: upstream %s has no Register function", u.Name)
		}
		seen[u.Name] = true
	}
	if o.MaxBodyBytes < 0 {
		return errors.New("gateway: MaxBodyBytes is negative")
	}
	for pattern, n := range o.RouteBodyLimits {
		if n <= 0 {
			return fmt.Errorf("gateway: the body limit of %q is not positive", pattern)
		}
		if err := checkPattern(pattern); err != nil {
			return err
		}
	}
	if o.AllowCredentials && slices.Contains(o.AllowedOrigins, "*") {
		return errors.New(`gateway: CORS cannot allow credentials from any origin ("*")`)
	}
	return nil
}

// Drain makes /readyz answer 503 from now on, while every route keeps serving: load balancers
// stop sending new requests before the server stops accepting them.
func (g *Gateway) Drain() { g.draining.Store(true) }

// serveReady is the gateway's own readiness, for its probes: ready unless draining. It does
// not depend on the upstreams (that is /healthz): one service's outage must not take every
// gateway, and so the whole API, out of its Service.
func (g *Gateway) serveReady(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if g.draining.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"status":"draining"}`))
		return
	}
	_, _ = w.Write([]byte(`{"status":"ready"}`))
}

// Handler returns the gateway's HTTP handler.
func (g *Gateway) Handler() http.Handler { return g.handler }

// Close closes the upstream connections.
func (g *Gateway) Close() error {
	var errs []error
	for _, u := range g.upstreams {
		if err := u.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("gateway: close upstream %s: %w", u.Name, err))
		}
	}
	g.upstreams = nil
	return errors.Join(errs...)
}

// buildHandler assembles, outermost first: OpenTelemetry → access log → CORS → limits → UTF-8
// check → body limit → routes. The limits come after CORS so that a browser can read a 429
// (and preflights, answered by CORS, cost nothing to count). The body limit is innermost so
// the request body the routes decode is the gateway's own reader, which records why a decode
// failed (see body.go).
func (g *Gateway) buildHandler() http.Handler {
	routes := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/openapi.json":
			g.serveOpenAPI(w, r)
		case "/healthz":
			g.serveHealth(w, r)
		case "/readyz":
			g.serveReady(w)
		default:
			g.mux.ServeHTTP(w, r)
		}
	})
	var h http.Handler = g.edge.limit(g.requireUTF8(g.limitBody(routes)), g.writeError)
	if len(g.opts.AllowedOrigins) > 0 {
		h = cors.New(cors.Options{
			AllowedOrigins:   g.opts.AllowedOrigins,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete},
			AllowedHeaders:   []string{"Authorization", "Content-Type"},
			AllowCredentials: g.opts.AllowCredentials,
			MaxAge:           600,
		}).Handler(h)
	}
	h = accessLog(g.opts.Logger, h)

	otelOpts := []otelhttp.Option{
		otelhttp.WithFilter(func(r *http.Request) bool { return r.URL.Path != "/healthz" && r.URL.Path != "/readyz" }),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method }),
	}
	if t := g.opts.Telemetry; t != nil {
		otelOpts = append(otelOpts,
			otelhttp.WithTracerProvider(t.TracerProvider),
			otelhttp.WithMeterProvider(t.MeterProvider),
			otelhttp.WithPropagators(t.Propagator))
	}
	return otelhttp.NewHandler(h, "jiayuan-gateway", otelOpts...)
}

// nameSpanAfterRoute names the request's span after the matched route ("GET
// /v1/{name=partnerGroups/*}"), which only the runtime mux knows; paths with ids would make
// every span name unique.
func nameSpanAfterRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if pattern, ok := runtime.HTTPPattern(r.Context()); ok {
			trace.SpanFromContext(r.Context()).SetName(r.Method + " " + pattern.String())
		}
		next(w, r, params)
	}
}

func (g *Gateway) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		g.writeError(w, r, methodNotAllowed())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(g.opts.OpenAPI)
}
