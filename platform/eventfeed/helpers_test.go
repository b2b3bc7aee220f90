package eventfeed_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/eventfeed"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

const (
	stringType = "google.protobuf.StringValue"
	int64Type  = "google.protobuf.Int64Value"
	// fastPoll keeps tests quick where the poll path is exercised.
	fastPoll = 20 * time.Millisecond
)

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// migrated opens a fresh database of backend b with the platform tables.
func migrated(t *testing.T, b sqlstoretest.Backend) *sqlstore.DB {
	t.Helper()
	db := b.Open(t)
	if err := db.Migrate(testContext(t), "", nil); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db
}

// feedServer is a Feed behind a real gRPC server on a loopback port.
type feedServer struct {
	addr    string
	feed    *eventfeed.Feed
	srv     *grpc.Server
	stopped atomic.Bool
}

// serve starts feed on addr ("" for any free loopback port) and stops it at cleanup.
func serve(t *testing.T, feed *eventfeed.Feed, addr string) *feedServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var lis net.Listener
	var err error
	// A just-closed port may take a moment to be free again.
	for deadline := time.Now().Add(5 * time.Second); ; {
		lis, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &feedServer{addr: lis.Addr().String(), feed: feed, srv: grpc.NewServer()}
	eventsv1.RegisterEventFeedServiceServer(s.srv, feed)
	go func() { _ = s.srv.Serve(lis) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

// stop closes the feed and stops the server gracefully; GracefulStop returning shows that
// Close ended the open Watch streams.
func (s *feedServer) stop(t *testing.T) {
	t.Helper()
	if s.stopped.Swap(true) {
		return
	}
	s.feed.Close()
	done := make(chan struct{})
	go func() {
		s.srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.srv.Stop()
		t.Error("GracefulStop hung: Feed.Close did not end the Watch streams")
	}
}

func dial(t *testing.T, addr string) eventsv1.EventFeedServiceClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return eventsv1.NewEventFeedServiceClient(conn)
}

// appendEach appends every payload in its own transaction and returns the ids.
func appendEach(t *testing.T, db *sqlstore.DB, o *eventfeed.Outbox, payloads ...proto.Message) []string {
	t.Helper()
	ids := make([]string, 0, len(payloads))
	for i, p := range payloads {
		err := db.InTx(testContext(t), func(ctx context.Context, tx sqlstore.Tx) error {
			id, err := o.Append(ctx, tx, fmt.Sprintf("partners/p%d", i), "450105", p)
			ids = append(ids, id)
			return err
		})
		if err != nil {
			t.Fatalf("append: %v", err)
		}
	}
	return ids
}

func str(s string) proto.Message { return wrapperspb.String(s) }

// watcher collects a Watch stream in the background.
type watcher struct {
	events     chan *eventsv1.Event
	heartbeats atomic.Int64
	err        chan error
	cancel     context.CancelFunc
}

func watch(t *testing.T, client eventsv1.EventFeedServiceClient, req *eventsv1.WatchRequest) *watcher {
	t.Helper()
	return watchWith(t, testContext(t), client, req)
}

// watchCtx watches every event with the outgoing metadata of parent.
func watchCtx(t *testing.T, parent context.Context, client eventsv1.EventFeedServiceClient) *watcher {
	t.Helper()
	md, _ := metadata.FromOutgoingContext(parent)
	return watchWith(t, metadata.NewOutgoingContext(testContext(t), md), client, &eventsv1.WatchRequest{})
}

func watchWith(t *testing.T, parent context.Context, client eventsv1.EventFeedServiceClient, req *eventsv1.WatchRequest) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(parent)
	t.Cleanup(cancel)
	stream, err := client.Watch(ctx, req)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	w := &watcher{events: make(chan *eventsv1.Event, 10000), err: make(chan error, 1), cancel: cancel}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				w.err <- err
				return
			}
			if len(resp.GetEvents()) > 500 {
				w.err <- errors.New("batch larger than 500")
				return
			}
			if len(resp.GetEvents()) == 0 {
				w.heartbeats.Add(1)
			}
			for _, ev := range resp.GetEvents() {
				w.events <- ev
			}
		}
	}()
	return w
}

// next returns the next n events, failing the test if they do not arrive in time.
func (w *watcher) next(t *testing.T, n int) []*eventsv1.Event {
	t.Helper()
	var got []*eventsv1.Event
	timeout := time.After(20 * time.Second)
	for len(got) < n {
		select {
		case ev := <-w.events:
			got = append(got, ev)
		case err := <-w.err:
			t.Fatalf("stream ended after %d of %d events: %v", len(got), n, err)
		case <-timeout:
			t.Fatalf("got %d of %d events before the timeout", len(got), n)
		}
	}
	return got
}

// none asserts that no event arrives for d.
func (w *watcher) none(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-w.events:
		t.Fatalf("unexpected event %s (cursor %d, %s)", ev.GetId(), ev.GetCursor(), payloadString(ev))
	case err := <-w.err:
		t.Fatalf("stream ended: %v", err)
	case <-time.After(d):
	}
}

func payloadString(ev *eventsv1.Event) string {
	var s wrapperspb.StringValue
	if err := ev.GetPayload().UnmarshalTo(&s); err != nil {
		return "<" + ev.GetType() + ">"
	}
	return s.GetValue()
}

func ids(evs []*eventsv1.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.GetId()
	}
	return out
}

// checkIncreasing fails unless cursors strictly increase from above `after`.
func checkIncreasing(t *testing.T, after int64, evs []*eventsv1.Event) {
	t.Helper()
	for _, ev := range evs {
		if ev.GetCursor() <= after {
			t.Fatalf("cursor %d after %d: not strictly increasing", ev.GetCursor(), after)
		}
		after = ev.GetCursor()
	}
}
