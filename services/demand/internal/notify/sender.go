// Package notify delivers the demand service's notification outbox (internal/store) with the
// platform's sender (platform/delivery), which claims the notifications that are due, calls
// the district's messaging gateway through a signed webhook and records each outcome, retrying
// with backoff. This package says what the demand service's outbox is to that sender: how a
// row is claimed and finished (the store), the JSON body the gateway is posted (Payload), and
// what the log shows without a gateway (the phone masked, a follow-up code hidden).
//
// Delivery is at least once, made exactly once by the gateway: every call for a notification
// carries its id as the Idempotency-Key. Once a notification is recorded SENT it is never
// claimed again.
package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"time"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/calendar"
	"github.com/jiayuan/jiayuan/platform/delivery"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/webhook"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

// Defaults of Config.
const (
	DefaultMaxAttempts = delivery.DefaultMaxAttempts
	DefaultRetryBase   = delivery.DefaultRetryBase
	DefaultRetryMax    = delivery.DefaultRetryMax
	DefaultPoll        = delivery.DefaultPoll
	DefaultBatch       = delivery.DefaultBatch
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
type Sender = delivery.Sender

// New returns the sender of cfg, with the defaults filled in.
func New(cfg Config) *Sender {
	meter, attrs := cfg.DB.Meter("github.com/jiayuan/jiayuan/services/demand/internal/notify")
	return delivery.New(delivery.Config{
		Queue: queue{db: cfg.DB, store: cfg.Store}, Webhook: cfg.Webhook, WebhookTimeout: cfg.WebhookTimeout, Quiet: cfg.Quiet,
		MaxAttempts: cfg.MaxAttempts, RetryBase: cfg.RetryBase, RetryMax: cfg.RetryMax, Poll: cfg.Poll, Batch: cfg.Batch,
		Logger: cfg.Logger, Now: cfg.Now, What: "notification", Setting: "--notify-webhook-url",
		Metrics: &delivery.Metrics{Meter: meter, Attrs: attrs, Name: "jiayuan.notifications", Unit: "{notification}"},
	})
}

// queue is the demand_notifications table as the platform's sender sees it.
type queue struct {
	db    *sqlstore.DB
	store *store.Store
}

func (q queue) Claim(ctx context.Context, now time.Time, quiet bool, lease time.Duration, limit int) ([]delivery.Item, error) {
	due, err := q.store.ClaimNotifications(ctx, q.db, now, quiet, lease, limit)
	if err != nil {
		return nil, err
	}
	out := make([]delivery.Item, len(due))
	for i, d := range due {
		id := d.Name[strings.LastIndexByte(d.Name, '/')+1:]
		kind := strings.TrimPrefix(d.Kind.String(), "RECIPIENT_KIND_")
		out[i] = delivery.Item{
			Name: d.Name, ID: id, Lease: d.Lease, Attempts: d.Attempts, Urgent: d.Urgent,
			Body: func() ([]byte, error) {
				return json.Marshal(Payload{
					ID: id, Notification: d.Name, Demand: d.Demand, Message: d.Message, Urgent: d.Urgent, CreateTime: d.CreateTime.UTC(),
					Recipient: Recipient{Kind: kind, Subject: d.Subject, Phone: d.Phone},
				})
			},
			Log: []any{"recipient_kind", kind, "subject", d.Subject, "phone", personal.MaskPhone(d.Phone), "message", d.Shown},
		}
	}
	return out, nil
}

// states are the demand's notification states of the sender's outcomes.
var states = map[delivery.State]demandv1.NotificationState{
	delivery.Sent:    demandv1.NotificationState_NOTIFICATION_STATE_SENT,
	delivery.Logged:  demandv1.NotificationState_NOTIFICATION_STATE_LOGGED,
	delivery.Pending: demandv1.NotificationState_NOTIFICATION_STATE_PENDING,
	delivery.Held:    demandv1.NotificationState_NOTIFICATION_STATE_HELD,
	delivery.Failed:  demandv1.NotificationState_NOTIFICATION_STATE_FAILED,
}

func (q queue) Finish(ctx context.Context, name, lease string, o delivery.Outcome) (bool, error) {
	return q.store.FinishNotification(ctx, q.db, name, lease, store.Outcome{State: states[o.State], At: o.At, Due: o.Due, Err: o.Err})
}

// CountToDeliver counts the notifications waiting, for the metrics.
func (q queue) CountToDeliver(ctx context.Context) (pending, held int64, err error) {
	return q.store.CountToDeliver(ctx, q.db)
}

func (q queue) Release(ctx context.Context, name, lease string) error {
	return q.store.ReleaseNotification(ctx, q.db, name, lease)
}
