package auth_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// testService answers with the principal the interceptor put in the context, and audits its
// unary call as a write.
type testService struct {
	testpb.UnimplementedTestServiceServer
	log *slog.Logger
}

func (s *testService) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return &testpb.Empty{}, nil
}

func (s *testService) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	p, ok := auth.FromContext(ctx)
	if !ok {
		return nil, status.Error(codes.Internal, "no principal in context")
	}
	auth.AuditWrite(ctx, s.log, p, "partners/01JQ4W3ZK8N6T2V5X7Y9A1B3C4", "")
	return &testpb.SimpleResponse{Username: p.Subject}, nil
}

func (s *testService) StreamingOutputCall(_ *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	p, ok := auth.FromContext(stream.Context())
	if !ok {
		return status.Error(codes.Internal, "no principal in stream context")
	}
	for range 3 {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte(p.Subject)}}); err != nil {
			return err
		}
	}
	return nil
}

// syncBuffer is a log destination the server goroutines and the test can share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLines decodes the JSON log lines written so far.
func (b *syncBuffer) logLines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

type testServer struct {
	conn   *grpc.ClientConn
	server *grpc.Server
	logs   *syncBuffer
}

// startServer runs a real gRPC server on a loopback port with health, reflection and the
// testing service behind the auth interceptors.
func startServer(t *testing.T, v func(*slog.Logger) *auth.Verifier, policies auth.Policies) *testServer {
	t.Helper()
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	verifier := v(logger)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(auth.UnaryServerInterceptor(verifier, policies)),
		grpc.ChainStreamInterceptor(auth.StreamServerInterceptor(verifier, policies)),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	testpb.RegisterTestServiceServer(srv, &testService{log: logger})

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(lis) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &testServer{conn: conn, server: srv, logs: logs}
}

func withToken(ctx context.Context, header string) context.Context {
	if header == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", header)
}

// testPolicies protects the testing service's unary and streaming calls and, on purpose,
// leaves its other methods without a policy.
func testPolicies(t *testing.T) auth.Policies {
	t.Helper()
	p, err := auth.Merge(auth.Standard(), auth.Policies{
		testpb.TestService_UnaryCall_FullMethodName:           auth.Allow(auth.RoleCommunityStaff, auth.RoleAdmin),
		testpb.TestService_StreamingOutputCall_FullMethodName: auth.Allow(auth.RoleStreetOfficer),
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInterceptorUnary(t *testing.T) {
	i := newIDP(t)
	other := newIDP(t)
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier {
		v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
			Issuer: testIssuer, Audience: testAudience, PublicKeyPEM: i.publicPEM(t),
		}, auth.WithClock(fixedClock), auth.WithLogger(l))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}, testPolicies(t))
	client := testpb.NewTestServiceClient(ts.conn)
	base := validClaims()
	staff := i.sign(t, base)

	tests := []struct {
		name    string
		header  string
		code    codes.Code
		message string // a substring of the status message
	}{
		{"valid community staff", "Bearer " + staff, codes.OK, ""},
		{"valid admin", "Bearer " + i.sign(t, with(base, map[string]any{"roles": []string{"admin"}, "sub": "admin-1"})), codes.OK, ""},
		{"scheme is case-insensitive", "bearer " + staff, codes.OK, ""},
		{"missing header", "", codes.Unauthenticated, `missing bearer token: send metadata "authorization: Bearer <token>"; WWW-Authenticate: Bearer realm="jiayuan"`},
		{"basic auth", "Basic dXNlcjpwYXNz", codes.Unauthenticated, `malformed authorization metadata: want "Bearer <token>"`},
		{"bearer without token", "Bearer ", codes.Unauthenticated, "malformed authorization metadata"},
		{"expired", "Bearer " + i.sign(t, with(base, map[string]any{"exp": testNow.Add(-time.Hour).Unix()})), codes.Unauthenticated,
			`invalid bearer token: token expired; WWW-Authenticate: Bearer realm="jiayuan", error="invalid_token", error_description="token expired"`},
		{"not yet valid", "Bearer " + i.sign(t, with(base, map[string]any{"nbf": testNow.Add(time.Hour).Unix()})), codes.Unauthenticated, "token not yet valid"},
		{"wrong issuer", "Bearer " + i.sign(t, with(base, map[string]any{"iss": "https://evil.example"})), codes.Unauthenticated, "wrong issuer"},
		{"wrong audience", "Bearer " + i.sign(t, with(base, map[string]any{"aud": "other"})), codes.Unauthenticated, "wrong audience"},
		{"forged", "Bearer " + other.sign(t, base), codes.Unauthenticated, "invalid signature"},
		{"alg none", "Bearer " + unsigned(t, base), codes.Unauthenticated, "signing algorithm not accepted"},
		{"garbage", "Bearer garbage", codes.Unauthenticated, "malformed token"},
		{"unknown role", "Bearer " + i.sign(t, with(base, map[string]any{"roles": []string{"mayor"}})), codes.Unauthenticated, "invalid claims"},
		{"role not allowed", "Bearer " + i.sign(t, with(base, map[string]any{"roles": []string{"resident"}})), codes.PermissionDenied,
			"method /grpc.testing.TestService/UnaryCall needs one of the roles community_staff, admin"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.UnaryCall(withToken(t.Context(), tt.header), &testpb.SimpleRequest{})
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("code = %v (%s), want %v", st.Code(), st.Message(), tt.code)
			}
			if tt.code == codes.OK {
				if resp.GetUsername() == "" {
					t.Error("handler saw no principal")
				}
				return
			}
			if !strings.Contains(st.Message(), tt.message) {
				t.Errorf("message = %q, want it to contain %q", st.Message(), tt.message)
			}
			if tok := strings.TrimPrefix(tt.header, "Bearer "); len(tok) > 8 && strings.Contains(st.Message(), tok) {
				t.Error("the status message repeats the token")
			}
			if tok := strings.TrimPrefix(tt.header, "Bearer "); len(tok) > 8 && strings.Contains(ts.logs.String(), tok) {
				t.Error("the log repeats the token")
			}
		})
	}

	resp, err := client.UnaryCall(withToken(t.Context(), "Bearer "+staff), &testpb.SimpleRequest{})
	if err != nil || resp.GetUsername() != "user-7f3a" {
		t.Errorf("UnaryCall = %v, %v; want the token's subject", resp, err)
	}
}

func TestInterceptorRejectsTwoAuthorizationValues(t *testing.T) {
	i := newIDP(t)
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier { return staticVerifierLogged(t, i, l) }, testPolicies(t))
	tok := i.sign(t, validClaims())
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok, "authorization", "Bearer "+tok)
	_, err := testpb.NewTestServiceClient(ts.conn).UnaryCall(ctx, &testpb.SimpleRequest{})
	if st := status.Convert(err); st.Code() != codes.Unauthenticated || !strings.Contains(st.Message(), "2 values, want 1") {
		t.Errorf("two authorization values: %v", err)
	}
}

func staticVerifierLogged(t *testing.T, i *idp, l *slog.Logger) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Issuer: testIssuer, Audience: testAudience, PublicKeyPEM: i.publicPEM(t),
	}, auth.WithClock(fixedClock), auth.WithLogger(l))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestInterceptorDeniesMethodsWithoutPolicy(t *testing.T) {
	i := newIDP(t)
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier { return staticVerifierLogged(t, i, l) }, testPolicies(t))
	admin := i.sign(t, with(validClaims(), map[string]any{"roles": auth.Roles()}))
	client := testpb.NewTestServiceClient(ts.conn)

	// Even a token holding every role cannot call a method nobody wrote a policy for.
	_, err := client.EmptyCall(withToken(t.Context(), "Bearer "+admin), &testpb.Empty{})
	if st := status.Convert(err); st.Code() != codes.PermissionDenied || st.Message() != "method /grpc.testing.TestService/EmptyCall has no access policy" {
		t.Errorf("EmptyCall = %v", err)
	}
	// Streaming methods too.
	stream, err := client.FullDuplexCall(withToken(t.Context(), "Bearer "+admin))
	if err == nil {
		_, err = stream.Recv()
	}
	if st := status.Convert(err); st.Code() != codes.PermissionDenied {
		t.Errorf("FullDuplexCall = %v", err)
	}

	var loud int
	for _, l := range ts.logs.logLines(t) {
		if l["level"] == "ERROR" && l["method"] == "/grpc.testing.TestService/EmptyCall" && strings.Contains(l["msg"].(string), "no access policy") {
			loud++
		}
	}
	if loud != 1 {
		t.Errorf("%d ERROR log lines for the unlisted method, want 1; logs:\n%s", loud, ts.logs.String())
	}
}

func TestInterceptorStream(t *testing.T) {
	i := newIDP(t)
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier { return staticVerifierLogged(t, i, l) }, testPolicies(t))
	client := testpb.NewTestServiceClient(ts.conn)
	officer := i.sign(t, with(validClaims(), map[string]any{"roles": []string{"street_officer"}, "sub": "officer-9"}))

	tests := []struct {
		name   string
		header string
		code   codes.Code
	}{
		{"allowed", "Bearer " + officer, codes.OK},
		{"no token", "", codes.Unauthenticated},
		{"forged", "Bearer " + newIDP(t).sign(t, validClaims()), codes.Unauthenticated},
		{"role not allowed", "Bearer " + i.sign(t, validClaims()), codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := client.StreamingOutputCall(withToken(t.Context(), tt.header), &testpb.StreamingOutputCallRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var bodies []string
			for {
				msg, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					if st := status.Convert(err); st.Code() != tt.code {
						t.Fatalf("Recv: %v, want %v", err, tt.code)
					}
					return
				}
				bodies = append(bodies, string(msg.GetPayload().GetBody()))
			}
			if tt.code != codes.OK {
				t.Fatalf("stream succeeded, want %v", tt.code)
			}
			if !slices.Equal(bodies, []string{"officer-9", "officer-9", "officer-9"}) {
				t.Errorf("stream bodies = %q", bodies)
			}
		})
	}
}

// TestHealthIsPublicReflectionIsNot: probes check health without a token; reflection, which
// describes the whole API, needs one (of any role).
func TestHealthIsPublicReflectionIsNot(t *testing.T) {
	i := newIDP(t)
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier { return staticVerifierLogged(t, i, l) }, testPolicies(t))

	resp, err := healthpb.NewHealthClient(ts.conn).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Health.Check without a token = %v, %v", resp, err)
	}
	if err := listServices(t.Context(), t, ts.conn); status.Code(err) != codes.Unauthenticated {
		t.Errorf("reflection without a token: %v, want UNAUTHENTICATED", err)
	}
	resident := withToken(t.Context(), "Bearer "+i.sign(t, with(validClaims(), map[string]any{"roles": []string{"resident"}})))
	if err := listServices(resident, t, ts.conn); err != nil {
		t.Errorf("reflection with a resident's token: %v", err)
	}

	// All registered methods have a policy except the two testing-service ones left out on
	// purpose, and CheckCoverage names exactly those.
	err = auth.CheckCoverage(ts.server.GetServiceInfo(), testPolicies(t))
	if err == nil {
		t.Fatal("CheckCoverage found nothing missing")
	}
	var missing []string
	for _, m := range ts.server.GetServiceInfo()["grpc.testing.TestService"].Methods {
		full := "/grpc.testing.TestService/" + m.Name
		if _, ok := testPolicies(t)[full]; !ok {
			missing = append(missing, "method "+full+" has no access policy")
		}
	}
	slices.Sort(missing)
	lines := strings.Split(err.Error(), "\n")
	if lines[0] != "auth: access policies incomplete:" || !slices.Equal(lines[1:], missing) {
		t.Errorf("CheckCoverage =\n%v\nwant the lines\n%s", err, strings.Join(missing, "\n"))
	}
}

func TestHealthCanBeProtected(t *testing.T) {
	i := newIDP(t)
	policies := auth.Policies{
		healthpb.Health_Check_FullMethodName: auth.Allow(auth.RoleSystem),
	}
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier { return staticVerifierLogged(t, i, l) }, policies)
	client := healthpb.NewHealthClient(ts.conn)

	if _, err := client.Check(t.Context(), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("protected Check without a token = %v, want Unauthenticated", err)
	}
	staff := i.sign(t, validClaims())
	if _, err := client.Check(withToken(t.Context(), "Bearer "+staff), &healthpb.HealthCheckRequest{}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("protected Check with the wrong role = %v, want PermissionDenied", err)
	}
	system := i.sign(t, with(validClaims(), map[string]any{"roles": []string{"system"}}))
	if resp, err := client.Check(withToken(t.Context(), "Bearer "+system), &healthpb.HealthCheckRequest{}); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("protected Check with the system role = %v, %v", resp, err)
	}
	// Watch has no policy here, so it is refused even though Check is open to the system role.
	stream, err := client.Watch(withToken(t.Context(), "Bearer "+system), &healthpb.HealthCheckRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.PermissionDenied {
		t.Errorf("Watch without a policy = %v, want PermissionDenied", err)
	}
}

func TestInterceptorKeySetUnavailable(t *testing.T) {
	i := newIDP(t)
	srv := newJWKSServer(t)
	srv.set(http.StatusInternalServerError)
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier {
		v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
			Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL + "/protocol/openid-connect/certs",
		}, auth.WithClock(fixedClock), auth.WithHTTPClient(srv.Client()), auth.WithLogger(l))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}, testPolicies(t))
	_, err := testpb.NewTestServiceClient(ts.conn).UnaryCall(withToken(t.Context(), "Bearer "+i.sign(t, validClaims())), &testpb.SimpleRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("UnaryCall with the key set down = %v, want Unavailable", err)
	}
}

func TestAuditLog(t *testing.T) {
	i := newIDP(t)
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier { return staticVerifierLogged(t, i, l) }, testPolicies(t))
	if _, err := testpb.NewTestServiceClient(ts.conn).UnaryCall(withToken(t.Context(), "Bearer "+i.sign(t, validClaims())), &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	var audits []map[string]any
	for _, l := range ts.logs.logLines(t) {
		if l["msg"] == "audit" {
			audits = append(audits, l)
		}
	}
	if len(audits) != 1 {
		t.Fatalf("%d audit lines, want 1; logs:\n%s", len(audits), ts.logs.String())
	}
	a := audits[0]
	want := map[string]any{
		"action":   "write",
		"resource": "partners/01JQ4W3ZK8N6T2V5X7Y9A1B3C4",
		"method":   "/grpc.testing.TestService/UnaryCall",
		"subject":  "user-7f3a",
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("audit %s = %v, want %v", k, a[k], v)
		}
	}
	if roles, _ := a["roles"].([]any); len(roles) != 1 || roles[0] != "community_staff" {
		t.Errorf("audit roles = %v", a["roles"])
	}
}

func TestAuditRead(t *testing.T) {
	var buf syncBuffer
	grid := auth.Principal{Subject: "grid-3", Roles: []auth.Role{auth.RoleGridWorker}}
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	auth.AuditRead(t.Context(), log, grid, "contact", auth.Shown{Name: "partners/01JQ4W3ZK8N6T2V5X7Y9A1B3C4", Region: "450105001001"})
	auth.AuditWrite(t.Context(), log, grid, "cases/01JQ4W3ZK8N6T2V5X7Y9A1B3C4", "/jiayuan.escalation.v1.EscalationService/EscalateCase")
	auth.AuditRead(t.Context(), log, grid, "contact") // nothing shown: no line
	auth.AuditRead(t.Context(), log, grid, "contact", auth.Shown{Name: "partners/A", Region: "450105001001"}, auth.Shown{Name: "partnerGroups/B", Region: "450105001002"})
	lines := buf.logLines(t)
	if len(lines) != 3 {
		t.Fatalf("%d lines, want 3", len(lines))
	}
	if rs, ok := lines[2]["resources"].([]any); !ok || len(rs) != 2 || rs[0] != "partners/A" || rs[1] != "partnerGroups/B" {
		t.Errorf("one line for several records = %v", lines[2])
	}
	// The region is the smallest enclosing every record shown: an auditor of it sees the read.
	if lines[0]["region"] != "450105001001" || lines[2]["region"] != "450105001" {
		t.Errorf("regions %v and %v, want 450105001001 and 450105001", lines[0]["region"], lines[2]["region"])
	}
	if l := lines[0]; l["msg"] != "audit" || l["action"] != "read_personal" || l["subject"] != "grid-3" || l["data"] != "contact" ||
		l["resource"] != "partners/01JQ4W3ZK8N6T2V5X7Y9A1B3C4" || l["method"] != "" {
		t.Errorf("read line = %v", l)
	}
	if l := lines[1]; l["msg"] != "audit" || l["action"] != "write" || l["method"] != "/jiayuan.escalation.v1.EscalationService/EscalateCase" {
		t.Errorf("write line = %v", l)
	}
}

// TestAuditIgnoresTheLogLevel: audit is not a log level; at warn (or error) the audit records
// are still written, while the Info lines around them are not.
func TestAuditIgnoresTheLogLevel(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelWarn, slog.LevelError} {
		var buf syncBuffer
		log := telemetry.NewLogger(&buf, level, "json").With("service", "partner")
		p := auth.Principal{Subject: "staff-1", Roles: []auth.Role{auth.RoleCommunityStaff}}
		log.Info("not wanted at this level")
		auth.AuditWrite(t.Context(), log, p, "partners/A", "/jiayuan.partner.v1.PartnerService/UpdatePartner")
		auth.AuditRead(t.Context(), log, p, "contact", auth.Shown{Name: "partners/A"})
		lines := buf.logLines(t)
		if len(lines) != 2 {
			t.Fatalf("at %s: %d lines, want the 2 audit records:\n%s", level, len(lines), buf.String())
		}
		for _, l := range lines {
			if l["msg"] != "audit" || l["subject"] != "staff-1" || l["service"] != "partner" {
				t.Errorf("at %s: line %v", level, l)
			}
		}
	}
}

type recordingSink struct {
	mu      sync.Mutex
	records []auth.AuditRecord
}

func (s *recordingSink) Audit(_ context.Context, r auth.AuditRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records = append(s.records, r)
	return nil
}

// TestAuditSinkInContext: a sink in the context (an audit store, later) receives the records
// instead of the log.
func TestAuditSinkInContext(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	sink := &recordingSink{}
	ctx := auth.WithAuditSink(t.Context(), sink)
	p := auth.Principal{Subject: "grid-3", Roles: []auth.Role{auth.RoleGridWorker}}
	auth.AuditWrite(ctx, log, p, "demands/A", "/jiayuan.demand.v1.DemandService/UpdateDemand")
	auth.AuditRead(ctx, log, p, "contact", auth.Shown{Name: "partners/A"}, auth.Shown{Name: "partners/B"})
	if buf.String() != "" {
		t.Errorf("the log got %s", buf.String())
	}
	if len(sink.records) != 2 {
		t.Fatalf("sink got %d records", len(sink.records))
	}
	w, r := sink.records[0], sink.records[1]
	if w.Action != "write" || w.Subject != "grid-3" || !slices.Equal(w.Resources, []string{"demands/A"}) || w.Time.IsZero() {
		t.Errorf("write record %+v", w)
	}
	if r.Action != "read_personal" || r.Data != "contact" || len(r.Resources) != 2 {
		t.Errorf("read record %+v", r)
	}
}

// A signed-link method reaches its handler without a token, and without a Principal even when
// a token came: the handler alone decides, from the link.
func TestInterceptorSignedURL(t *testing.T) {
	i := newIDP(t)
	ts := startServer(t, func(l *slog.Logger) *auth.Verifier { return staticVerifierLogged(t, i, l) }, auth.Policies{
		testpb.TestService_UnaryCall_FullMethodName: auth.SignedURL(),
	})
	client := testpb.NewTestServiceClient(ts.conn)
	for name, header := range map[string]string{
		"no token":      "",
		"a valid token": "Bearer " + i.sign(t, validClaims()),
		"garbage":       "Bearer garbage",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := client.UnaryCall(withToken(t.Context(), header), &testpb.SimpleRequest{})
			// The test handler answers INTERNAL "no principal in context" when it runs without one.
			if st := status.Convert(err); st.Code() != codes.Internal || st.Message() != "no principal in context" {
				t.Errorf("UnaryCall = %v; want the handler to run with no principal", err)
			}
		})
	}
}
