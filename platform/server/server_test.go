package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

const (
	partnerService = "jiayuan.partner.v1.PartnerService"
	feedService    = "jiayuan.events.v1.EventFeedService"
	validGroup     = "partnerGroups/01JABCDEFGHJKMNPQRSTVWXYZ0"
)

// partnerServer implements GetPartnerGroup through get; the rest is unimplemented.
type partnerServer struct {
	partnerv1.UnimplementedPartnerServiceServer
	get   func(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error)
	calls atomic.Int64
}

func (p *partnerServer) GetPartnerGroup(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error) {
	p.calls.Add(1)
	if p.get != nil {
		return p.get(ctx, req)
	}
	return &partnerv1.GetPartnerGroupResponse{PartnerGroup: &partnerv1.PartnerGroup{Name: req.GetName(), DisplayName: "二桥西社区志愿者队"}}, nil
}

// feedServer sends one heartbeat batch, then holds the stream open until its context ends,
// as a caught-up event feed does.
type feedServer struct {
	eventsv1.UnimplementedEventFeedServiceServer
	watching chan struct{}
}

func (f *feedServer) Watch(req *eventsv1.WatchRequest, stream grpc.ServerStreamingServer[eventsv1.WatchResponse]) error {
	if err := stream.Send(&eventsv1.WatchResponse{}); err != nil {
		return err
	}
	if f.watching != nil {
		close(f.watching)
	}
	<-stream.Context().Done()
	return stream.Context().Err()
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log into while the test
// reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records written so far.
func (b *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(b.buf.Bytes()), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, rec)
	}
	return out
}

type running struct {
	addr   string
	conn   *grpc.ClientConn
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer
}

// stop cancels Serve and returns its result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// start builds a server with opts (fast drain unless set), registers services, serves it on
// a loopback listener and dials it.
func start(t *testing.T, opts server.Options, register func(s grpc.ServiceRegistrar)) *running {
	t.Helper()
	logs := &syncBuffer{}
	if opts.Logger == nil {
		opts.Logger = telemetry.NewLogger(logs, slog.LevelDebug, "json")
	}
	if opts.DrainDelay == 0 {
		opts.DrainDelay = 50 * time.Millisecond
	}
	srv, err := server.New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	register(srv)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{addr: lis.Addr().String(), cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { r.done <- srv.Serve(ctx, lis) }()
	r.conn, err = grpc.NewClient(r.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = r.conn.Close()
		cancel()
		<-r.done
	})
	return r
}

func registerBoth(p *partnerServer, f *feedServer) func(grpc.ServiceRegistrar) {
	return func(s grpc.ServiceRegistrar) {
		partnerv1.RegisterPartnerServiceServer(s, p)
		eventsv1.RegisterEventFeedServiceServer(s, f)
	}
}

func healthOf(ctx context.Context, conn *grpc.ClientConn, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	return resp.GetStatus(), err
}

func TestHealthServingThenNotServingDuringDrain(t *testing.T) {
	r := start(t, server.Options{DrainDelay: 500 * time.Millisecond}, registerBoth(&partnerServer{}, &feedServer{}))
	ctx := context.Background()
	for _, svc := range []string{"", partnerService, feedService} {
		st, err := healthOf(ctx, r.conn, svc)
		if err != nil || st != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health(%q) = %v, %v; want SERVING", svc, st, err)
		}
	}

	stopAt := time.Now()
	r.cancel()
	// During the drain the server still answers, and says NOT_SERVING.
	var st healthpb.HealthCheckResponse_ServingStatus
	for deadline := time.Now().Add(400 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if st, err = healthOf(ctx, r.conn, ""); err != nil {
			t.Fatalf("health check during drain: %v", err)
		}
		if st == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
	}
	if st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health during drain = %v, want NOT_SERVING", st)
	}
	if st, _ := healthOf(ctx, r.conn, partnerService); st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("partner service health during drain = %v", st)
	}
	// Calls are still served during the drain.
	if _, err := partnerv1.NewPartnerServiceClient(r.conn).GetPartnerGroup(ctx, &partnerv1.GetPartnerGroupRequest{Name: validGroup}); err != nil {
		t.Errorf("call during drain: %v", err)
	}
	if err := <-r.done; err != nil {
		t.Fatalf("Serve = %v, want nil after cancel", err)
	}
	if d := time.Since(stopAt); d < 500*time.Millisecond {
		t.Errorf("Serve returned %v after cancel, before the 500ms drain delay", d)
	}
	r.done <- nil // for the cleanup
}

func TestPanicIsInternalAndServerKeepsServing(t *testing.T) {
	p := &partnerServer{get: func(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error) {
		if req.GetName() == validGroup {
			panic("nil map in partner lookup")
		}
		return &partnerv1.GetPartnerGroupResponse{}, nil
	}}
	r := start(t, server.Options{}, registerBoth(p, &feedServer{}))
	client := partnerv1.NewPartnerServiceClient(r.conn)
	ctx := context.Background()

	_, err := client.GetPartnerGroup(ctx, &partnerv1.GetPartnerGroupRequest{Name: validGroup})
	st := status.Convert(err)
	if st.Code() != codes.Internal || strings.Contains(st.Message(), "nil map") {
		t.Fatalf("panic gave %v %q, want INTERNAL without the panic text", st.Code(), st.Message())
	}
	if _, err := client.GetPartnerGroup(ctx, &partnerv1.GetPartnerGroupRequest{Name: "partnerGroups/01JABCDEFGHJKMNPQRSTVWXYZ1"}); err != nil {
		t.Fatalf("call after panic: %v", err)
	}
	var sawPanic bool
	for _, rec := range r.logs.records(t) {
		if rec["msg"] == "panic in gRPC handler" {
			sawPanic = rec["panic"] == "nil map in partner lookup" && strings.Contains(fmt.Sprint(rec["stack"]), "server_test.")
		}
	}
	if !sawPanic {
		t.Errorf("no panic log with the panic value and stack")
	}
}

func TestOversizeMessageIsResourceExhausted(t *testing.T) {
	p := &partnerServer{}
	r := start(t, server.Options{MaxRecvMsgSize: 1024}, registerBoth(p, &feedServer{}))
	_, err := partnerv1.NewPartnerServiceClient(r.conn).GetPartnerGroup(context.Background(),
		&partnerv1.GetPartnerGroupRequest{Name: strings.Repeat("x", 2000)})
	if code := status.Code(err); code != codes.ResourceExhausted {
		t.Fatalf("oversize request: %v, want RESOURCE_EXHAUSTED", err)
	}
	if p.calls.Load() != 0 {
		t.Errorf("handler ran for an oversize request")
	}
}

// A method given a larger limit takes messages the others may not; each keeps its own.
func TestMethodMaxRecvMsgSize(t *testing.T) {
	p := &partnerServer{}
	list := partnerv1.PartnerService_ListPartnerGroups_FullMethodName
	r := start(t, server.Options{MaxRecvMsgSize: 1024, MethodMaxRecvMsgSize: map[string]int{list: 4096}}, registerBoth(p, &feedServer{}))
	client := partnerv1.NewPartnerServiceClient(r.conn)
	ctx := context.Background()

	_, err := client.GetPartnerGroup(ctx, &partnerv1.GetPartnerGroupRequest{Name: strings.Repeat("x", 2000)})
	if st := status.Convert(err); st.Code() != codes.ResourceExhausted || !strings.Contains(st.Message(), "vs. 1024") {
		t.Errorf("2000 bytes to a 1 KiB method: %v, want RESOURCE_EXHAUSTED naming its limit", err)
	}
	if p.calls.Load() != 0 {
		t.Error("the handler ran for an oversize request")
	}
	// The raised method takes 2000 bytes: validation judges the request (its page token is too
	// long), not the size cap.
	_, err = client.ListPartnerGroups(ctx, &partnerv1.ListPartnerGroupsRequest{PageToken: strings.Repeat("x", 2000)})
	if code := status.Code(err); code != codes.InvalidArgument {
		t.Errorf("2000 bytes to the 4 KiB method: %v, want INVALID_ARGUMENT from validation", err)
	}
	_, err = client.ListPartnerGroups(ctx, &partnerv1.ListPartnerGroupsRequest{PageToken: strings.Repeat("x", 5000)})
	if code := status.Code(err); code != codes.ResourceExhausted {
		t.Errorf("5000 bytes to the 4 KiB method: %v, want RESOURCE_EXHAUSTED", err)
	}
	// Streams are held to their own limit too.
	stream, err := eventsv1.NewEventFeedServiceClient(r.conn).Watch(ctx, &eventsv1.WatchRequest{Types: slices.Repeat([]string{strings.Repeat("t", 150)}, 10)})
	if err == nil {
		_, err = stream.Recv()
	}
	if code := status.Code(err); code != codes.ResourceExhausted {
		t.Errorf("2000 bytes to a streaming method: %v, want RESOURCE_EXHAUSTED", err)
	}
}

func badRequestFields(err error) []string {
	var fields []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func TestValidationNamesTheField(t *testing.T) {
	p := &partnerServer{}
	r := start(t, server.Options{}, registerBoth(p, &feedServer{}))
	ctx := context.Background()

	t.Run("stream", func(t *testing.T) {
		stream, err := eventsv1.NewEventFeedServiceClient(r.conn).Watch(ctx, &eventsv1.WatchRequest{AfterCursor: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		if status.Code(err) != codes.InvalidArgument {
			t.Fatalf("Watch(after_cursor=-1): %v, want INVALID_ARGUMENT", err)
		}
		if !strings.Contains(status.Convert(err).Message(), "after_cursor") {
			t.Errorf("message %q does not name after_cursor", status.Convert(err).Message())
		}
		if got := badRequestFields(err); !slices.Equal(got, []string{"after_cursor"}) {
			t.Errorf("BadRequest fields = %v, want [after_cursor]", got)
		}
	})
	t.Run("unary", func(t *testing.T) {
		_, err := partnerv1.NewPartnerServiceClient(r.conn).GetPartnerGroup(ctx, &partnerv1.GetPartnerGroupRequest{Name: "groups/1"})
		if status.Code(err) != codes.InvalidArgument || !slices.Equal(badRequestFields(err), []string{"name"}) {
			t.Fatalf("GetPartnerGroup(bad name): %v, fields %v", err, badRequestFields(err))
		}
		if p.calls.Load() != 0 {
			t.Errorf("handler ran for an invalid request")
		}
	})
}

func listServices(t *testing.T, conn *grpc.ClientConn, alpha bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var names []string
	if alpha {
		stream, err := reflectionv1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range resp.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		return names
	}
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names
}

// TestReflectionOnlyWhenAsked: production serves no reflection unless configured to; then it
// lists every service.
func TestReflectionOnlyWhenAsked(t *testing.T) {
	r := start(t, server.Options{}, registerBoth(&partnerServer{}, &feedServer{}))
	stream, err := reflectionv1.NewServerReflectionClient(r.conn).ServerReflectionInfo(t.Context())
	if err == nil {
		_ = stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
		_, err = stream.Recv()
	}
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("reflection on a server not asked to serve it: %v, want UNIMPLEMENTED", err)
	}
}

func TestReflectionListsServices(t *testing.T) {
	r := start(t, server.Options{Reflection: true}, registerBoth(&partnerServer{}, &feedServer{}))
	want := []string{partnerService, feedService, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}
	for _, alpha := range []bool{false, true} {
		got := listServices(t, r.conn, alpha)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("reflection (v1alpha=%v) lists %v, missing %s", alpha, got, w)
			}
		}
	}
}

func TestCheckMethodsFailingPreventsServe(t *testing.T) {
	var seen map[string]grpc.ServiceInfo
	srv, err := server.New(server.Options{
		Logger: slog.New(slog.DiscardHandler),
		CheckMethods: func(m map[string]grpc.ServiceInfo) error {
			seen = m
			return errors.New("no access policy for /jiayuan.partner.v1.PartnerService/GetPartnerGroup")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	partnerv1.RegisterPartnerServiceServer(srv.GRPC(), &partnerServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), lis) }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Serve kept running although CheckMethods failed")
	}
	if err == nil || !strings.Contains(err.Error(), "no access policy") {
		t.Fatalf("Serve = %v, want the CheckMethods error", err)
	}
	methods := seen[partnerService].Methods
	if !slices.ContainsFunc(methods, func(m grpc.MethodInfo) bool { return m.Name == "GetPartnerGroup" }) {
		t.Errorf("CheckMethods did not see the registered methods: %v", seen)
	}
	if c, err := net.DialTimeout("tcp", lis.Addr().String(), time.Second); err == nil {
		_ = c.Close()
		t.Errorf("listener still accepts connections after Serve refused")
	}
}

func TestInFlightCallCompletesDuringGracefulStop(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	p := &partnerServer{get: func(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error) {
		close(entered)
		<-release
		return &partnerv1.GetPartnerGroupResponse{PartnerGroup: &partnerv1.PartnerGroup{Name: req.GetName()}}, nil
	}}
	r := start(t, server.Options{ShutdownTimeout: 10 * time.Second}, registerBoth(p, &feedServer{}))

	type result struct {
		resp *partnerv1.GetPartnerGroupResponse
		err  error
	}
	got := make(chan result, 1)
	go func() {
		resp, err := partnerv1.NewPartnerServiceClient(r.conn).GetPartnerGroup(context.Background(), &partnerv1.GetPartnerGroupRequest{Name: validGroup})
		got <- result{resp, err}
	}()
	<-entered
	r.cancel()
	// Past the 50ms drain, GracefulStop is waiting for the call.
	time.Sleep(200 * time.Millisecond)
	select {
	case err := <-r.done:
		t.Fatalf("Serve returned (%v) while a call was in flight", err)
	default:
	}
	close(release)
	res := <-got
	if res.err != nil || res.resp.GetPartnerGroup().GetName() != validGroup {
		t.Fatalf("in-flight call = %v, %v; want it to complete", res.resp, res.err)
	}
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
		r.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the last call finished")
	}
}

func TestOpenStreamEndsWithUnavailableOnStop(t *testing.T) {
	f := &feedServer{watching: make(chan struct{})}
	r := start(t, server.Options{ShutdownTimeout: 20 * time.Second}, registerBoth(&partnerServer{}, f))
	stream, err := eventsv1.NewEventFeedServiceClient(r.conn).Watch(context.Background(), &eventsv1.WatchRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	<-f.watching
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	r.done <- nil
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v: the open stream held the graceful stop", d)
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "shutting down") {
		t.Errorf("stream after stop: %v, want UNAVAILABLE saying the server is shutting down", err)
	}
}

func TestShutdownTimeoutCancelsStuckCalls(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	p := &partnerServer{get: func(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error) {
		close(entered)
		<-release // ignores ctx: a stuck handler
		return nil, ctx.Err()
	}}
	r := start(t, server.Options{ShutdownTimeout: 200 * time.Millisecond}, registerBoth(p, &feedServer{}))
	errc := make(chan error, 1)
	go func() {
		_, err := partnerv1.NewPartnerServiceClient(r.conn).GetPartnerGroup(context.Background(), &partnerv1.GetPartnerGroupRequest{Name: validGroup})
		errc <- err
	}()
	<-entered
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Serve = %v", err)
	}
	r.done <- nil
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Serve took %v to give up on a stuck call with a 200ms timeout", d)
	}
	if err := <-errc; status.Code(err) != codes.Unavailable && status.Code(err) != codes.Canceled {
		t.Errorf("stuck call ended with %v, want UNAVAILABLE or CANCELLED", err)
	}
}

// requireAuth stands in for platform/auth's interceptor: no authorization metadata, no call.
func requireAuth(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	if md, _ := metadata.FromIncomingContext(ctx); len(md.Get("authorization")) == 0 {
		return nil, status.Error(codes.Unauthenticated, "missing bearer token")
	}
	if md, _ := metadata.FromIncomingContext(ctx); md.Get("authorization")[0] == "Bearer panic" {
		panic("auth exploded")
	}
	return handler(ctx, req)
}

func TestCallerInterceptorsRunBeforeValidationAndAfterRecovery(t *testing.T) {
	r := start(t, server.Options{Unary: []grpc.UnaryServerInterceptor{requireAuth}}, registerBoth(&partnerServer{}, &feedServer{}))
	client := partnerv1.NewPartnerServiceClient(r.conn)
	invalid := &partnerv1.GetPartnerGroupRequest{Name: "not-a-name"}
	tests := []struct {
		name  string
		token string
		want  codes.Code
	}{
		{"unauthenticated caller learns nothing from validation", "", codes.Unauthenticated},
		{"authenticated caller gets the validation error", "Bearer ok", codes.InvalidArgument},
		{"panic in the caller's interceptor is recovered", "Bearer panic", codes.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.token != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tt.token)
			}
			if _, err := client.GetPartnerGroup(ctx, invalid); status.Code(err) != tt.want {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRequestLogAndInternalErrorsStayInternal(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	providers := &telemetry.Providers{
		TracerProvider: tp,
		MeterProvider:  metricnoop.NewMeterProvider(),
		Propagator:     propagation.TraceContext{},
	}
	p := &partnerServer{get: func(ctx context.Context, req *partnerv1.GetPartnerGroupRequest) (*partnerv1.GetPartnerGroupResponse, error) {
		return nil, fmt.Errorf("load group: %w", errors.New(`pq: password authentication failed for user "jiayuan"`))
	}}
	r := start(t, server.Options{Telemetry: providers}, registerBoth(p, &feedServer{}))

	_, err := partnerv1.NewPartnerServiceClient(r.conn).GetPartnerGroup(context.Background(), &partnerv1.GetPartnerGroupRequest{Name: validGroup})
	st := status.Convert(err)
	if st.Code() != codes.Internal || strings.Contains(st.Message(), "password") {
		t.Fatalf("bare handler error reached the client as %v %q", st.Code(), st.Message())
	}

	var rec map[string]any
	for _, r := range r.logs.records(t) {
		if r["msg"] == "grpc call" && r["grpc.method"] == "/"+partnerService+"/GetPartnerGroup" {
			rec = r
		}
	}
	if rec == nil {
		t.Fatal("no request log record for GetPartnerGroup")
	}
	if rec["grpc.code"] != "Internal" || rec["level"] != "ERROR" || !strings.Contains(fmt.Sprint(rec["cause"]), "password authentication failed") {
		t.Errorf("request log = %v, want code Internal at ERROR with the cause", rec)
	}
	if rec["peer"] == nil || rec["duration"] == nil {
		t.Errorf("request log lacks peer or duration: %v", rec)
	}
	// The server span ends after the status is sent, possibly after the client has it.
	var spans tracetest.SpanStubs
	for deadline := time.Now().Add(5 * time.Second); len(spans) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		spans = exp.GetSpans()
	}
	if len(spans) == 0 {
		t.Fatal("no server span recorded")
	}
	if rec["trace_id"] != spans[0].SpanContext.TraceID().String() {
		t.Errorf("request log trace_id = %v, want the server span's %s", rec["trace_id"], spans[0].SpanContext.TraceID())
	}
}

// rawCodec sends bytes as they are, under the proto codec's name, to put payloads on the wire
// that no proto encoder would write.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }
func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append([]byte(nil), data...)
	return nil
}
func (rawCodec) Name() string { return "proto" }

// TestUndecodableRequestsAreInvalidArgumentAndLogged: a payload that is not the request message
// is the client's fault, INVALID_ARGUMENT, and, like one over the size limit, gets a request
// log line though no interceptor ran.
func TestUndecodableRequestsAreInvalidArgumentAndLogged(t *testing.T) {
	p := &partnerServer{}
	r := start(t, server.Options{MaxRecvMsgSize: 1024}, registerBoth(p, &feedServer{}))
	get := "/" + partnerService + "/GetPartnerGroup"
	watch := "/jiayuan.events.v1.EventFeedService/Watch"
	tests := []struct {
		name, method string
		payload      []byte
		want         codes.Code
	}{
		{"not protobuf", get, []byte{0xff, 0xff, 0xff, 0xff}, codes.InvalidArgument},
		{"a name that is not UTF-8", get, []byte{0x0a, 0x01, 0xff}, codes.InvalidArgument},
		{"over the size limit", get, append([]byte{0x0a, 0xd0, 0x0f}, bytes.Repeat([]byte("x"), 2000)...), codes.ResourceExhausted},
		{"a stream's type that is not UTF-8", watch, []byte{0x12, 0x01, 0xff}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.method == watch {
				var stream grpc.ClientStream
				stream, err = r.conn.NewStream(context.Background(), &grpc.StreamDesc{ServerStreams: true}, watch, grpc.ForceCodec(rawCodec{}))
				if err == nil {
					_ = stream.SendMsg(&tt.payload)
					_ = stream.CloseSend()
					var out []byte
					err = stream.RecvMsg(&out)
				}
			} else {
				var out []byte
				err = r.conn.Invoke(context.Background(), tt.method, &tt.payload, &out, grpc.ForceCodec(rawCodec{}))
			}
			if code := status.Code(err); code != tt.want {
				t.Fatalf("got %v, want %s", err, tt.want)
			}
			if tt.want == codes.InvalidArgument && !slices.Equal(badRequestFields(err), []string{"request"}) {
				t.Errorf("field violations %v, want the request named", badRequestFields(err))
			}
			// grpc-go may send an oversize request's status before the log line is written.
			var logged bool
			for deadline := time.Now().Add(5 * time.Second); !logged && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				for _, rec := range r.logs.records(t) {
					if rec["msg"] == "grpc call" && rec["grpc.method"] == tt.method && rec["grpc.code"] == tt.want.String() {
						logged = true
					}
				}
			}
			if !logged {
				t.Errorf("no request log line for %s with %s: %v", tt.method, tt.want, r.logs.records(t))
			}
		})
	}
	if p.calls.Load() != 0 {
		t.Errorf("the handler ran for a request that does not decode")
	}
}
