// Package delivery sends a service's notification outbox: a Sender, run beside the service on
// every replica, claims the messages that are due from the service's own outbox table (a
// [Queue]), posts each through the district's signed webhook (platform/webhook) and records the
// outcome, retrying failed calls with exponential backoff and jitter up to a number of tries and
// holding messages that are not urgent through quiet hours. Without a webhook (a development
// suite) it writes each message to the log instead, with the fields the service chose to show.
//
// It is the one mechanism every service that tells people something uses: the demand service
// (residents hear of their demands) and the escalation service (units hear of the cases
// assigned to them, their warnings and overdue duties). Each keeps its own outbox table,
// written in the transaction of what the message tells of, and says how a row becomes a call's
// body; the claiming, the leases, the retries and the logging are here.
//
// Delivery is at least once, made exactly once by the receiver: every call for a message
// carries the message's id as the Idempotency-Key, so a call that reached the gateway but
// whose answer was lost (a timeout, a sender that died) and is made again is recognised there.
// Once a message is recorded Sent it is never claimed again.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/webhook"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = 8
	// With these, eight tries span about an hour: 30s, 1m, 2m, … 32m between them (less the
	// jitter).
	DefaultRetryBase = 30 * time.Second
	DefaultRetryMax  = time.Hour
	DefaultPoll      = 5 * time.Second
	// DefaultBatch is how many messages one claim takes, delivered concurrently.
	DefaultBatch = 8
)

// State is where a message stands after a try.
type State int

// The outcomes of a try.
const (
	// Sent: the webhook took it (2xx).
	Sent State = iota + 1
	// Logged: no webhook is configured; the message was written to the log, never sent. Its
	// own state, so a message in a development log never reads as sent.
	Logged
	// Pending: to try again at Outcome.Due.
	Pending
	// Held: to try again at Outcome.Due, which is when quiet hours end.
	Held
	// Failed: given up (too many tries, or an answer that says the call itself is wrong).
	Failed
)

// Item is a message claimed for delivery.
type Item struct {
	// Name is the message's resource name, which Finish and Release are given back.
	Name string
	// ID is the call's Idempotency-Key: the same on every try of the message.
	ID string
	// Lease identifies the claim: Finish records the outcome only while the row is under it.
	Lease string
	// Attempts is how many tries were made before this one.
	Attempts int
	// Urgent messages are sent during quiet hours too.
	Urgent bool
	// Body is the JSON the webhook is posted, built only when it is posted (it may open
	// sealed personal data).
	Body func() ([]byte, error)
	// Log are the attributes written to the log in place of a call when there is no
	// webhook: nothing secret, personal data masked.
	Log []any
}

// Outcome is how a try at delivering a message ended.
type Outcome struct {
	State State
	// At is when it was sent or logged.
	At time.Time
	// Due is when to try again (Pending, Held).
	Due time.Time
	// Err is why the try failed, to show staff: the webhook's errors hold no URL nor body.
	Err string
}

// Queue is a service's outbox table, as the Sender sees it.
type Queue interface {
	// Claim claims up to limit messages due at now (with quiet set, only urgent ones) under a
	// new lease running for lease, so that no other sender takes them meanwhile: replicas
	// claim apart (SKIP LOCKED on PostgreSQL). A sender that dies leaves its claims to be
	// taken again when the lease runs out.
	Claim(ctx context.Context, now time.Time, quiet bool, lease time.Duration, limit int) ([]Item, error)
	// Finish records the outcome of the try made under lease, counts the try and releases
	// the lease. It reports false, recording nothing, when the message is no longer under
	// that lease, or no longer to deliver.
	Finish(ctx context.Context, name, lease string, o Outcome) (bool, error)
	// Release gives up the lease without a try (the sender is stopping): the message is due
	// again at once.
	Release(ctx context.Context, name, lease string) error
}

// Config configures a Sender.
type Config struct {
	Queue Queue
	// Webhook is where messages go; nil writes each to Logger instead, recorded Logged.
	Webhook *webhook.Client
	// WebhookTimeout is the webhook client's bound on one call; a claim's lease is longer, so
	// no other replica takes a message while a call for it may still be made.
	WebhookTimeout time.Duration
	// Quiet holds the messages that are not urgent while it lasts.
	Quiet calendar.QuietHours
	// MaxAttempts is how many tries a message gets before it is Failed.
	MaxAttempts int
	// RetryBase is the wait after the first failed try, doubled after each, at most RetryMax.
	RetryBase, RetryMax time.Duration
	// Poll is how often the sender looks for due messages when nothing wakes it.
	Poll time.Duration
	// Batch is how many messages one claim takes.
	Batch  int
	Logger *slog.Logger
	// What names the messages in logs ("notification", "unit notification"), and Setting the
	// option that configures the webhook, named in the warning when there is none.
	What, Setting string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Metrics, when set, records the tries and what waits (see Metrics).
	Metrics *Metrics
}

// Sender delivers an outbox. Run it once per replica: replicas claim apart.
type Sender struct {
	cfg    Config
	lease  time.Duration
	now    func() time.Time
	log    *slog.Logger
	wake   chan struct{}
	jitter func(int64) int64
	// inst are the metrics' instruments, recorded while Run runs.
	inst instruments
}

// New returns the sender of cfg, with the defaults filled in.
func New(cfg Config) *Sender {
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = DefaultRetryMax
	}
	cfg.RetryMax = max(cfg.RetryMax, cfg.RetryBase)
	if cfg.Poll <= 0 {
		cfg.Poll = DefaultPoll
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.WebhookTimeout <= 0 {
		cfg.WebhookTimeout = webhook.DefaultTimeout
	}
	if cfg.What == "" {
		cfg.What = "notification"
	}
	s := &Sender{
		cfg: cfg, now: cfg.Now, log: cfg.Logger, wake: make(chan struct{}, 1), jitter: rand.Int64N,
		// Twice the call's bound and some: a call still in flight when the lease ends is one
		// whose client gave up long before.
		lease: 2*cfg.WebhookTimeout + 30*time.Second,
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	return s
}

// Wake makes Run look for due messages now rather than at its next poll: the service calls it
// after committing new ones. It never blocks; a nil Sender ignores it.
func (s *Sender) Wake() {
	if s == nil {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers due messages until ctx ends, then returns nil. Failures to reach the database
// are logged and tried again at the next poll: the rest of the service is unaffected.
func (s *Sender) Run(ctx context.Context) error {
	stop, err := s.register()
	if err != nil {
		return err
	}
	defer stop()
	if s.cfg.Webhook == nil {
		msg := "no webhook configured: " + s.cfg.What + "s are written to the log, not sent"
		if s.cfg.Setting != "" {
			msg = "no webhook configured (" + s.cfg.Setting + "): " + s.cfg.What + "s are written to the log, not sent"
		}
		s.log.WarnContext(ctx, msg)
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := s.SendDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.WarnContext(ctx, "could not deliver "+s.cfg.What+"s; trying again later", "error", err, "retry_in", s.cfg.Poll)
		} else if n == s.cfg.Batch {
			continue // a full batch: more may be due
		}
		timer.Reset(s.cfg.Poll)
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-timer.C:
		}
	}
}

// SendDue claims the messages due now (one batch) and delivers them concurrently, returning
// how many it claimed.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	now := s.now()
	_, quiet := s.cfg.Quiet.Until(now)
	due, err := s.cfg.Queue.Claim(ctx, now, quiet, s.lease, s.cfg.Batch)
	if err != nil {
		return 0, err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, d := range due {
		wg.Go(func() {
			if err := s.deliver(ctx, d); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return len(due), errors.Join(errs...)
}

// finishWithin bounds recording an outcome once the call is over, even as the sender stops:
// a delivered message must be recorded Sent, or it would be tried again.
const finishWithin = 10 * time.Second

// deliver makes one try at d and records its outcome.
func (s *Sender) deliver(ctx context.Context, d Item) error {
	var out Outcome
	if s.cfg.Webhook == nil {
		s.log.InfoContext(ctx, s.cfg.What+" (no webhook: logged, not sent)", append([]any{"name", d.Name, "urgent", d.Urgent}, d.Log...)...)
		out = Outcome{State: Logged, At: s.now()}
	} else {
		body, err := d.Body()
		if err != nil {
			return fmt.Errorf("encode %s: %w", d.Name, err)
		}
		err = s.cfg.Webhook.Post(ctx, d.ID, body)
		if err != nil && ctx.Err() != nil {
			// Stopping: whether the receiver got it is unknown. Due again at once, for another
			// replica or the next start; the same Idempotency-Key goes with it.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishWithin)
			defer cancel()
			return s.cfg.Queue.Release(rctx, d.Name, d.Lease)
		}
		out = s.outcome(d, err)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishWithin)
	defer cancel()
	ok, err := s.cfg.Queue.Finish(fctx, d.Name, d.Lease, out)
	if err != nil {
		return err
	}
	if !ok {
		// The lease ran out during the call and another sender took the message: its outcome
		// is the one kept.
		s.log.WarnContext(ctx, "a "+s.cfg.What+"'s lease ran out during its delivery", "name", d.Name)
		return nil
	}
	s.inst.delivered(ctx, out.State)
	switch out.State {
	case Failed:
		s.log.ErrorContext(ctx, s.cfg.What+" not delivered: given up", "name", d.Name, "attempts", d.Attempts+1, "error", out.Err)
	case Pending, Held:
		s.log.WarnContext(ctx, s.cfg.What+" not delivered; trying again later", "name", d.Name, "attempts", d.Attempts+1,
			"error", out.Err, "next_attempt", out.Due)
	}
	return nil
}

// outcome is what a call that ended with err makes of d.
func (s *Sender) outcome(d Item, err error) Outcome {
	now := s.now()
	if err == nil {
		return Outcome{State: Sent, At: now}
	}
	tries := d.Attempts + 1
	switch {
	case !webhook.Retryable(err):
		return Outcome{State: Failed, Err: err.Error() + " (not retried)"}
	case tries >= s.cfg.MaxAttempts:
		return Outcome{State: Failed, Err: fmt.Sprintf("%v (gave up after %d tries)", err, tries)}
	}
	due := now.Add(Backoff(tries, s.cfg.RetryBase, s.cfg.RetryMax, s.jitter))
	if !d.Urgent {
		if until, held := s.cfg.Quiet.Until(due); held {
			return Outcome{State: Held, Due: until, Err: err.Error()}
		}
	}
	return Outcome{State: Pending, Due: due, Err: err.Error()}
}

// Backoff is how long to wait after the attempt-th failed try (1 for the first) before the
// next: base doubled for each try before, at most max, of which a random part (jitter(n)
// returns a value in [0, n)) is taken off, so the retries of many messages that failed
// together (the gateway down for a minute) do not all come back at once. The wait is at least
// half the doubled delay.
func Backoff(attempt int, base, max time.Duration, jitter func(n int64) int64) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := base
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	if half := int64(d / 2); half > 0 && jitter != nil {
		d -= time.Duration(jitter(half))
	}
	return d
}
