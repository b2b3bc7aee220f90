package server

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"buf.build/go/protovalidate"
	"github.com/grpc-ecosystem/go-grpc-middleware/v2/interceptors/recovery"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/apierr"
)

// requestLog logs one line per call (method, code, duration, peer; trace ids come from the
// logger's handler) and turns whatever the handler returned into a status safe to send
// (apierr.ToStatus): a bare Go error becomes a generic INTERNAL whose text is logged, not sent.
type requestLog struct {
	logger *slog.Logger
}

func (l requestLog) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := handler(ctx, req)
	err = apierr.ToStatus(err)
	l.log(ctx, info.FullMethod, start, err)
	return resp, err
}

func (l requestLog) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	start := time.Now()
	err := apierr.ToStatus(handler(srv, ss))
	l.log(ss.Context(), info.FullMethod, start, err)
	return err
}

func (l requestLog) log(ctx context.Context, method string, start time.Time, err error) {
	code := status.Code(err)
	level := levelFor(method, code)
	if !l.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("grpc.method", method),
		slog.String("grpc.code", code.String()),
		slog.Duration("duration", time.Since(start)),
	}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", status.Convert(err).Message()))
		if cause := apierr.Cause(err); cause != nil {
			attrs = append(attrs, slog.String("cause", cause.Error()))
		}
	}
	l.logger.LogAttrs(ctx, level, "grpc call", attrs...)
}

// levelFor keeps probes quiet and puts server-side failures above the caller's mistakes.
func levelFor(method string, code codes.Code) slog.Level {
	if strings.HasPrefix(method, "/grpc.health.v1.Health/") || strings.HasPrefix(method, "/grpc.reflection.") {
		return slog.LevelDebug
	}
	switch code {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unimplemented:
		return slog.LevelError
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return slog.LevelWarn
	default:
		return slog.LevelInfo
	}
}

// recoveryOption makes a panic an INTERNAL error for the caller and an error log with the
// stack for us; the server goes on serving.
func recoveryOption(logger *slog.Logger) recovery.Option {
	return recovery.WithRecoveryHandlerContext(func(ctx context.Context, p any) error {
		logger.ErrorContext(ctx, "panic in gRPC handler", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		return apierr.Internal(fmt.Errorf("panic: %v", p))
	})
}

// validation checks request messages with protovalidate. It is ours rather than
// go-grpc-middleware's interceptors/protovalidate because that one sends only a
// buf.validate.Violations detail, which google.rpc clients and the REST gateway do not read;
// apierr.FromValidation adds the BadRequest field violations they do.
type validation struct {
	v protovalidate.Validator
}

func (v validation) check(m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return apierr.Internal(fmt.Errorf("request of type %T is not a proto message", m))
	}
	// A service registered on GRPC() rather than on the Server still never handles a request
	// that did not decode as if it were empty (see tolerantCodec).
	if err := undecodable(msg); err != nil {
		return err
	}
	return apierr.FromValidation(v.v.Validate(msg))
}

func (v validation) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if err := v.check(req); err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (v validation) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, validatingStream{ServerStream: ss, v: v})
}

// validatingStream validates every message the client sends on a stream as it is received.
type validatingStream struct {
	grpc.ServerStream
	v validation
}

func (s validatingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	return s.v.check(m)
}
