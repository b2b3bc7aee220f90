package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jiayuan/jiayuan/gateway"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

const (
	groupID      = "01JABCDEFGHJKMNPQRSTVWXYZ0"
	missingID    = "01JMISSINGMISSINGMISSING00"
	staleGroupID = "01JSTALESTALESTALESTALE000"
	// refusedID is answered the way the auth interceptor refuses a token, internal reason and all.
	refusedID = "01JREFVSEDREFVSEDREFVSED00"
	// limitedID is answered the way a service refuses a caller over its rate limit.
	limitedID = "01JRATE0RATE0RATE0RATE0000"
)

// partnerUpstream is a real gRPC PartnerService for the gateway to call: GetPartnerGroup
// echoes the metadata it received, CreatePartnerGroup checks display_name the way the
// service's validation does and echoes the group. Other methods are unimplemented.
type partnerUpstream struct {
	partnerv1.UnimplementedPartnerServiceServer
	calls   atomic.Int64
	mu      sync.Mutex
	md      metadata.MD
	updated *partnerv1.UpdatePartnerGroupRequest
}

func (p *partnerUpstream) GetPartnerGroup(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error) {
	p.calls.Add(1)
	md, _ := metadata.FromIncomingContext(ctx)
	p.mu.Lock()
	p.md = md
	p.mu.Unlock()
	switch req.GetName() {
	case "partnerGroups/" + missingID:
		st, _ := status.New(codes.NotFound, `"partnerGroups/`+missingID+`" not found`).
			WithDetails(&errdetails.ResourceInfo{ResourceName: req.GetName(), Description: "not found"})
		return nil, st.Err()
	case "partnerGroups/" + staleGroupID:
		return nil, status.Error(codes.Aborted, "etag mismatch")
	case "partnerGroups/" + limitedID:
		st, _ := status.New(codes.ResourceExhausted, "too many calls for this caller").WithDetails(
			&errdetails.ErrorInfo{Reason: "RATE_LIMITED", Domain: "jiayuan.gov.cn"},
			&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
		return nil, st.Err()
	case "partnerGroups/" + refusedID:
		return nil, status.Error(codes.Unauthenticated, `invalid bearer token: token expired; WWW-Authenticate: Bearer realm="jiayuan", error="invalid_token", error_description="token expired"`)
	}
	return &partnerv1.GetPartnerGroupResponse{PartnerGroup: &partnerv1.PartnerGroup{
		Name:        req.GetName(),
		DisplayName: strings.Join(md.Get("authorization"), ","),
		Kind:        partnerv1.GroupKind_GROUP_KIND_VOLUNTEER_TEAM,
	}}, nil
}

func (p *partnerUpstream) CreatePartnerGroup(ctx context.Context, req *partnerv1.CreatePartnerGroupRequest) (*partnerv1.CreatePartnerGroupResponse, error) {
	p.calls.Add(1)
	if req.GetPartnerGroup().GetDisplayName() == "" {
		st, _ := status.New(codes.InvalidArgument, "partner_group.display_name: value length must be at least 1 characters").
			WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{
				Field: "partner_group.display_name", Description: "value length must be at least 1 characters",
			}}})
		return nil, st.Err()
	}
	g := req.GetPartnerGroup()
	g.Name = "partnerGroups/" + groupID
	return &partnerv1.CreatePartnerGroupResponse{PartnerGroup: g}, nil
}

func (p *partnerUpstream) UpdatePartnerGroup(ctx context.Context, req *partnerv1.UpdatePartnerGroupRequest) (*partnerv1.UpdatePartnerGroupResponse, error) {
	p.calls.Add(1)
	p.mu.Lock()
	p.updated = req
	p.mu.Unlock()
	return &partnerv1.UpdatePartnerGroupResponse{PartnerGroup: req.GetPartnerGroup()}, nil
}

func (p *partnerUpstream) lastUpdate() *partnerv1.UpdatePartnerGroupRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.updated
}

func (p *partnerUpstream) SearchPartners(ctx context.Context, req *partnerv1.SearchPartnersRequest) (*partnerv1.SearchPartnersResponse, error) {
	p.calls.Add(1)
	return &partnerv1.SearchPartnersResponse{TotalSize: 0}, nil
}

func (p *partnerUpstream) seen() metadata.MD {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.md
}

type upstream struct {
	addr    string
	partner *partnerUpstream
	health  *health.Server
}

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: lis.Addr().String(), partner: &partnerUpstream{}, health: health.NewServer()}
	srv := grpc.NewServer()
	partnerv1.RegisterPartnerServiceServer(srv, u.partner)
	healthpb.RegisterHealthServer(srv, u.health)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return u
}

func partnerUpstreamOf(u *upstream) gateway.Upstream {
	return gateway.Upstream{
		Name:        "partner",
		Target:      u.addr,
		Register:    partnerv1.RegisterPartnerServiceHandler,
		DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
	}
}

// startGateway serves a gateway over the upstream on an httptest server.
func startGateway(t testing.TB, u *upstream, opts gateway.Options) *httptest.Server {
	t.Helper()
	opts.Upstreams = append([]gateway.Upstream{partnerUpstreamOf(u)}, opts.Upstreams...)
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	g, err := gateway.New(context.Background(), opts)
	if err != nil {
		t.Fatalf("gateway.New: %v", err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		srv.Close()
		if err := g.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

type errorJSON struct {
	Code    int               `json:"code"`
	Status  string            `json:"status"`
	Message string            `json:"message"`
	Details []json.RawMessage `json:"details"`
}

// fieldViolations returns the fields of the BadRequest details in an error body.
func (e errorJSON) fieldViolations(t *testing.T) []string {
	t.Helper()
	var fields []string
	for _, d := range e.Details {
		var br struct {
			Type            string `json:"@type"`
			FieldViolations []struct {
				Field       string `json:"field"`
				Description string `json:"description"`
			} `json:"fieldViolations"`
		}
		if err := json.Unmarshal(d, &br); err != nil {
			t.Fatalf("detail %s: %v", d, err)
		}
		if br.Type == "type.googleapis.com/google.rpc.BadRequest" {
			for _, v := range br.FieldViolations {
				fields = append(fields, v.Field)
			}
		}
	}
	return fields
}

func do(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func newRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req
}

func decodeError(t *testing.T, body []byte) errorJSON {
	t.Helper()
	var e errorJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error body %s: %v", body, err)
	}
	if e.Details == nil {
		t.Errorf("error body %s has no details array", body)
	}
	return e
}

func TestGetForwardsAuthorizationAndRendersLowerCamel(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})

	req := newRequest(t, http.MethodGet, gw.URL+"/v1/partnerGroups/"+groupID, nil)
	req.Header.Set("Authorization", "Bearer eyJhbGciOiJFUzI1NiJ9.test.sig")
	resp, body := do(t, req)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"name":        "partnerGroups/" + groupID,
		"displayName": "Bearer eyJhbGciOiJFUzI1NiJ9.test.sig",
		"kind":        "GROUP_KIND_VOLUNTEER_TEAM",
		// Zero values are present: a count of 0 is an answer, not a missing field.
		"memberCount":  float64(0),
		"creditCode":   "",
		"serviceAreas": []any{},
	}
	for k, v := range want {
		g, ok := got[k]
		if !ok {
			t.Errorf("response %s has no %s", body, k)
			continue
		}
		if gs, isList := g.([]any); isList {
			if len(gs) != 0 {
				t.Errorf("%s = %v, want []", k, g)
			}
			continue
		}
		if g != v {
			t.Errorf("%s = %v, want %v", k, g, v)
		}
	}
	if _, ok := got["member_count"]; ok {
		t.Errorf("response %s uses proto names, want lowerCamel", body)
	}
	if auth := u.partner.seen().Get("authorization"); !slices.Equal(auth, []string{"Bearer eyJhbGciOiJFUzI1NiJ9.test.sig"}) {
		t.Errorf("upstream saw authorization %v", auth)
	}
}

func TestUpstreamErrorsMapToHTTP(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		httpStatus int
		code       int
		status     string
		fields     []string
		detailType string
	}{
		{
			name: "validation error names the field", method: http.MethodPost, path: "/v1/partnerGroups",
			body:       `{"kind": "GROUP_KIND_SCHOOL", "regionCode": "450105"}`,
			httpStatus: http.StatusBadRequest, code: 3, status: "INVALID_ARGUMENT",
			fields: []string{"partner_group.display_name"}, detailType: "type.googleapis.com/google.rpc.BadRequest",
		},
		{
			name: "not found", method: http.MethodGet, path: "/v1/partnerGroups/" + missingID,
			httpStatus: http.StatusNotFound, code: 5, status: "NOT_FOUND", detailType: "type.googleapis.com/google.rpc.ResourceInfo",
		},
		{
			name: "aborted is a conflict", method: http.MethodGet, path: "/v1/partnerGroups/" + staleGroupID,
			httpStatus: http.StatusConflict, code: 10, status: "ABORTED",
		},
		{
			name: "unimplemented", method: http.MethodGet, path: "/v1/partners/" + groupID,
			httpStatus: http.StatusNotImplemented, code: 12, status: "UNIMPLEMENTED",
		},
		{
			name: "no such route", method: http.MethodGet, path: "/v1/nowhere",
			httpStatus: http.StatusNotFound, code: 5, status: "NOT_FOUND",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			resp, raw := do(t, newRequest(t, tt.method, gw.URL+tt.path, body))
			if resp.StatusCode != tt.httpStatus {
				t.Fatalf("HTTP %d, want %d: %s", resp.StatusCode, tt.httpStatus, raw)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			e := decodeError(t, raw)
			if e.Code != tt.code || e.Status != tt.status || e.Message == "" {
				t.Errorf("body %s: want code %d status %s and a message", raw, tt.code, tt.status)
			}
			if got := e.fieldViolations(t); !slices.Equal(got, tt.fields) {
				t.Errorf("field violations %v, want %v", got, tt.fields)
			}
			if tt.detailType != "" && (len(e.Details) == 0 || !strings.Contains(string(e.Details[0]), tt.detailType)) {
				t.Errorf("details %s, want a %s", raw, tt.detailType)
			}
		})
	}
}

func TestInvalidUTF8IsABadRequestAndLogged(t *testing.T) {
	u := startUpstream(t)
	var logs syncBuffer
	gw := startGateway(t, u, gateway.Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for _, tt := range []struct{ name, path, field string }{
		{"query value", "/v1/partnerGroups?filter=status%20%3D%20%FF", "filter"},
		{"path", "/v1/partnerGroups/%FF", "path"},
		{"query name", "/v1/partnerGroups?%FF=1", "query"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := u.partner.calls.Load()
			resp, raw := do(t, newRequest(t, http.MethodGet, gw.URL+tt.path, nil))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("HTTP %d, want 400: %s", resp.StatusCode, raw)
			}
			if got := decodeError(t, raw).fieldViolations(t); !slices.Equal(got, []string{tt.field}) {
				t.Errorf("field violations %v, want %s", got, tt.field)
			}
			if u.partner.calls.Load() != calls {
				t.Error("the upstream was called")
			}
		})
	}
	if n := strings.Count(logs.String(), `"status":400`); n != 3 {
		t.Errorf("%d access log lines with status 400, want 3:\n%s", n, logs.String())
	}
}

func TestUnauthenticatedIsAnRFC6750Challenge(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	for _, tt := range []struct {
		name, authorization, want string
	}{
		{"no token sent: no error code", "", `Bearer realm="jiayuan"`},
		{"token refused", "Bearer expired.token.sig", `Bearer realm="jiayuan", error="invalid_token"`},
		{"not a bearer token", "Basic dXNlcjpwYXNz", `Bearer realm="jiayuan", error="invalid_token"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodGet, gw.URL+"/v1/partnerGroups/"+refusedID, nil)
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			resp, raw := do(t, req)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("HTTP %d, want 401: %s", resp.StatusCode, raw)
			}
			if got := resp.Header.Values("WWW-Authenticate"); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("WWW-Authenticate %q, want exactly %q", got, tt.want)
			}
			if e := decodeError(t, raw); e.Status != "UNAUTHENTICATED" {
				t.Errorf("body %s", raw)
			}
		})
	}
}

func TestZeroCountsArePresentUnlessReadMasked(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	for _, tt := range []struct {
		name, body string
		want       string
	}{
		{"zero total and empty list are written", `{"categories": ["CATEGORY_CHILDCARE"]}`, `{"results":[],"nextPageToken":"","totalSize":0}`},
		{"a read mask writes only what is set", `{"categories": ["CATEGORY_CHILDCARE"], "readMask": "displayName"}`, `{}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, raw := do(t, newRequest(t, http.MethodPost, gw.URL+"/v1/partners:search", strings.NewReader(tt.body)))
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d: %s", resp.StatusCode, raw)
			}
			var got, want any
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal([]byte(tt.want), &want)
			if gb, _ := json.Marshal(got); string(gb) != mustJSON(t, want) {
				t.Errorf("response %s, want %s", raw, tt.want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPatchUpdateMask(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	for _, tt := range []struct {
		name, query, body string
		want              []string // the mask the service receives; nil when refused
	}{
		{"etag in the body is a precondition, not a path", "", `{"displayName": "x", "etag": "e1"}`, []string{"display_name"}},
		{"name and etag in the body", "", `{"name": "partnerGroups/` + groupID + `", "displayName": "x", "memberCount": 3, "etag": "e1"}`,
			[]string{"display_name", "member_count"}},
		{"camelCase mask in the query", "?updateMask=displayName,memberCount", `{"displayName": "x", "memberCount": 3, "etag": "e1"}`,
			[]string{"display_name", "member_count"}},
		{"proto names in the query still work", "?updateMask=display_name", `{"displayName": "x"}`, []string{"display_name"}},
		{"etag named in the query is dropped", "?updateMask=etag,description", `{"description": "d", "etag": "e1"}`, []string{"description"}},
		{"star", "?updateMask=*", `{"displayName": "x", "etag": "e1"}`, []string{"*"}},
		{"unknown path passes for the service to refuse", "?updateMask=noSuchField", `{"displayName": "x"}`, []string{"noSuchField"}},
		{"only an etag: nothing to change", "", `{"etag": "e1"}`, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			calls := u.partner.calls.Load()
			resp, raw := do(t, newRequest(t, http.MethodPatch, gw.URL+"/v1/partnerGroups/"+groupID+tt.query, strings.NewReader(tt.body)))
			if tt.want == nil {
				if resp.StatusCode != http.StatusBadRequest || u.partner.calls.Load() != calls {
					t.Fatalf("HTTP %d (upstream called: %v), want 400 from the gateway: %s", resp.StatusCode, u.partner.calls.Load() != calls, raw)
				}
				if got := decodeError(t, raw).fieldViolations(t); !slices.Equal(got, []string{"update_mask"}) {
					t.Errorf("field violations %v", got)
				}
				return
			}
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("HTTP %d: %s", resp.StatusCode, raw)
			}
			req := u.partner.lastUpdate()
			if got := req.GetUpdateMask().GetPaths(); !slices.Equal(got, tt.want) {
				t.Errorf("service got mask %q, want %q", got, tt.want)
			}
			if strings.Contains(tt.body, `"etag"`) && req.GetPartnerGroup().GetEtag() != "e1" {
				t.Errorf("etag %q did not reach the service as the precondition", req.GetPartnerGroup().GetEtag())
			}
		})
	}
}

// TestBadPatchBodiesNameTheField: a PATCH's handler reads the body into a buffer of its own (to
// infer the update mask from it) before decoding; its bad bodies name the field all the same.
func TestBadPatchBodiesNameTheField(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	for _, tt := range []struct{ name, query, body, field string }{
		{"wrong type, mask given", "?updateMask=displayName", `{"displayName": 5}`, "partner_group.display_name"},
		{"unknown field, mask from the body", "", `{"displayName": "x", "colour": "red"}`, "partner_group.colour"},
		{"malformed", "", `{"displayName": "x",}`, "body"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, raw := do(t, newRequest(t, http.MethodPatch, gw.URL+"/v1/partnerGroups/"+groupID+tt.query, strings.NewReader(tt.body)))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("HTTP %d, want 400: %s", resp.StatusCode, raw)
			}
			if got := decodeError(t, raw).fieldViolations(t); !slices.Equal(got, []string{tt.field}) {
				t.Errorf("field violations %v, want [%s] (body %s)", got, tt.field, raw)
			}
		})
	}
	big := `{"displayName": "` + strings.Repeat("x", 2<<20) + `"}`
	if resp, raw := do(t, newRequest(t, http.MethodPatch, gw.URL+"/v1/partnerGroups/"+groupID, strings.NewReader(big))); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("PATCH of 2 MiB: HTTP %d, want 413: %.200s", resp.StatusCode, raw)
	}
}

func TestBadBodiesNameTheField(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	tests := []struct {
		name    string
		path    string
		body    string
		field   string
		message string // substring of the message
	}{
		{name: "malformed JSON", path: "/v1/partnerGroups", body: `{"displayName": "x",}`, field: "body", message: "malformed JSON"},
		{name: "truncated JSON", path: "/v1/partnerGroups", body: `{"displayName": "x"`, field: "body", message: "unexpected end of input"},
		{name: "wrong type", path: "/v1/partnerGroups", body: `{"displayName": 5}`, field: "partner_group.display_name", message: "partner_group.display_name: "},
		{name: "unknown enum value", path: "/v1/partnerGroups", body: `{"displayName": "x", "kind": "GROUP_KIND_SPACESHIP"}`, field: "partner_group.kind", message: "GROUP_KIND_SPACESHIP"},
		{name: "unknown field", path: "/v1/partnerGroups", body: `{"displayName": "x", "colour": "red"}`, field: "partner_group.colour", message: `unknown field "colour"`},
		{name: "proto field name accepted, path in proto names", path: "/v1/partnerGroups", body: `{"display_name": "x", "service_areas": [7]}`, field: "partner_group.service_areas[0]"},
		{name: "nested in a list", path: "/v1/partnerGroups", body: `{"displayName": "x", "capabilities": [{"category": "CATEGORY_CHILDCARE"}, {"category": "CATEGORY_ASTROLOGY"}]}`, field: "partner_group.capabilities[1].category"},
		{name: "nested message", path: "/v1/partnerGroups", body: `{"displayName": "x", "contact": {"personName": "何老师", "phone": 13800000000}}`, field: "partner_group.contact.phone"},
		{name: "multi-line with non-ASCII", path: "/v1/partnerGroups", body: "{\n  \"displayName\": \"二桥西社区志愿者队\",\n  \"description\": \"作业辅导\", \"kind\": 7.5\n}", field: "partner_group.kind"},
		{name: "whole-body route has no prefix", path: "/v1/partners:search", body: `{"regionCode": 450105}`, field: "region_code"},
		{name: "body not an object", path: "/v1/partnerGroups", body: `[1, 2]`, field: "partner_group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := u.partner.calls.Load()
			resp, raw := do(t, newRequest(t, http.MethodPost, gw.URL+tt.path, strings.NewReader(tt.body)))
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("HTTP %d, want 400: %s", resp.StatusCode, raw)
			}
			e := decodeError(t, raw)
			if e.Status != "INVALID_ARGUMENT" || e.Code != 3 {
				t.Errorf("status %s code %d", e.Status, e.Code)
			}
			if got := e.fieldViolations(t); !slices.Equal(got, []string{tt.field}) {
				t.Errorf("field violations %v, want [%s] (body %s)", got, tt.field, raw)
			}
			if !strings.HasPrefix(e.Message, tt.field+": ") || !strings.Contains(e.Message, tt.message) {
				t.Errorf("message %q does not start with %q or lacks %q", e.Message, tt.field+": ", tt.message)
			}
			if u.partner.calls.Load() != before {
				t.Errorf("upstream was called with an undecodable body")
			}
		})
	}
}

func TestOversizeBodyIs413(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{MaxBodyBytes: 1024})
	big := `{"displayName": "x", "description": "` + strings.Repeat("长", 1000) + `"}`
	tests := []struct {
		name string
		body func() io.Reader
	}{
		{"with Content-Length", func() io.Reader { return strings.NewReader(big) }},
		// No length known up front: the limit is found while decoding.
		{"chunked", func() io.Reader { return io.MultiReader(strings.NewReader(big)) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodPost, gw.URL+"/v1/partnerGroups", tt.body())
			if tt.name == "chunked" && req.ContentLength != 0 {
				t.Fatalf("request has a length %d", req.ContentLength)
			}
			resp, raw := do(t, req)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("HTTP %d, want 413: %s", resp.StatusCode, raw)
			}
			e := decodeError(t, raw)
			if got := e.fieldViolations(t); !slices.Equal(got, []string{"body"}) || !strings.Contains(e.Message, "1024 bytes") {
				t.Errorf("body %s: want a violation on body naming the limit", raw)
			}
		})
	}
	if n := u.partner.calls.Load(); n != 0 {
		t.Errorf("upstream called %d times for oversize bodies", n)
	}
	// A body within the limit still goes through.
	resp, raw := do(t, newRequest(t, http.MethodPost, gw.URL+"/v1/partnerGroups", strings.NewReader(`{"displayName": "茶艺工作室"}`)))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("small body: HTTP %d %s", resp.StatusCode, raw)
	}
}

func TestCORS(t *testing.T) {
	u := startUpstream(t)
	const console = "https://console.jiayuan.example"
	gw := startGateway(t, u, gateway.Options{AllowedOrigins: []string{console}})
	tests := []struct {
		name      string
		origin    string
		headers   string
		wantAllow bool
	}{
		{"allowed origin", console, "authorization,content-type", true},
		{"other origin", "https://evil.example", "authorization,content-type", false},
		{"header not allowed", console, "x-debug-me", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodOptions, gw.URL+"/v1/partnerGroups", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", http.MethodPost)
			req.Header.Set("Access-Control-Request-Headers", tt.headers)
			resp, _ := do(t, req)
			got := resp.Header.Get("Access-Control-Allow-Origin")
			if tt.wantAllow {
				if resp.StatusCode/100 != 2 || got != tt.origin {
					t.Errorf("preflight: HTTP %d, Allow-Origin %q; want 2xx and %q", resp.StatusCode, got, tt.origin)
				}
				if h := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "authorization") {
					t.Errorf("Allow-Headers %q lacks authorization", h)
				}
				if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
					t.Errorf("credentials allowed without AllowCredentials")
				}
			} else if got != "" {
				t.Errorf("preflight from %s allowed: Allow-Origin %q", tt.origin, got)
			}
		})
	}

	// The actual request from the allowed origin carries the header too.
	req := newRequest(t, http.MethodGet, gw.URL+"/v1/partnerGroups/"+groupID, nil)
	req.Header.Set("Origin", console)
	resp, _ := do(t, req)
	if resp.Header.Get("Access-Control-Allow-Origin") != console {
		t.Errorf("GET from the console: Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}

	if _, err := gateway.New(context.Background(), gateway.Options{AllowedOrigins: []string{"*"}, AllowCredentials: true}); err == nil {
		t.Error(`New accepted credentials with origin "*"`)
	}
}

func TestHealthz(t *testing.T) {
	u := startUpstream(t)
	// A second upstream that nothing serves: its check fails.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().String()
	_ = l.Close()

	type report struct {
		Status     string            `json:"status"`
		Upstreams  map[string]string `json:"upstreams"`
		NotServing []string          `json:"notServing"`
	}
	get := func(gw *httptest.Server) (int, report) {
		resp, raw := do(t, newRequest(t, http.MethodGet, gw.URL+"/healthz", nil))
		var r report
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatalf("healthz body %s: %v", raw, err)
		}
		return resp.StatusCode, r
	}

	gw := startGateway(t, u, gateway.Options{})
	if code, r := get(gw); code != http.StatusOK || r.Status != "SERVING" || r.Upstreams["partner"] != "SERVING" {
		t.Fatalf("healthz = %d %+v, want 200 SERVING", code, r)
	}
	u.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if code, r := get(gw); code != http.StatusServiceUnavailable || !slices.Equal(r.NotServing, []string{"partner"}) || r.Upstreams["partner"] != "NOT_SERVING" {
		t.Fatalf("healthz after NOT_SERVING = %d %+v, want 503 naming partner", code, r)
	}
	u.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)

	gw2 := startGateway(t, u, gateway.Options{
		HealthTimeout: time.Second,
		Upstreams: []gateway.Upstream{{
			Name: "demand", Target: deadAddr, Register: func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error { return nil },
			DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())},
		}},
	})
	code, r := get(gw2)
	if code != http.StatusServiceUnavailable || !slices.Equal(r.NotServing, []string{"demand"}) || r.Upstreams["partner"] != "SERVING" {
		t.Fatalf("healthz with a dead upstream = %d %+v, want 503 naming demand only", code, r)
	}
	if s := r.Upstreams["demand"]; s != "UNAVAILABLE" && s != "DEADLINE_EXCEEDED" {
		t.Errorf("dead upstream reported as %q", s)
	}
}

func TestOpenAPIServed(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	resp, raw := do(t, newRequest(t, http.MethodGet, gw.URL+"/openapi.json", nil))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /openapi.json: HTTP %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc struct {
		Swagger string                     `json:"swagger"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Swagger != "2.0" || doc.Paths["/v1/partnerGroups"] == nil {
		t.Errorf("document: swagger %q, %d paths; want 2.0 with /v1/partnerGroups", doc.Swagger, len(doc.Paths))
	}

	resp, raw = do(t, newRequest(t, http.MethodPost, gw.URL+"/openapi.json", strings.NewReader("{}")))
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /openapi.json: HTTP %d", resp.StatusCode)
	}
	decodeError(t, raw)
}

func TestTracePropagatesToUpstream(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	u := startUpstream(t)
	var logs lockedBuffer
	gw := startGateway(t, u, gateway.Options{
		Logger: telemetry.NewLogger(&logs, slog.LevelInfo, "json"),
		Telemetry: &telemetry.Providers{
			TracerProvider: tp, MeterProvider: metricnoop.NewMeterProvider(), Propagator: propagation.TraceContext{},
		},
	})

	resp, raw := do(t, newRequest(t, http.MethodGet, gw.URL+"/v1/partnerGroups/"+groupID, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d %s", resp.StatusCode, raw)
	}
	traceparent := u.partner.seen().Get("traceparent")
	if len(traceparent) != 1 {
		t.Fatalf("upstream saw traceparent %v", traceparent)
	}
	// The server span ends (and the access log is written) after the handler returns, which
	// may be after the client has read the response: wait for it.
	var server sdktrace.ReadOnlySpan
	for deadline := time.Now().Add(5 * time.Second); server == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, s := range exp.GetSpans().Snapshots() {
			if s.Name() == "GET /v1/{name=partnerGroups/*}" {
				server = s
			}
		}
	}
	if server == nil {
		var names []string
		for _, s := range exp.GetSpans() {
			names = append(names, s.Name)
		}
		t.Fatalf("no span named after the route; spans: %v", names)
	}
	if !strings.Contains(traceparent[0], server.SpanContext().TraceID().String()) {
		t.Errorf("upstream traceparent %s is not in the gateway's trace %s", traceparent[0], server.SpanContext().TraceID())
	}

	// The access log line carries the same trace.
	var rec struct {
		Msg     string `json:"msg"`
		Status  int    `json:"status"`
		Path    string `json:"path"`
		TraceID string `json:"trace_id"`
	}
	if err := json.Unmarshal(logs.bytes(), &rec); err != nil {
		t.Fatalf("access log %q: %v", logs.bytes(), err)
	}
	if rec.Msg != "http request" || rec.Status != http.StatusOK || rec.Path != "/v1/partnerGroups/"+groupID ||
		rec.TraceID != server.SpanContext().TraceID().String() {
		t.Errorf("access log %+v, want the request with status 200 in trace %s", rec, server.SpanContext().TraceID())
	}
}

// lockedBuffer collects log output written from the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// TestCallsSpreadOverReplicas: a target that resolves to several replicas (as a headless
// Kubernetes Service does) gets calls on every one, not on the first only.
func TestCallsSpreadOverReplicas(t *testing.T) {
	a, b := startUpstream(t), startUpstream(t)
	r := manual.NewBuilderWithScheme("replicas")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: a.addr}, {Addr: b.addr}}})
	g, err := gateway.New(context.Background(), gateway.Options{
		Logger: slog.New(slog.DiscardHandler),
		Upstreams: []gateway.Upstream{{
			Name: "partner", Target: "replicas:///partner", Register: partnerv1.RegisterPartnerServiceHandler,
			DialOptions: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithResolvers(r)},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer func() { srv.Close(); _ = g.Close() }()
	for range 20 {
		resp, _ := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/partnerGroups/"+groupID, nil))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET: %d", resp.StatusCode)
		}
	}
	if na, nb := a.partner.calls.Load(), b.partner.calls.Load(); na == 0 || nb == 0 || na+nb != 20 {
		t.Fatalf("calls per replica: %d and %d, want both used", na, nb)
	}
}

func TestReadyzReflectsDrainOnly(t *testing.T) {
	u := startUpstream(t)
	g, err := gateway.New(context.Background(), gateway.Options{Logger: slog.New(slog.DiscardHandler), Upstreams: []gateway.Upstream{partnerUpstreamOf(u)}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	defer func() { srv.Close(); _ = g.Close() }()
	ready := func() int {
		resp, _ := do(t, newRequest(t, http.MethodGet, srv.URL+"/readyz", nil))
		return resp.StatusCode
	}
	// An upstream that is down does not make the gateway unready (that is /healthz's job).
	u.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if code := ready(); code != http.StatusOK {
		t.Fatalf("readyz = %d, want 200", code)
	}
	g.Drain()
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining = %d, want 503", code)
	}
	// Requests are still served during the drain.
	resp, _ := do(t, newRequest(t, http.MethodGet, srv.URL+"/v1/partnerGroups/"+groupID, nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("request while draining: %d", resp.StatusCode)
	}
}
