package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// realm is named in the WWW-Authenticate-style hints of UNAUTHENTICATED errors.
const realm = "jiayuan"

// UnaryServerInterceptor authenticates and authorizes unary calls; see [StreamServerInterceptor].
func UnaryServerInterceptor(v *Verifier, p Policies, opts ...GuardOption) grpc.UnaryServerInterceptor {
	g := newGuard(v, p, opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		ctx, err := g.authorize(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(ctx, req)
	}
}

// StreamServerInterceptor authenticates and authorizes streaming calls. For each call:
// a method without a policy is PERMISSION_DENIED (and logged as the bug it is); a public method
// and a signed-link method (see [SignedURL]) pass, without a Principal; otherwise a missing, malformed, forged or expired bearer token is UNAUTHENTICATED, a
// token without an allowed role is PERMISSION_DENIED, an unreachable key set is UNAVAILABLE, and
// an accepted call's context carries the [Principal].
func StreamServerInterceptor(v *Verifier, p Policies, opts ...GuardOption) grpc.StreamServerInterceptor {
	g := newGuard(v, p, opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, err := g.authorize(ss.Context(), info.FullMethod)
		if err != nil {
			return err
		}
		return handler(srv, &principalStream{ServerStream: ss, ctx: ctx})
	}
}

type principalStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *principalStream) Context() context.Context { return s.ctx }

type guard struct {
	v          *Verifier
	policies   Policies
	roleDenied func(ctx context.Context, method string, p Principal)
	gate       FailureGate
}

// FailureGate slows down callers whose authentication keeps failing (platform/limits keeps a
// bucket of failures per client address).
type FailureGate interface {
	// Admit is asked before a call's token is checked, unless that very token was verified in
	// the last minute (a caller's working token is never held up by someone else's failures
	// at the same address). An error refuses the call with it as it is (RESOURCE_EXHAUSTED).
	Admit(ctx context.Context) error
	// Failed is told of each call refused for its token: none, malformed, forged, expired.
	// Not of calls refused because the keys were unavailable (our failure, not the caller's)
	// nor of those whose valid token lacks the method's role.
	Failed(ctx context.Context)
}

// WithFailureGate has g slow down repeated authentication failures.
func WithFailureGate(g FailureGate) GuardOption {
	return func(gd *guard) { gd.gate = g }
}

// GuardOption configures the interceptors.
type GuardOption func(*guard)

// OnRoleDenied has f told of every call refused because the caller's verified token holds
// none of the method's roles (the audit trail records it). Calls with no or a bad token are
// not reported: they name nobody, and anyone can send them.
func OnRoleDenied(f func(ctx context.Context, method string, p Principal)) GuardOption {
	return func(g *guard) { g.roleDenied = f }
}

func newGuard(v *Verifier, p Policies, opts []GuardOption) *guard {
	if v == nil {
		panic("auth: interceptor needs a Verifier")
	}
	// A copy, so that later changes to the caller's map cannot open a method.
	g := &guard{v: v, policies: maps.Clone(p)}
	for _, o := range opts {
		o(g)
	}
	return g
}

func (g *guard) authorize(ctx context.Context, method string) (context.Context, error) {
	pol, ok := g.policies[method]
	if !ok {
		g.v.logger.ErrorContext(ctx, "auth: method has no access policy; refusing the call. This is a bug: give the method a policy in its service's Policies",
			slog.String("method", method))
		return nil, status.Errorf(codes.PermissionDenied, "method %s has no access policy", method)
	}
	if pol.public || pol.signedURL {
		// A signed-link method's handler verifies the link; a token, if one came, is not read.
		return ctx, nil
	}
	raw, err := bearerToken(ctx)
	if err != nil {
		if g.gate != nil {
			if err := g.gate.Admit(ctx); err != nil {
				return nil, err
			}
			g.gate.Failed(ctx)
		}
		g.v.logger.InfoContext(ctx, "auth: call refused", slog.String("method", method), slog.String("reason", err.Error()))
		return nil, status.Errorf(codes.Unauthenticated, "%v; WWW-Authenticate: Bearer realm=%q", err, realm)
	}
	pr, known := g.v.cache.get(raw, g.v.now())
	if !known {
		if g.gate != nil {
			if err := g.gate.Admit(ctx); err != nil {
				return nil, err
			}
		}
		if pr, err = g.v.Verify(ctx, raw); err != nil {
			return nil, g.refuse(ctx, method, err)
		}
	}
	if !pol.Allows(pr) {
		g.v.logger.InfoContext(ctx, "auth: role not allowed", slog.String("method", method), slog.String("subject", pr.Subject), slog.Any("roles", pr.Roles))
		if g.roleDenied != nil {
			g.roleDenied(ctx, method, pr)
		}
		return nil, status.Errorf(codes.PermissionDenied, "method %s needs one of the roles %s", method, joinRoles(pol.Roles))
	}
	return WithPrincipal(ctx, pr), nil
}

// refuse is the error for a call whose token Verify refused, err.
func (g *guard) refuse(ctx context.Context, method string, err error) error {
	if errors.Is(err, ErrKeysUnavailable) {
		g.v.logger.ErrorContext(ctx, "auth: cannot verify tokens", slog.String("method", method), slog.Any("error", err))
		return status.Error(codes.Unavailable, "cannot verify the token now: the identity provider's keys are unavailable; retry later")
	}
	if g.gate != nil {
		g.gate.Failed(ctx)
	}
	reason := "invalid token"
	var te *TokenError
	if errors.As(err, &te) {
		reason = te.Reason
	}
	g.v.logger.InfoContext(ctx, "auth: token refused", slog.String("method", method), slog.Any("error", err))
	return status.Errorf(codes.Unauthenticated, "invalid bearer token: %s; WWW-Authenticate: Bearer realm=%q, error=\"invalid_token\", error_description=%q", reason, realm, reason)
}

// bearerToken returns the token of the call's single "authorization: Bearer …" metadata entry.
func bearerToken(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get("authorization")
	switch len(vals) {
	case 0:
		return "", errors.New(`missing bearer token: send metadata "authorization: Bearer <token>"`)
	case 1:
	default:
		return "", fmt.Errorf("malformed authorization metadata: %d values, want 1", len(vals))
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
	tok = strings.TrimSpace(tok)
	if !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
		return "", errors.New(`malformed authorization metadata: want "Bearer <token>"`)
	}
	return tok, nil
}

func joinRoles(roles []Role) string {
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ", ")
}
