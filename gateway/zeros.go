package gateway

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Responses are written with every field present, zero or not: a count of 0 or an empty list
// is an answer, and `{}` for an empty community's counts left clients guessing. The exception
// is a response to a request with a read mask (AIP-157): the service leaves out what was not
// asked for, and emitting it as zeros would turn "not asked" into "zero". Such a response is
// written with its set fields only.

// readMaskSeen is put in each request's context by markReadMasks; the upstream interceptor
// sets it when the request it forwards carries a read mask.
type readMaskSeen struct{ atomic.Bool }

type readMaskKey struct{}

// trackReadMask is a runtime middleware giving each routed request a readMaskSeen.
func trackReadMask(next runtime.HandlerFunc) runtime.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		next(w, r.WithContext(context.WithValue(r.Context(), readMaskKey{}, &readMaskSeen{})), params)
	}
}

// noteReadMask is a client interceptor recording, for the response's encoding, that the
// request forwarded carries a non-empty read_mask.
func noteReadMask(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if seen, ok := ctx.Value(readMaskKey{}).(*readMaskSeen); ok {
		if m, ok := req.(proto.Message); ok && hasReadMask(m.ProtoReflect()) {
			seen.Store(true)
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func hasReadMask(m protoreflect.Message) bool {
	fd := m.Descriptor().Fields().ByName("read_mask")
	if fd == nil || fd.Message() == nil || !m.Has(fd) {
		return false
	}
	paths := fd.Message().Fields().ByName("paths")
	return paths != nil && m.Get(fd).Message().Get(paths).List().Len() > 0
}

// setFieldsOnly marks a response to be encoded with its set fields only.
type setFieldsOnly struct{ msg proto.Message }

// sparseIfReadMasked is the response rewriter's half: a response to a read-masked request
// becomes setFieldsOnly (its response_body unwrapped first, which the runtime would otherwise
// do).
func sparseIfReadMasked(ctx context.Context, resp any) any {
	seen, ok := ctx.Value(readMaskKey{}).(*readMaskSeen)
	if !ok || !seen.Load() {
		return resp
	}
	if rb, ok := resp.(interface{ XXX_ResponseBody() any }); ok {
		resp = rb.XXX_ResponseBody()
	}
	if m, ok := resp.(proto.Message); ok {
		return setFieldsOnly{msg: m}
	}
	return resp
}

// Marshal encodes v as the runtime's JSONPb does, except a setFieldsOnly message, which
// leaves out its unset fields.
func (m *jsonMarshaler) Marshal(v any) ([]byte, error) {
	switch v := v.(type) {
	case setFieldsOnly:
		return m.enc.Marshal(v.msg, true)
	case proto.Message:
		return m.enc.Marshal(v, false)
	}
	return m.JSONPb.Marshal(v)
}
