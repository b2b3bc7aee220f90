package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
)

// errorBody is the JSON every error response carries.
type errorBody struct {
	// Code is the gRPC code number (the google.rpc.Status code of the OpenAPI document).
	Code int32 `json:"code"`
	// Status is the code's name, e.g. "INVALID_ARGUMENT".
	Status  string            `json:"status"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// rewriteStatus turns the google.rpc.Status the runtime's error handler marshals into
// errorBody; other responses pass unchanged, or marked to leave out unset fields when the
// request had a read mask (see zeros.go).
func rewriteStatus(mo protojson.MarshalOptions) runtime.ForwardResponseRewriter {
	return func(ctx context.Context, resp proto.Message) (any, error) {
		st, ok := resp.(*spb.Status)
		if !ok {
			return sparseIfReadMasked(ctx, resp), nil
		}
		body := errorBody{
			Code:    st.GetCode(),
			Status:  code.Code(st.GetCode()).String(),
			Message: st.GetMessage(),
			Details: make([]json.RawMessage, 0, len(st.GetDetails())),
		}
		for _, d := range st.GetDetails() {
			b, err := mo.Marshal(d)
			if err != nil {
				// A detail type this binary does not know: still say what it was.
				b, _ = json.Marshal(map[string]string{"@type": d.GetTypeUrl()})
			}
			body.Details = append(body.Details, b)
		}
		return body, nil
	}
}

// handleError is the runtime's error handler: the standard mapping of gRPC codes to HTTP
// statuses (runtime.DefaultHTTPErrorHandler, which also forwards upstream metadata), except
// that a request body the gateway could not decode becomes a field-named INVALID_ARGUMENT, or
// 413 when it was too large.
func (g *Gateway) handleError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if body, ok := r.Body.(*requestBody); ok {
		if body.decodeErr == nil && !body.rawRead && status.Code(err) == codes.InvalidArgument {
			g.redecode(ctx, body)
		}
		if body.decodeErr != nil {
			err = g.decodeError(ctx, body)
		}
	}
	if d, ok := retryDelay(err); ok {
		w.Header().Set("Retry-After", retryAfterSeconds(d))
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, &challengeWriter{ResponseWriter: w, r: r}, r, err)
}

// retryDelay is the RetryInfo delay of err's status, if it has one: a service over a rate
// limit (RESOURCE_EXHAUSTED, 429) or briefly unavailable (503) says when to try again.
func retryDelay(err error) (time.Duration, bool) {
	var hse *runtime.HTTPStatusError
	if errors.As(err, &hse) {
		err = hse.Err
	}
	st, ok := status.FromError(err)
	if !ok {
		return 0, false
	}
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// retryAfterSeconds is an HTTP Retry-After (RFC 9110 10.2.3): whole seconds, rounded up, at
// least 1 (0 would invite an immediate retry that is bound to fail).
func retryAfterSeconds(d time.Duration) string {
	return strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10)
}

// challengeWriter sets the WWW-Authenticate header of a 401 to an RFC 6750 challenge. The
// runtime's handler copies the gRPC message into it, which is neither a valid challenge nor
// something to show: it is the service's reason for refusing the token.
type challengeWriter struct {
	http.ResponseWriter
	r *http.Request
}

func (w *challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", bearerChallenge(w.r))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *challengeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// bearerChallenge is the RFC 6750 (section 3) challenge for a refused request: with no
// credentials sent, no error code (3.1: the client did not try); with any, invalid_token.
func bearerChallenge(r *http.Request) string {
	if r.Header.Get("Authorization") == "" {
		return `Bearer realm="jiayuan"`
	}
	return `Bearer realm="jiayuan", error="invalid_token"`
}

// writeError answers outside the runtime's routes (body limit, /openapi.json) through the
// same error handler, so every error has the same shape.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, err error) {
	runtime.HTTPError(r.Context(), g.mux, g.marshaler, w, r, err)
}

func methodNotAllowed() error {
	return &runtime.HTTPStatusError{
		HTTPStatus: http.StatusMethodNotAllowed,
		Err:        status.Error(codes.Unimplemented, http.StatusText(http.StatusMethodNotAllowed)),
	}
}

// bodyTooLarge is the error for a request body over the limit: INVALID_ARGUMENT naming the
// body, sent with HTTP 413.
func bodyTooLarge(limit int64) error {
	st := badRequest("body", fmt.Sprintf("request body is larger than %d bytes", limit))
	return &runtime.HTTPStatusError{HTTPStatus: http.StatusRequestEntityTooLarge, Err: st.Err()}
}

func badRequest(field, description string) *status.Status {
	st := status.New(codes.InvalidArgument, field+": "+description)
	ds, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: field, Description: description},
	}})
	if err != nil {
		return st
	}
	return ds
}

// protojsonErr matches protojson's positioned errors. Its "proto: " prefix sometimes uses
// non-breaking spaces (the library's way to stop exact string comparisons), hence the class.
var protojsonErr = regexp.MustCompile(`^proto:[\s\x{00a0}]+\(line (\d+):(\d+)\):[\s\x{00a0}]+(.*)$`)

// leafField finds the field a protojson error names when its position is unusable.
var leafField = regexp.MustCompile(`(?:unknown field|duplicate field) "([^"]+)"|invalid value for \w+ field (\w+):`)

// decodeError explains why the request body could not be decoded: too large (413), not JSON,
// or JSON that does not fit the message, naming the field as a path of proto field names from
// the request message (e.g. "partner_group.kind"), like validation errors do.
func (g *Gateway) decodeError(ctx context.Context, body *requestBody) error {
	err := body.decodeErr
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return bodyTooLarge(tooLarge.Limit)
	}
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return badRequest("body", fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, syntax)).Err()
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("body", "malformed JSON: unexpected end of input").Err()
	case body.raw == nil:
		// Reading failed below JSON (the client went away mid-body, say).
		return badRequest("body", "could not read the request body").Err()
	}

	prefix, bodyMsg := bodyField(ctx, body)
	msg := err.Error()
	description := msg
	field := ""
	if m := protojsonErr.FindStringSubmatch(msg); m != nil {
		description = m[3]
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		if path, ok := pathAt(body.raw, line, col); ok {
			field = protoPath(path, bodyMsg)
		}
	}
	if field == "" {
		if m := leafField.FindStringSubmatch(description); m != nil {
			field = m[1] + m[2]
		}
	}
	switch {
	case prefix != "" && field != "":
		field = prefix + "." + field
	case prefix != "":
		field = prefix
	case field == "":
		field = "body"
	}
	g.opts.Logger.DebugContext(ctx, "request body does not decode", "field", field, "error", msg)
	return badRequest(field, description).Err()
}

// redecode finds why a body failed to decode when the route's handler decoded a buffer of its
// own (see requestBody.read): the read failed (too large), or decoding what was read into the
// route's body message fails the way the handler's did. A body that decodes was not the
// problem, and nothing is recorded.
func (g *Gateway) redecode(ctx context.Context, body *requestBody) {
	if body.readErr != nil {
		body.decodeErr = body.readErr
		return
	}
	if len(body.read) == 0 {
		return
	}
	_, md := bodyField(ctx, body)
	if md == nil {
		return
	}
	dec := g.marshaler.NewDecoder(bytes.NewReader(body.read)).(*recordingDecoder)
	dec.body = body
	_ = dec.Decode(dynamicpb.NewMessage(md))
}

// bodyField returns the request field the HTTP body maps to ("partner_group"; "" for "*")
// and that field's message type (the request type for "*"), from the method's google.api.http
// rule. When the rule cannot be found it falls back to no prefix and the decoder's target.
func bodyField(ctx context.Context, body *requestBody) (string, protoreflect.MessageDescriptor) {
	method, ok := runtime.RPCMethod(ctx)
	if !ok {
		return "", body.target
	}
	svc, name, ok := strings.Cut(strings.TrimPrefix(method, "/"), "/")
	if !ok {
		return "", body.target
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(svc))
	if err != nil {
		return "", body.target
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return "", body.target
	}
	md := sd.Methods().ByName(protoreflect.Name(name))
	if md == nil {
		return "", body.target
	}
	rule, _ := proto.GetExtension(md.Options(), annotations.E_Http).(*annotations.HttpRule)
	bodyPath := matchingBinding(ctx, rule).GetBody()
	if bodyPath == "" || bodyPath == "*" {
		return "", md.Input()
	}
	msg := md.Input()
	for _, part := range strings.Split(bodyPath, ".") {
		fd := msg.Fields().ByName(protoreflect.Name(part))
		if fd == nil || fd.Message() == nil {
			return bodyPath, body.target
		}
		msg = fd.Message()
	}
	return bodyPath, msg
}

// matchingBinding picks, among rule and its additional bindings, the one whose path template
// the runtime matched.
func matchingBinding(ctx context.Context, rule *annotations.HttpRule) *annotations.HttpRule {
	pattern, ok := runtime.HTTPPathPattern(ctx)
	if !ok || rule == nil {
		return rule
	}
	for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
		var path string
		switch p := b.GetPattern().(type) {
		case *annotations.HttpRule_Get:
			path = p.Get
		case *annotations.HttpRule_Put:
			path = p.Put
		case *annotations.HttpRule_Post:
			path = p.Post
		case *annotations.HttpRule_Delete:
			path = p.Delete
		case *annotations.HttpRule_Patch:
			path = p.Patch
		case *annotations.HttpRule_Custom:
			path = p.Custom.GetPath()
		}
		if path == pattern {
			return b
		}
	}
	return rule
}

// codeName is the google.rpc name of a gRPC code, e.g. "INVALID_ARGUMENT".
func codeName(c codes.Code) string { return code.Code(int32(c)).String() }
