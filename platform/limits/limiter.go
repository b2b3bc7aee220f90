package limits

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
)

// ErrorInfo reasons of the refusals.
const (
	ReasonRateLimited  = "RATE_LIMITED"
	ReasonAuthFailures = "TOO_MANY_AUTH_FAILURES"
	ReasonStreams      = "TOO_MANY_STREAMS"
)

// Limiter enforces a Config. It is safe for concurrent use; one serves a whole node (or the
// gateway), so that every call of a caller counts against one bucket.
type Limiter struct {
	cfg      Config
	now      func() time.Time
	calls    *buckets
	failures *buckets

	// refusals counts the calls refused, by reason (WithMetrics); a no-op counter otherwise.
	refusals metric.Int64Counter
	attrs    []attribute.KeyValue

	mu sync.Mutex
	// streams counts the streams open by key; a key is deleted when its count falls to 0, so
	// the map holds only callers with streams open (bounded by connections × MaxConnStreams).
	streams map[string]int
}

// Option configures a Limiter.
type Option func(*Limiter)

// WithClock makes the limiter read the time from now (for tests).
func WithClock(now func() time.Time) Option { return func(l *Limiter) { l.now = now } }

// WithMetrics counts the limiter's refusals on mp (jiayuan.limits.refusals, by reason:
// RATE_LIMITED, TOO_MANY_STREAMS, TOO_MANY_AUTH_FAILURES), labelled with the service (or
// "gateway") that refused them: a burst of them is a client misbehaving or limits set too low.
func WithMetrics(mp metric.MeterProvider, service string) Option {
	return func(l *Limiter) {
		c, err := mp.Meter("github.com/jiayuan/jiayuan/platform/limits").Int64Counter("jiayuan.limits.refusals",
			metric.WithUnit("{call}"), metric.WithDescription("Calls refused by the rate limits, stream caps and failed-authentication buckets, by reason."))
		if err != nil {
			return // the SDK still returns a working no-op counter; keep the default
		}
		l.refusals, l.attrs = c, []attribute.KeyValue{attribute.String("jiayuan.service", service)}
		// Every reason exists from the start, at 0: a rate over it is then right from the
		// first refusal, and the dashboard shows a line rather than nothing.
		for _, reason := range []string{ReasonRateLimited, ReasonStreams, ReasonAuthFailures} {
			c.Add(context.Background(), 0, metric.WithAttributes(append(l.attrs, attribute.String("reason", reason))...))
		}
	}
}

// refused counts one refusal for reason.
func (l *Limiter) refused(reason string) {
	l.refusals.Add(context.Background(), 1, metric.WithAttributes(append(l.attrs, attribute.String("reason", reason))...))
}

// New returns a limiter enforcing cfg, or an error naming each invalid setting.
func New(cfg Config, opts ...Option) (*Limiter, error) {
	var p config.Problems
	cfg.Check(&p)
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("limits: invalid config:\n%w", err)
	}
	return newLimiter(cfg, opts), nil
}

// NewEdge returns a limiter for the gateway, which uses only the settings RegisterEdgeFlags
// declares.
func NewEdge(cfg Config, opts ...Option) (*Limiter, error) {
	var p config.Problems
	cfg.CheckEdge(&p)
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("limits: invalid config:\n%w", err)
	}
	return newLimiter(cfg, opts), nil
}

func newLimiter(cfg Config, opts []Option) *Limiter {
	l := &Limiter{cfg: cfg, now: time.Now, calls: newBuckets(cfg.MaxClients), failures: newBuckets(cfg.MaxClients),
		streams: map[string]int{}, refusals: noop.Int64Counter{}}
	for _, o := range opts {
		o(l)
	}
	return l
}

// Config returns the configuration the limiter enforces.
func (l *Limiter) Config() Config { return l.cfg }

// UnaryServerInterceptor refuses a call over its caller's rate limit. It runs after
// authentication, which puts the principal in the context; calls with none (the public health
// checks) count against their client address.
func (l *Limiter) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if !l.cfg.Disabled {
			if err := l.allow(l.caller(ctx)); err != nil {
				return nil, err
			}
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor refuses a stream over its caller's rate limit (a stream's start is
// a call) or over the cap of streams the caller holds open.
func (l *Limiter) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if l.cfg.Disabled {
			return handler(srv, ss)
		}
		c := l.caller(ss.Context())
		if err := l.allow(c); err != nil {
			return err
		}
		release, err := l.openStream(c)
		if err != nil {
			return err
		}
		defer release()
		return handler(srv, ss)
	}
}

// caller is who a call counts against.
type caller struct {
	key       string
	limit     Limit
	maxStream int
	// who names the caller in refusals: "for this caller" or "from this address".
	who string
}

func (l *Limiter) caller(ctx context.Context) caller {
	if p, ok := auth.FromContext(ctx); ok {
		maxStreams := l.cfg.MaxStreams
		if p.HasRole(auth.RoleSystem) {
			maxStreams = l.cfg.MaxSystemStreams
		}
		return caller{key: "p:" + p.Subject, limit: l.cfg.roleLimit(p.Roles), maxStream: maxStreams, who: "for this caller"}
	}
	return caller{key: "a:" + addrKey(grpcClientAddr(ctx, l.cfg.TrustedProxies)), limit: l.cfg.Anonymous,
		maxStream: l.cfg.MaxStreams, who: "from this address without a token"}
}

func (l *Limiter) allow(c caller) error {
	if c.limit.Off() {
		return nil
	}
	ok, retry := l.calls.take(c.key, c.limit, l.now())
	if ok {
		return nil
	}
	l.refused(ReasonRateLimited)
	return exhausted(ReasonRateLimited,
		fmt.Sprintf("too many calls %s: at most %s a second in bursts of %d; retry in %s", c.who, rateString(c.limit), c.limit.Burst, retry), retry)
}

// openStream counts a stream of c's, or refuses it over c's cap; release uncounts it.
func (l *Limiter) openStream(c caller) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n := l.streams[c.key]; n >= c.maxStream {
		l.refused(ReasonStreams)
		return nil, exhausted(ReasonStreams,
			fmt.Sprintf("too many streams open %s: at most %d at once; end one first", c.who, c.maxStream), 0)
	}
	l.streams[c.key]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.streams[c.key]--; l.streams[c.key] <= 0 {
			delete(l.streams, c.key)
		}
	}, nil
}

// Admit implements auth.FailureGate: a call whose token was not verified lately is refused
// while its address's bucket of failed authentications is spent, before the token is read.
func (l *Limiter) Admit(ctx context.Context) error {
	if l.cfg.Disabled {
		return nil
	}
	if retry, ok := l.AdmitAuth(grpcClientAddr(ctx, l.cfg.TrustedProxies)); !ok {
		return authFailuresError(retry)
	}
	return nil
}

// Failed implements auth.FailureGate: a failed authentication takes a token from its address's
// bucket.
func (l *Limiter) Failed(ctx context.Context) {
	if !l.cfg.Disabled {
		l.FailedAuth(grpcClientAddr(ctx, l.cfg.TrustedProxies))
	}
}

// AllowAnonymous takes a token from the bucket of requests without a token from a; when there
// is none it says how long until there is.
func (l *Limiter) AllowAnonymous(a netip.Addr) (time.Duration, bool) {
	if l.cfg.Disabled || l.cfg.Anonymous.Off() {
		return 0, true
	}
	ok, retry := l.calls.take("a:"+addrKey(a), l.cfg.Anonymous, l.now())
	if !ok {
		l.refused(ReasonRateLimited)
	}
	return retry, ok
}

// AdmitAuth reports whether a's bucket of failed authentications holds a token, taking none,
// and if not how long until it does.
func (l *Limiter) AdmitAuth(a netip.Addr) (time.Duration, bool) {
	if l.cfg.Disabled {
		return 0, true
	}
	ok, retry := l.failures.peek(addrKey(a), l.cfg.AuthFailures, l.now())
	if !ok {
		l.refused(ReasonAuthFailures)
	}
	return retry, ok
}

// FailedAuth takes a token from a's bucket of failed authentications.
func (l *Limiter) FailedAuth(a netip.Addr) {
	if !l.cfg.Disabled {
		l.failures.take(addrKey(a), l.cfg.AuthFailures, l.now())
	}
}

// ErrAuthFailures is what AuthFailuresError wraps, for errors.Is.
var ErrAuthFailures = errors.New("too many failed authentications from this address")

// authFailuresError is the refusal of a call from an address whose failures are spent.
func authFailuresError(retry time.Duration) error {
	return exhausted(ReasonAuthFailures,
		fmt.Sprintf("%s; retry in %s", ErrAuthFailures, retry), retry)
}

// AuthFailuresError is the gRPC status error for an address whose failed authentications are
// spent, retry from now (for the gateway's own refusals).
func AuthFailuresError(retry time.Duration) error { return authFailuresError(retry) }

// RateLimitedError is the gRPC status error for requests without a token over the anonymous
// limit (for the gateway's own refusals).
func RateLimitedError(l Limit, retry time.Duration) error {
	return exhausted(ReasonRateLimited,
		fmt.Sprintf("too many requests from this address without a token: at most %s a second in bursts of %d; retry in %s", rateString(l), l.Burst, retry), retry)
}

// Domain is the ErrorInfo domain of the refusals: apierr.Domain, which this package does not
// import (it would bring the store packages into the gateway).
const Domain = "jiayuan.gov.cn"

// exhausted is RESOURCE_EXHAUSTED as apierr.ResourceExhausted builds it: an ErrorInfo reason
// and, unless retryAfter is zero, a RetryInfo.
func exhausted(reason, description string, retryAfter time.Duration) error {
	details := []protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason, Domain: Domain}}
	if retryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)})
	}
	st := status.New(codes.ResourceExhausted, description)
	if ds, err := st.WithDetails(details...); err == nil {
		st = ds
	}
	return st.Err()
}

func rateString(l Limit) string {
	r := float64(l.Rate)
	if r == math.Trunc(r) {
		return strconv.FormatFloat(r, 'f', 0, 64)
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}
