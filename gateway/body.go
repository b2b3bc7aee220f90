package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// requestBody is the body every request reaches the routes with: limited to MaxBodyBytes,
// and a place for the decoder to leave why decoding failed. The generated handlers turn a
// decode error into a plain string (status.Errorf("%v", err)), losing *http.MaxBytesError and
// the decoder's position; the error handler reads them back from here.
type requestBody struct {
	io.ReadCloser
	decodeErr error
	raw       []byte                         // the JSON value that failed to unmarshal, if it was JSON
	target    protoreflect.MessageDescriptor // what it was decoded into, if a message
	// read is every byte read, and readErr how reading ended if not at EOF: the generated
	// handlers of routes that read the body twice (a PATCH inferring its update mask) read it
	// all into a buffer of their own first, so their decoder never sees this body and cannot
	// record its failure here. The error handler decodes read again to find it (redecode).
	read    []byte
	readErr error
	// rawRead: a route read the body as bytes (ReadBody), not JSON; there is nothing to decode
	// again when it fails.
	rawRead bool
}

func (b *requestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read = append(b.read, p[:n]...)
	if err != nil && !errors.Is(err, io.EOF) {
		b.readErr = err
	}
	return n, err
}

func (g *Gateway) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := g.bodyLimit(r)
		if r.ContentLength > limit {
			g.writeError(w, r, bodyTooLarge(limit))
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &requestBody{ReadCloser: http.MaxBytesReader(w, r.Body, limit)}
		}
		next.ServeHTTP(w, r)
	})
}

// bodyLimit is the body limit of r's route: its entry in Options.RouteBodyLimits, or
// MaxBodyBytes.
func (g *Gateway) bodyLimit(r *http.Request) int64 {
	if len(g.opts.RouteBodyLimits) == 0 {
		return g.opts.MaxBodyBytes
	}
	if _, pattern := g.limits.Handler(r); pattern != "" {
		if n, ok := g.opts.RouteBodyLimits[pattern]; ok {
			return n
		}
	}
	return g.opts.MaxBodyBytes
}

// checkPattern refuses a RouteBodyLimits key that is not a ServeMux pattern with a method.
func checkPattern(pattern string) (err error) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/") {
		return fmt.Errorf("gateway: body limit pattern %q: want \"METHOD /path\"", pattern)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("gateway: body limit pattern %q: %v", pattern, r)
		}
	}()
	http.NewServeMux().Handle(pattern, http.NotFoundHandler())
	return nil
}

// ReadBody reads the whole body of a request to a route of the gateway (one added with
// runtime.ServeMux.HandlePath, say), within the route's limit: over it, the error is the
// gateway's 413, which runtime.HTTPError writes as such.
func ReadBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if b, ok := r.Body.(*requestBody); ok {
		b.rawRead = true
	}
	data, err := io.ReadAll(r.Body)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, bodyTooLarge(tooLarge.Limit)
	case err != nil:
		return nil, badRequest("body", "could not read the request body").Err()
	}
	return data, nil
}

// rawBodyHeaders marks a raw response (google.api.HttpBody: an image) as exactly the type it
// says, never to be sniffed as something else, and private to whoever fetched it.
//
// A download (a report's export) names its file: the service sets a "content-disposition"
// header in its gRPC response metadata, which becomes the HTTP Content-Disposition.
func rawBodyHeaders(ctx context.Context, w http.ResponseWriter, resp proto.Message) error {
	if _, ok := resp.(*httpbody.HttpBody); ok {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Cache-Control", "private, no-store")
		if md, ok := runtime.ServerMetadataFromContext(ctx); ok {
			if v := md.HeaderMD.Get("content-disposition"); len(v) == 1 && strings.HasPrefix(v[0], "attachment; ") {
				w.Header().Set("Content-Disposition", v[0])
			}
		}
	}
	return nil
}

// requireUTF8 refuses a request whose path or query, once unescaped, is not UTF-8: it would
// become a proto string the upstream call cannot encode, and a 500. It is the client's fault,
// a 400 naming the parameter (or "path").
func (g *Gateway) requireUTF8(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !utf8.ValidString(r.URL.Path) {
			g.writeError(w, r, badRequest("path", "is not valid UTF-8 once percent-decoded").Err())
			return
		}
		for key, values := range r.URL.Query() {
			if !utf8.ValidString(key) {
				g.writeError(w, r, badRequest("query", "a parameter name is not valid UTF-8 once percent-decoded").Err())
				return
			}
			for _, v := range values {
				if !utf8.ValidString(v) {
					g.writeError(w, r, badRequest(key, "is not valid UTF-8 once percent-decoded").Err())
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// jsonMarshaler is runtime.JSONPb with a decoder that records failures on the requestBody.
type jsonMarshaler struct {
	*runtime.JSONPb
	// enc writes responses as JSONPb would, faster.
	enc *encoder
}

func (m *jsonMarshaler) NewDecoder(r io.Reader) runtime.Decoder {
	body, _ := r.(*requestBody)
	return &recordingDecoder{dec: json.NewDecoder(r), m: m.JSONPb, body: body}
}

type recordingDecoder struct {
	dec  *json.Decoder
	m    *runtime.JSONPb
	body *requestBody
}

// Decode reads one JSON value, then unmarshals it as JSONPb's own decoder does; keeping the
// raw value lets the error handler map protojson's line:column to a field path.
func (d *recordingDecoder) Decode(v any) error {
	var raw json.RawMessage
	if err := d.dec.Decode(&raw); err != nil {
		if !errors.Is(err, io.EOF) {
			d.record(err, nil, v)
		}
		return err
	}
	if err := d.m.Unmarshal(raw, v); err != nil {
		d.record(err, raw, v)
		return err
	}
	return nil
}

func (d *recordingDecoder) record(err error, raw []byte, v any) {
	if d.body == nil {
		return
	}
	d.body.decodeErr, d.body.raw, d.body.target = err, raw, descriptorOf(v)
}

// descriptorOf returns the message descriptor of what v decodes into: a message, or a pointer
// to a message field (the generated handlers pass &req.Field).
func descriptorOf(v any) protoreflect.MessageDescriptor {
	if m, ok := v.(proto.Message); ok {
		return m.ProtoReflect().Descriptor()
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer {
		return nil
	}
	t := rv.Type().Elem()
	if t.Kind() == reflect.Pointer {
		if m, ok := reflect.New(t.Elem()).Interface().(proto.Message); ok {
			return m.ProtoReflect().Descriptor()
		}
	}
	return nil
}

// pathElem is one step of a JSON path: an object key or an array index.
type pathElem struct {
	key   string
	index int
	isKey bool
}

// pathAt returns the path to the JSON token at line:column of raw (1-based; columns count
// runes, as protojson reports them): the key for an object key, or the member or element a
// value belongs to.
func pathAt(raw []byte, line, column int) ([]pathElem, bool) {
	target, ok := offsetOf(raw, line, column)
	if !ok {
		return nil, false
	}
	type frame struct {
		obj       bool
		key       string
		index     int
		expectKey bool
	}
	var stack []frame
	path := func(extraKey *string) []pathElem {
		var out []pathElem
		for i, f := range stack {
			last := i == len(stack)-1
			switch {
			case f.obj && last && extraKey != nil:
				out = append(out, pathElem{key: *extraKey, isKey: true})
			case f.obj && !(last && f.expectKey):
				out = append(out, pathElem{key: f.key, isKey: true})
			case !f.obj:
				out = append(out, pathElem{index: f.index})
			}
		}
		return out
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		if top := &stack[len(stack)-1]; top.obj {
			top.expectKey = true
		} else {
			top.index++
		}
	}

	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	for {
		start := skipSeparators(raw, int(dec.InputOffset()))
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		if start >= target {
			if s, isString := tok.(string); isString && len(stack) > 0 && stack[len(stack)-1].obj && stack[len(stack)-1].expectKey {
				return path(&s), true
			}
			return path(nil), true
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				stack = append(stack, frame{obj: true, expectKey: true})
			case '[':
				stack = append(stack, frame{})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case string:
			if top := len(stack) - 1; top >= 0 && stack[top].obj && stack[top].expectKey {
				stack[top].key, stack[top].expectKey = t, false
			} else {
				valueDone()
			}
		default:
			valueDone()
		}
	}
}

func skipSeparators(raw []byte, i int) int {
	for i < len(raw) && strings.IndexByte(" \t\r\n,:", raw[i]) >= 0 {
		i++
	}
	return i
}

// offsetOf converts a 1-based line and rune column to a byte offset in raw.
func offsetOf(raw []byte, line, column int) (int, bool) {
	off := 0
	for l := 1; l < line; l++ {
		i := bytes.IndexByte(raw[off:], '\n')
		if i < 0 {
			return 0, false
		}
		off += i + 1
	}
	for c := 1; c < column; c++ {
		if off >= len(raw) {
			return 0, false
		}
		_, size := utf8.DecodeRune(raw[off:])
		off += size
	}
	return off, true
}

// protoPath renders a JSON path as proto field names from md ("capabilities[0].category"). A
// key md does not know (an unknown field) and everything below it are kept as the client
// wrote them.
func protoPath(path []pathElem, md protoreflect.MessageDescriptor) string {
	var b strings.Builder
	var mapField bool // the previous field was a map: this key is a map key
	for _, e := range path {
		switch {
		case !e.isKey:
			b.WriteString("[" + strconv.Itoa(e.index) + "]")
			continue
		case mapField:
			b.WriteString("[" + strconv.Quote(e.key) + "]")
			mapField = false
			continue
		}
		name := e.key
		var fd protoreflect.FieldDescriptor
		if md != nil {
			if fd = md.Fields().ByJSONName(e.key); fd == nil {
				fd = md.Fields().ByTextName(e.key)
			}
		}
		if fd != nil {
			name = string(fd.Name())
			switch {
			case fd.IsMap():
				mapField = true
				md = fd.MapValue().Message()
			default:
				md = fd.Message()
			}
		} else {
			md = nil
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(name)
	}
	return b.String()
}
