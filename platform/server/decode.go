package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/platform/apierr"
)

// RegisterService implements grpc.ServiceRegistrar: register services on the Server itself
// (svc.Register(srv)) rather than on GRPC(), so that a request that cannot be decoded is
// answered and logged like any other bad request.
//
// grpc-go decodes a unary request before any interceptor runs, and answers a payload that is
// not the message (bad wire format, a string that is not UTF-8) with INTERNAL, and one over the
// size limit with RESOURCE_EXHAUSTED, neither of which the request log ever sees. Each method's
// handler is wrapped so that a decode failure is INVALID_ARGUMENT (the client's fault) and is
// logged; streams' messages are mapped the same way as they are received.
func (s *Server) RegisterService(sd *grpc.ServiceDesc, impl any) {
	s.grpc.RegisterService(guardDecoding(sd, s.requestLog), impl)
}

func guardDecoding(sd *grpc.ServiceDesc, rl requestLog) *grpc.ServiceDesc {
	out := *sd
	out.Methods = make([]grpc.MethodDesc, len(sd.Methods))
	for i, m := range sd.Methods {
		handler, method := m.Handler, "/"+sd.ServiceName+"/"+m.MethodName
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
			start := time.Now()
			var decodeErr error
			resp, err := handler(srv, ctx, func(v any) error {
				if err := dec(v); err != nil {
					decodeErr = decodeError(err)
					return decodeErr
				}
				return nil
			}, in)
			if decodeErr != nil {
				// The interceptors, the request log among them, never ran.
				rl.log(ctx, method, start, decodeErr)
				return nil, decodeErr
			}
			return resp, err
		}
		out.Methods[i] = m
	}
	out.Streams = make([]grpc.StreamDesc, len(sd.Streams))
	for i, st := range sd.Streams {
		handler := st.Handler
		st.Handler = func(srv any, stream grpc.ServerStream) error {
			return handler(srv, decodingStream{ServerStream: stream})
		}
		out.Streams[i] = st
	}
	return &out
}

// decodingStream maps a received message that does not decode to INVALID_ARGUMENT; the
// stream's error then passes the interceptors (and the request log) as usual.
type decodingStream struct {
	grpc.ServerStream
}

func (s decodingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return decodeError(err)
	}
	return nil
}

// decodeError turns grpc-go's INTERNAL for a request it could not unmarshal into
// INVALID_ARGUMENT naming the request. Other errors (RESOURCE_EXHAUSTED for a message over the
// limit, the end of the stream, a cancelled call) are already right and pass unchanged.
func decodeError(err error) error {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.Internal {
		return err
	}
	return apierr.InvalidArgument("request", "the request message does not decode: "+st.Message())
}
