package delivery

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/webhook"
)

func TestBackoff(t *testing.T) {
	none := func(int64) int64 { return 0 }
	most := func(n int64) int64 { return n - 1 }
	tests := []struct {
		attempt int
		jitter  func(int64) int64
		want    time.Duration
	}{
		{1, none, 30 * time.Second},
		{2, none, time.Minute},
		{4, none, 4 * time.Minute},
		{8, none, time.Hour}, // 64 minutes, capped
		{50, none, time.Hour},
		{0, none, 30 * time.Second},
		{1, most, 15*time.Second + 1},
		{8, most, 30*time.Minute + 1},
	}
	for _, tt := range tests {
		if got := Backoff(tt.attempt, 30*time.Second, time.Hour, tt.jitter); got != tt.want {
			t.Errorf("Backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

// memQueue is an outbox in memory: what a service's table does, for the sender's own tests.
type memQueue struct {
	mu    sync.Mutex
	items map[string]*memItem
	order []string
}

type memItem struct {
	urgent   bool
	attempts int
	due      time.Time
	lease    string
	until    time.Time
	done     bool
	last     Outcome
}

func newQueue(names ...string) *memQueue {
	q := &memQueue{items: map[string]*memItem{}}
	for _, n := range names {
		q.items[n] = &memItem{urgent: strings.HasPrefix(n, "urgent")}
		q.order = append(q.order, n)
	}
	return q
}

func (q *memQueue) Claim(_ context.Context, now time.Time, quiet bool, lease time.Duration, limit int) ([]Item, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []Item
	for _, n := range q.order {
		it := q.items[n]
		if len(out) == limit || it.done || it.due.After(now) || it.until.After(now) || (quiet && !it.urgent) {
			continue
		}
		it.lease, it.until = n+"-lease", now.Add(lease)
		out = append(out, Item{Name: n, ID: n, Lease: it.lease, Attempts: it.attempts, Urgent: it.urgent,
			Body: func() ([]byte, error) { return []byte(`{"name":"` + n + `"}`), nil }, Log: []any{"text", "hello " + n}})
	}
	return out, nil
}

func (q *memQueue) Finish(_ context.Context, name, lease string, o Outcome) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	it := q.items[name]
	if it.lease != lease || it.done {
		return false, nil
	}
	it.attempts++
	it.lease, it.until, it.last = "", time.Time{}, o
	switch o.State {
	case Sent, Logged, Failed:
		it.done = true
	default:
		it.due = o.Due
	}
	return true, nil
}

func (q *memQueue) Release(_ context.Context, name, lease string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if it := q.items[name]; it.lease == lease {
		it.lease, it.until = "", time.Time{}
	}
	return nil
}

func (q *memQueue) outcome(name string) (Outcome, int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.items[name].last, q.items[name].attempts
}

// TestOutcomes: each answer of the webhook makes its outcome — sent, tried again with the
// backoff, held through quiet hours, given up — and without a webhook a message is logged.
func TestOutcomes(t *testing.T) {
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)     // 11:00 in China: not quiet
	night := time.Date(2026, 12, 2, 13, 30, 0, 0, time.UTC) // 21:30 in China: a retry an hour on falls in quiet hours
	quiet, err := calendar.ParseQuietHours("22:00-07:00")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		status   int // 0: no webhook
		at       time.Time
		attempts int
		want     State
	}{
		{"accepted", http.StatusOK, now, 0, Sent},
		{"no webhook", 0, now, 0, Logged},
		{"gateway down", http.StatusServiceUnavailable, now, 0, Pending},
		{"gateway down, retry falls in quiet hours", http.StatusServiceUnavailable, night, 0, Held},
		{"gateway down, last try", http.StatusServiceUnavailable, now, 2, Failed},
		{"refused for good", http.StatusBadRequest, now, 0, Failed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls int
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				mu.Lock()
				calls++
				mu.Unlock()
				if r.Header.Get(webhook.IdempotencyHeader) != "m" {
					t.Errorf("Idempotency-Key %q", r.Header.Get(webhook.IdempotencyHeader))
				}
				w.WriteHeader(tt.status)
			}))
			defer srv.Close()
			var hook *webhook.Client
			if tt.status != 0 {
				if hook, err = webhook.New(webhook.Config{URL: srv.URL, Secret: []byte("0123456789abcdef"), AllowLoopbackHTTP: true}); err != nil {
					t.Fatal(err)
				}
			}
			q := newQueue("m")
			q.items["m"].attempts = tt.attempts
			var logs strings.Builder
			s := New(Config{Queue: q, Webhook: hook, Quiet: quiet, MaxAttempts: 3, RetryBase: time.Hour, RetryMax: 4 * time.Hour,
				Logger: slog.New(slog.NewTextHandler(&logs, nil)), Now: func() time.Time { return tt.at }})
			s.jitter = func(int64) int64 { return 0 }
			n, err := s.SendDue(t.Context())
			if err != nil || n != 1 {
				t.Fatalf("SendDue = %d, %v", n, err)
			}
			got, attempts := q.outcome("m")
			if got.State != tt.want || attempts != tt.attempts+1 {
				t.Fatalf("outcome %+v after %d tries, want %v", got, attempts, tt.want)
			}
			switch tt.want {
			case Pending:
				if want := tt.at.Add(time.Hour); !got.Due.Equal(want) {
					t.Errorf("due %v, want %v", got.Due, want)
				}
			case Held:
				if want := time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC); !got.Due.Equal(want) {
					t.Errorf("held until %v, want %v (07:00 in China)", got.Due, want)
				}
			case Logged:
				if !strings.Contains(logs.String(), "logged, not sent") || !strings.Contains(logs.String(), "hello m") {
					t.Errorf("log %q", logs.String())
				}
			}
			if tt.want != Logged && got.State != Sent && got.Err == "" {
				t.Error("a failed try records no error")
			}
		})
	}
}

// TestQuietHoursClaimOnlyUrgent: during quiet hours a sweep delivers the urgent messages and
// leaves the rest for the morning.
func TestQuietHoursClaimOnlyUrgent(t *testing.T) {
	quiet, err := calendar.ParseQuietHours("22:00-07:00")
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue("urgent-1", "later-1")
	s := New(Config{Queue: q, Quiet: quiet, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return time.Date(2026, 12, 2, 16, 0, 0, 0, time.UTC) }}) // midnight in China
	if n, err := s.SendDue(t.Context()); err != nil || n != 1 {
		t.Fatalf("SendDue = %d, %v; want the urgent one only", n, err)
	}
	if o, _ := q.outcome("later-1"); o.State != 0 {
		t.Errorf("the message that is not urgent went out at midnight: %+v", o)
	}
}

// TestStopReleases: a sender stopped during a call gives the message back, due at once, with
// no try counted.
func TestStopReleases(t *testing.T) {
	started, stop := make(chan struct{}), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer srv.Close()
	defer close(stop)
	hook, err := webhook.New(webhook.Config{URL: srv.URL, Secret: []byte("0123456789abcdef"), AllowLoopbackHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	q := newQueue("m")
	s := New(Config{Queue: q, Webhook: hook, Logger: slog.New(slog.DiscardHandler)})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { _, err := s.SendDue(ctx); done <- err }()
	<-started
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if it := q.items["m"]; it.attempts != 0 || it.lease != "" || it.done {
		t.Errorf("after a stop: %+v, want released with no try", *it)
	}
}
