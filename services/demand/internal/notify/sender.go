// Package notify delivers the demand service's notification outbox (internal/store): a sender,
// run beside the service, claims the notifications that are due, calls the district's
// messaging gateway through a signed webhook (platform/webhook) and records each outcome,
// retrying failed calls with exponential backoff and jitter up to a number of tries. Without a
// gateway (a development suite) it writes each notification to the log, the phone number
// masked, instead.
//
// Delivery is at least once, made exactly once by the gateway: every call for a notification
// carries its id as the Idempotency-Key, so a call that reached the gateway but whose answer
// was lost (a timeout, a sender that died) and is made again is recognised there. Once a
// notification is recorded SENT it is never claimed again.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/webhook"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = 8
	// With these, eight tries span about an hour: 30s, 1m, 2m, … 32m between them (less the
	// jitter).
	DefaultRetryBase = 30 * time.Second
	DefaultRetryMax  = time.Hour
	DefaultPoll      = 5 * time.Second
	// DefaultBatch is how many notifications one claim takes, delivered concurrently.
	DefaultBatch = 8
)

// Payload is the JSON body of a call to the messaging gateway (docs/notifications.md).
type Payload struct {
	// ID is the notification's id, also the call's Idempotency-Key: the gateway sends a
	// message once per id.
	ID string `json:"id"`
	// Notification is its resource name, "demands/{demand}/notifications/{id}".
	Notification string `json:"notification"`
	// Demand is the demand it is about, "demands/{demand}".
	Demand string `json:"demand"`
	// Message is the text to send.
	Message   string    `json:"message"`
	Recipient Recipient `json:"recipient"`
	// Urgent messages are sent during quiet hours too; the gateway may send them first.
	Urgent bool `json:"urgent"`
	// CreateTime is when the notification was written (RFC 3339).
	CreateTime time.Time `json:"create_time"`
}

// Recipient is who a message goes to: a resident's account (the subject of their token, for a
// WeChat service account or an app) and/or phone number (for SMS); at least one is set.
type Recipient struct {
	// Kind is REPORTER or SUPPORTER.
	Kind    string `json:"kind"`
	Subject string `json:"subject,omitempty"`
	Phone   string `json:"phone,omitempty"`
}

// Config configures a Sender.
type Config struct {
	DB    *sqlstore.DB
	Store *store.Store
	// Webhook is the district's messaging gateway; nil writes each notification to Logger
	// instead (phone masked) and records it LOGGED.
	Webhook *webhook.Client
	// WebhookTimeout is the webhook client's bound on one call; the lease a claim holds is
	// longer, so no other replica takes a notification while a call for it may still be made.
	WebhookTimeout time.Duration
	// Quiet holds the notifications that are not urgent while it lasts.
	Quiet calendar.QuietHours
	// MaxAttempts is how many tries a notification gets before it is FAILED.
	MaxAttempts int
	// RetryBase is the wait after the first failed try, doubled after each, at most RetryMax.
	RetryBase, RetryMax time.Duration
	// Poll is how often the sender looks for due notifications when nothing wakes it.
	Poll time.Duration
	// Batch is how many notifications one claim takes.
	Batch  int
	Logger *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Sender delivers the outbox. Run it once per replica: replicas claim apart.
type Sender struct {
	cfg    Config
	lease  time.Duration
	now    func() time.Time
	log    *slog.Logger
	wake   chan struct{}
	jitter func(int64) int64
	// metrics are recorded while Run runs.
	metrics metrics
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

// Wake makes Run look for due notifications now rather than at its next poll: the store calls
// it after committing new ones. It never blocks; a nil Sender ignores it.
func (s *Sender) Wake() {
	if s == nil {
		return
	}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers due notifications until ctx ends, then returns nil. Failures to reach the
// database are logged and tried again at the next poll: the rest of the service is unaffected.
func (s *Sender) Run(ctx context.Context) error {
	stop, err := s.register()
	if err != nil {
		return err
	}
	defer stop()
	if s.cfg.Webhook == nil {
		s.log.WarnContext(ctx, "no messaging gateway configured (--notify-webhook-url): notifications are written to the log, not sent")
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		n, err := s.SendDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			s.log.WarnContext(ctx, "could not deliver notifications; trying again later", "error", err, "retry_in", s.cfg.Poll)
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

// SendDue claims the notifications due now (one batch) and delivers them concurrently,
// returning how many it claimed.
func (s *Sender) SendDue(ctx context.Context) (int, error) {
	now := s.now()
	_, quiet := s.cfg.Quiet.Until(now)
	due, err := s.cfg.Store.ClaimNotifications(ctx, s.cfg.DB, now, quiet, s.lease, s.cfg.Batch)
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
// a delivered notification must be recorded SENT, or it would be tried again.
const finishWithin = 10 * time.Second

// deliver makes one try at d and records its outcome.
func (s *Sender) deliver(ctx context.Context, d store.Delivery) error {
	id := d.Name[strings.LastIndexByte(d.Name, '/')+1:]
	kind := strings.TrimPrefix(d.Kind.String(), "RECIPIENT_KIND_")
	var out store.Outcome
	if s.cfg.Webhook == nil {
		s.log.InfoContext(ctx, "notification (no messaging gateway: logged, not sent)",
			"notification", d.Name, "recipient_kind", kind, "subject", d.Subject, "phone", personal.MaskPhone(d.Phone),
			"urgent", d.Urgent, "message", d.Shown)
		out = store.Outcome{State: demandv1.NotificationState_NOTIFICATION_STATE_LOGGED, At: s.now()}
	} else {
		body, err := json.Marshal(Payload{
			ID: id, Notification: d.Name, Demand: d.Demand, Message: d.Message, Urgent: d.Urgent, CreateTime: d.CreateTime.UTC(),
			Recipient: Recipient{Kind: kind, Subject: d.Subject, Phone: d.Phone},
		})
		if err != nil {
			return fmt.Errorf("encode %s: %w", d.Name, err)
		}
		err = s.cfg.Webhook.Post(ctx, id, body)
		if err != nil && ctx.Err() != nil {
			// Stopping: whether the gateway got it is unknown. Due again at once, for another
			// replica or the next start; the same Idempotency-Key goes with it.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishWithin)
			defer cancel()
			return s.cfg.Store.ReleaseNotification(rctx, s.cfg.DB, d.Name, d.Lease)
		}
		out = s.outcome(d, err)
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishWithin)
	defer cancel()
	ok, err := s.cfg.Store.FinishNotification(fctx, s.cfg.DB, d.Name, d.Lease, out)
	if err != nil {
		return err
	}
	if !ok {
		// The lease ran out during the call and another sender took the notification: its
		// outcome is the one kept.
		s.log.WarnContext(ctx, "a notification's lease ran out during its delivery", "notification", d.Name)
		return nil
	}
	s.metrics.delivered(ctx, out.State)
	switch out.State {
	case demandv1.NotificationState_NOTIFICATION_STATE_FAILED:
		s.log.ErrorContext(ctx, "notification not delivered: given up", "notification", d.Name, "attempts", d.Attempts+1, "error", out.Err)
	case demandv1.NotificationState_NOTIFICATION_STATE_PENDING, demandv1.NotificationState_NOTIFICATION_STATE_HELD:
		s.log.WarnContext(ctx, "notification not delivered; trying again later", "notification", d.Name, "attempts", d.Attempts+1,
			"error", out.Err, "next_attempt", out.Due)
	}
	return nil
}

// outcome is what a call to the gateway that ended with err makes of d.
func (s *Sender) outcome(d store.Delivery, err error) store.Outcome {
	now := s.now()
	if err == nil {
		return store.Outcome{State: demandv1.NotificationState_NOTIFICATION_STATE_SENT, At: now}
	}
	tries := d.Attempts + 1
	switch {
	case !webhook.Retryable(err):
		return store.Outcome{State: demandv1.NotificationState_NOTIFICATION_STATE_FAILED, Err: err.Error() + " (not retried)"}
	case tries >= s.cfg.MaxAttempts:
		return store.Outcome{State: demandv1.NotificationState_NOTIFICATION_STATE_FAILED, Err: fmt.Sprintf("%v (gave up after %d tries)", err, tries)}
	}
	due := now.Add(domain.Backoff(tries, s.cfg.RetryBase, s.cfg.RetryMax, s.jitter))
	if !d.Urgent {
		if until, held := s.cfg.Quiet.Until(due); held {
			return store.Outcome{State: demandv1.NotificationState_NOTIFICATION_STATE_HELD, Due: until, Err: err.Error()}
		}
	}
	return store.Outcome{State: demandv1.NotificationState_NOTIFICATION_STATE_PENDING, Due: due, Err: err.Error()}
}
