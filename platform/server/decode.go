package server

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	grpcproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/apierr"
)

// RegisterService implements grpc.ServiceRegistrar: register services on the Server itself
// (svc.Register(srv)) rather than on GRPC(), so that a request that cannot be decoded is
// answered and logged like any other bad request.
//
// grpc-go decodes a unary request before any interceptor runs, and answers a payload that is
// not the message (bad wire format, a string that is not UTF-8) with INTERNAL, and one over the
// size limit with RESOURCE_EXHAUSTED, neither of which the request log ever sees. It writes
// that status itself the moment decoding fails, so the codec (tolerantCodec) does not fail:
// it leaves a mark on the message instead, and each method's handler is wrapped so that a
// marked message is INVALID_ARGUMENT (the client's fault) and every decode failure is logged.
// Streams' messages are checked the same way as they are received.
//
// It also holds each method to its own size limit (Options.MethodMaxRecvMsgSize) when the
// transport's is larger for another method's sake.
func (s *Server) RegisterService(sd *grpc.ServiceDesc, impl any) {
	s.grpc.RegisterService(guardDecoding(sd, s.requestLog, s.opts), impl)
}

// transportMaxRecv is the limit the transport enforces: the largest any method has.
func (o Options) transportMaxRecv() int {
	m := o.MaxRecvMsgSize
	for _, n := range o.MethodMaxRecvMsgSize {
		m = max(m, n)
	}
	return m
}

// methodMaxRecv is method's own limit, 0 when the transport's already is it.
func (o Options) methodMaxRecv(method string) int {
	limit := o.MaxRecvMsgSize
	if n, ok := o.MethodMaxRecvMsgSize[method]; ok {
		limit = n
	}
	if limit >= o.transportMaxRecv() {
		return 0
	}
	return limit
}

// oversize refuses v when it is larger than limit (0: no limit of its own), with the code and
// words the transport uses for its own limit.
func oversize(v any, limit int) error {
	m, ok := v.(proto.Message)
	if limit == 0 || !ok {
		return nil
	}
	if n := proto.Size(m); n > limit {
		return status.Errorf(codes.ResourceExhausted, "grpc: received message larger than max (%d vs. %d)", n, limit)
	}
	return nil
}

func guardDecoding(sd *grpc.ServiceDesc, rl requestLog, opts Options) *grpc.ServiceDesc {
	out := *sd
	out.Methods = make([]grpc.MethodDesc, len(sd.Methods))
	for i, m := range sd.Methods {
		handler, method := m.Handler, "/"+sd.ServiceName+"/"+m.MethodName
		limit := opts.methodMaxRecv(method)
		m.Handler = func(srv any, ctx context.Context, dec func(any) error, in grpc.UnaryServerInterceptor) (any, error) {
			start := time.Now()
			var decodeErr error
			resp, err := handler(srv, ctx, func(v any) error {
				err := dec(v)
				if err == nil {
					err = oversize(v, limit)
				}
				if err == nil {
					err = undecodable(v)
				}
				decodeErr = err
				return err
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
		limit := opts.methodMaxRecv("/" + sd.ServiceName + "/" + st.StreamName)
		st.Handler = func(srv any, stream grpc.ServerStream) error {
			return handler(srv, decodingStream{ServerStream: stream, limit: limit})
		}
		out.Streams[i] = st
	}
	return &out
}

// decodingStream maps a received message that does not decode to INVALID_ARGUMENT; the
// stream's error then passes the interceptors (and the request log) as usual.
type decodingStream struct {
	grpc.ServerStream
	limit int
}

func (s decodingStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if err := oversize(m, s.limit); err != nil {
		return err
	}
	return undecodable(m)
}

// undecodableField is the (unknown) field tolerantCodec marks an undecodable message with:
// the highest field number protobuf allows, which no jiayuan message uses.
const undecodableField protowire.Number = protowire.MaxValidNumber

// tolerantCodec is the proto codec, except that a message that does not unmarshal is reset and
// marked (its only content an unknown undecodableField holding the reason) instead of failing.
type tolerantCodec struct {
	encoding.CodecV2
}

func newTolerantCodec() tolerantCodec {
	return tolerantCodec{CodecV2: encoding.GetCodecV2(grpcproto.Name)}
}

func (c tolerantCodec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok {
		return err
	}
	proto.Reset(m)
	m.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, undecodableField, protowire.BytesType), err.Error()))
	return nil
}

// undecodable returns INVALID_ARGUMENT, naming the request, when tolerantCodec marked v.
func undecodable(v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return nil
	}
	unknown := m.ProtoReflect().GetUnknown()
	num, typ, n := protowire.ConsumeTag(unknown)
	if n < 0 || num != undecodableField || typ != protowire.BytesType {
		return nil
	}
	reason, m2 := protowire.ConsumeString(unknown[n:])
	if m2 < 0 || n+m2 != len(unknown) {
		return nil
	}
	return apierr.InvalidArgument("request", "the request message does not decode: "+reason)
}
