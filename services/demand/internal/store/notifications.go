package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
)

// The notification outbox (table demand_notifications): one row per message to one follower
// of a demand, written in the transaction of what it tells of, delivered after the commit by
// the sender (internal/notify), which claims due rows under a lease, calls the district's
// messaging gateway and records the outcome (FinishNotification).

const (
	statePending = demandv1.NotificationState_NOTIFICATION_STATE_PENDING
	stateHeld    = demandv1.NotificationState_NOTIFICATION_STATE_HELD
	// toDeliver is the SQL condition of rows still to deliver; it matches the partial index
	// demand_notifications_due word for word.
	toDeliver = "state IN (1, 2)"
)

// Outgoing is a message to write to the outbox for one recipient of a demand.
type Outgoing struct {
	// Demand is the demand it is about, "demands/{demand}".
	Demand string
	// Entry is the timeline entry it tells of; "" for a message of the service's own (a
	// follow-up code).
	Entry string
	// Kind is why the recipient follows the demand.
	Kind demandv1.RecipientKind
	// Subject is the recipient's account (their token's subject), Phone their number; at least
	// one is required.
	Subject, Phone string
	// Message is the text sent. SecretMark in it stands for Secret, which is sealed with the
	// phone number and put in only as the message is sent: a follow-up code is never at rest
	// in plaintext, nor shown in ListNotifications.
	Message string
	// Secret is what SecretMark stands for in Message; "" for none.
	Secret string
	// Urgent messages go at once even during quiet hours.
	Urgent bool
	// Time is when it is written (the write's time); now when zero.
	Time time.Time
}

// EnqueueNotification writes n to the outbox in q's transaction, so it exists exactly when
// the write that caused it commits, and returns its name. A message that is not urgent and
// written during quiet hours is HELD until they end; any other is PENDING, due at once. The
// phone number is sealed under the store's keys. After the commit the sender is woken.
func (s *Store) EnqueueNotification(ctx context.Context, q sqlstore.Querier, n Outgoing) (string, error) {
	if !aip.ValidName(n.Demand, "demands") {
		return "", fmt.Errorf("enqueue a notification: %q is not a demand's name", n.Demand)
	}
	if n.Subject == "" && strings.TrimSpace(n.Phone) == "" {
		return "", fmt.Errorf("enqueue a notification for %s: no recipient (neither an account nor a phone number)", n.Demand)
	}
	if strings.TrimSpace(n.Message) == "" {
		return "", fmt.Errorf("enqueue a notification for %s: no message", n.Demand)
	}
	if _, ok := demandv1.RecipientKind_name[int32(n.Kind)]; !ok || n.Kind == demandv1.RecipientKind_RECIPIENT_KIND_UNSPECIFIED {
		return "", fmt.Errorf("enqueue a notification for %s: recipient kind %v", n.Demand, n.Kind)
	}
	at := n.Time
	if at.IsZero() {
		at = time.Now()
	}
	state, due := statePending, at
	if !n.Urgent {
		if until, held := s.quiet.Until(at); held {
			state, due = stateHeld, until
		}
	}
	id := aip.NewID()
	name := n.Demand + "/notifications/" + id
	data, err := proto.Marshal(&demandv1.Notification{
		Name: name, TimelineEntry: n.Entry, RecipientKind: n.Kind, Message: n.Message, Urgent: n.Urgent,
		CreateTime: timestamppb.New(at),
	})
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", name, err)
	}
	sealed, err := s.sealPhone(name, n.Phone, n.Secret)
	if err != nil {
		return "", err
	}
	if err := sqlstore.Write(ctx, q, `INSERT INTO demand_notifications (name, demand, id, subject, urgent, state, due_us, create_us, data, personal)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		name, n.Demand, id, n.Subject, n.Urgent, int64(state), due.UnixMicro(), at.UnixMicro(), data, sealed); err != nil {
		return "", fmt.Errorf("insert %s: %w", name, err)
	}
	if tx, ok := q.(sqlstore.Tx); ok && s.wake != nil {
		tx.AfterCommit(s.wake)
	}
	return name, nil
}

// notifyFollowers enqueues one notification per follower of the demand about e, when e is
// one followers are told of (domain.Notifies): the reporter — by the account that raised or
// claimed it and/or the phone number they left, in one message — and each supporter who
// asked, the reporter not twice.
func (s *Store) notifyFollowers(ctx context.Context, q sqlstore.Querier, demand string, e *demandv1.TimelineEntry) error {
	if !domain.Notifies(e) {
		return nil
	}
	var data, sealed []byte
	var raisedBy string
	if err := q.QueryRow(ctx, `SELECT data, personal, raised_by FROM demands WHERE name = $1`, demand).Scan(&data, &sealed, &raisedBy); err != nil {
		return fmt.Errorf("the followers of %s: %w", demand, err)
	}
	d, err := s.openDemand(demand, data, sealed)
	if err != nil {
		return err
	}
	supporters, err := s.notifiedSupporters(ctx, q, demand)
	if err != nil {
		return err
	}
	out := Outgoing{
		Demand: demand, Entry: e.GetName(), Urgent: d.GetUrgency() == demandv1.Urgency_URGENCY_URGENT,
		Time: e.GetCreateTime().AsTime(),
	}
	if e.GetCreateTime() == nil {
		out.Time = time.Now()
	}
	if phone := d.GetReporter().GetPhone(); raisedBy != "" || phone != "" {
		r := out
		r.Kind, r.Subject, r.Phone = demandv1.RecipientKind_RECIPIENT_KIND_REPORTER, raisedBy, phone
		r.Message = domain.NotificationText(d.GetTitle(), r.Kind, e)
		if _, err := s.EnqueueNotification(ctx, q, r); err != nil {
			return err
		}
	}
	for _, sub := range supporters {
		if sub == raisedBy {
			continue
		}
		r := out
		r.Kind, r.Subject = demandv1.RecipientKind_RECIPIENT_KIND_SUPPORTER, sub
		r.Message = domain.NotificationText(d.GetTitle(), r.Kind, e)
		if _, err := s.EnqueueNotification(ctx, q, r); err != nil {
			return err
		}
	}
	return nil
}

// notifiedSupporters are the subjects of the demand's supporters who asked to be told, in the
// order they supported it.
func (s *Store) notifiedSupporters(ctx context.Context, q sqlstore.Querier, demand string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT subject FROM demand_supporters WHERE demand = $1 AND notify ORDER BY create_us, subject`, demand)
	if err != nil {
		return nil, fmt.Errorf("the supporters of %s to notify: %w", demand, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var sub string
		if err := rows.Scan(&sub); err != nil {
			return nil, fmt.Errorf("the supporters of %s to notify: %w", demand, err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("the supporters of %s to notify: %w", demand, err)
	}
	return out, nil
}

// notificationColumns are what a Notification is read from (scanNotification).
const notificationColumns = `name, state, attempts, due_us, last_error, send_us, data, personal`

// scanNotification reads a row of notificationColumns; the phone number is opened, unmasked:
// masking is the caller's.
func (s *Store) scanNotification(row sqlstore.Row) (*demandv1.Notification, error) {
	var (
		name, lastErr                  string
		state, attempts, dueUS, sendUS int64
		data, sealed                   []byte
	)
	if err := row.Scan(&name, &state, &attempts, &dueUS, &lastErr, &sendUS, &data, &sealed); err != nil {
		return nil, err
	}
	n := &demandv1.Notification{}
	if err := proto.Unmarshal(data, n); err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	phone, _, err := s.openPhone(name, sealed)
	if err != nil {
		return nil, err
	}
	n.Message = strings.ReplaceAll(n.GetMessage(), SecretMark, secretShown)
	n.Name, n.RecipientPhone, n.State, n.Attempts, n.LastError = name, phone, demandv1.NotificationState(state), int32(attempts), lastErr
	if n.State == statePending || n.State == stateHeld {
		n.NextAttemptTime = timestamppb.New(time.UnixMicro(dueUS))
	}
	if sendUS > 0 {
		n.SendTime = timestamppb.New(time.UnixMicro(sendUS))
	}
	return n, nil
}

// GetNotification returns the notification called name, its phone number unmasked;
// sqlstore.ErrNotFound when there is none.
func (s *Store) GetNotification(ctx context.Context, q sqlstore.Querier, name string) (*demandv1.Notification, error) {
	n, err := s.scanNotification(q.QueryRow(ctx, `SELECT `+notificationColumns+` FROM demand_notifications WHERE name = $1`, name))
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", name, err)
	}
	return n, nil
}

// ListNotifications returns a page of the demand's notifications, oldest first, their phone
// numbers unmasked, and the next page's token.
func (s *Store) ListNotifications(ctx context.Context, q sqlstore.Querier, demand string, pageSize int, pageToken string) ([]*demandv1.Notification, string, error) {
	size := pageLimit(pageSize)
	query := aip.Fingerprint("notifications", demand)
	after, err := aip.DecodePageToken(pageToken, query, 1)
	if err != nil {
		return nil, "", err
	}
	var args sqlstore.Args
	where := "demand = " + args.Add(demand)
	if after != nil {
		where += " AND id > " + args.Add(after[0])
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT %s, id FROM demand_notifications WHERE %s ORDER BY id LIMIT %d`, notificationColumns, where, size+1),
		args.Values()...)
	if err != nil {
		return nil, "", fmt.Errorf("list the notifications of %s: %w", demand, err)
	}
	defer rows.Close()
	var out []*demandv1.Notification
	var last string
	for rows.Next() {
		if len(out) == size {
			return out, aip.EncodePageToken(query, last), rows.Err()
		}
		n, err := s.scanNotification(scanWith{rows, &last})
		if err != nil {
			return nil, "", fmt.Errorf("list the notifications of %s: %w", demand, err)
		}
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list the notifications of %s: %w", demand, err)
	}
	return out, "", nil
}

// scanWith scans a row of notificationColumns followed by extra columns.
type scanWith struct {
	row   sqlstore.Row
	extra any
}

func (w scanWith) Scan(dest ...any) error { return w.row.Scan(append(dest, w.extra)...) }

// Delivery is a notification claimed for delivery: everything the gateway is sent.
type Delivery struct {
	Name, Demand string
	Kind         demandv1.RecipientKind
	// Subject and Phone are the recipient's account and number (either may be empty).
	Subject, Phone string
	// Message is the text to send, its secret (a follow-up code) in it; Shown is the text
	// with the secret hidden, for logs.
	Message, Shown string
	Urgent         bool
	// Attempts is how many tries were made before this one.
	Attempts   int
	CreateTime time.Time
	// Lease identifies this claim: FinishNotification records the outcome only while the
	// row is still under it.
	Lease string
}

// ClaimNotifications claims up to limit notifications due at now (PENDING or HELD, due_us
// passed, no live lease), oldest due first, under a new lease running for lease, and returns
// them. With quiet set (quiet hours at now) only the urgent ones are claimed. Replicas claim
// apart: on PostgreSQL the rows are locked with SKIP LOCKED, so two senders never wait on each
// other nor take the same row; SQLite serialises the transactions. A sender that dies while
// delivering leaves its rows to be claimed again when the lease runs out, and the retry
// carries the same Idempotency-Key.
func (s *Store) ClaimNotifications(ctx context.Context, db *sqlstore.DB, now time.Time, quiet bool, lease time.Duration, limit int) ([]Delivery, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if db.Dialect() == sqlstore.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	cond := ""
	if quiet {
		cond = " AND urgent"
	}
	owner := aip.NewID()
	var out []Delivery
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT name, demand, subject, urgent, attempts, create_us, data, personal
			FROM demand_notifications WHERE %s AND due_us <= $1 AND lease_until_us <= $1%s ORDER BY due_us, name LIMIT %d%s`,
			toDeliver, cond, limit, lock), now.UnixMicro())
		if err != nil {
			return fmt.Errorf("claim notifications: %w", err)
		}
		for rows.Next() {
			var d Delivery
			var attempts, createUS int64
			var data, sealed []byte
			if err := rows.Scan(&d.Name, &d.Demand, &d.Subject, &d.Urgent, &attempts, &createUS, &data, &sealed); err != nil {
				rows.Close()
				return fmt.Errorf("claim notifications: %w", err)
			}
			n := &demandv1.Notification{}
			if err := proto.Unmarshal(data, n); err != nil {
				rows.Close()
				return fmt.Errorf("decode %s: %w", d.Name, err)
			}
			var secret string
			if d.Phone, secret, err = s.openPhone(d.Name, sealed); err != nil {
				rows.Close()
				return err
			}
			d.Kind, d.Attempts, d.CreateTime, d.Lease = n.GetRecipientKind(), int(attempts), time.UnixMicro(createUS), owner
			d.Message, d.Shown = strings.ReplaceAll(n.GetMessage(), SecretMark, secret), strings.ReplaceAll(n.GetMessage(), SecretMark, secretShown)
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim notifications: %w", err)
		}
		if len(out) == 0 {
			return nil
		}
		names := make([]string, len(out))
		for i, d := range out {
			names[i] = d.Name
		}
		var args sqlstore.Args
		sql := `UPDATE demand_notifications SET lease_owner = ` + args.Add(owner) + `, lease_until_us = ` + args.Add(now.Add(lease).UnixMicro()) +
			` WHERE name IN ` + sqlstore.InList(&args, names)
		return sqlstore.Write(ctx, tx, sql, args.Values()...)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Outcome is how a try at delivering a notification ended.
type Outcome struct {
	// State is SENT or LOGGED (delivered: At is the send time), PENDING or HELD (to try again
	// at Due), or FAILED (given up).
	State demandv1.NotificationState
	At    time.Time
	Due   time.Time
	// Err is why the try failed, shown to staff: no secrets, no personal data.
	Err string
}

// maxErrLen bounds a stored last_error.
const maxErrLen = 300

// FinishNotification records the outcome of the try made under lease, counting it, and
// releases the lease. It reports false, recording nothing, when the row is no longer under
// that lease (the lease ran out and another sender claimed it) or no longer to deliver: a
// notification once SENT is never changed again.
func (s *Store) FinishNotification(ctx context.Context, q sqlstore.Querier, name, lease string, o Outcome) (bool, error) {
	var due, sent int64
	switch o.State {
	case demandv1.NotificationState_NOTIFICATION_STATE_SENT, demandv1.NotificationState_NOTIFICATION_STATE_LOGGED:
		sent = o.At.UnixMicro()
		o.Err = ""
	case statePending, stateHeld:
		due = o.Due.UnixMicro()
	case demandv1.NotificationState_NOTIFICATION_STATE_FAILED:
	default:
		return false, fmt.Errorf("finish %s: state %v is not an outcome", name, o.State)
	}
	if r := []rune(o.Err); len(r) > maxErrLen {
		o.Err = string(r[:maxErrLen])
	}
	n, err := q.Exec(ctx, `UPDATE demand_notifications SET state = $1, attempts = attempts + 1, due_us = $2, send_us = $3,
		last_error = $4, lease_owner = '', lease_until_us = 0, version = version + 1
		WHERE name = $5 AND lease_owner = $6 AND `+toDeliver,
		int64(o.State), due, sent, o.Err, name, lease)
	if err != nil {
		return false, fmt.Errorf("finish %s: %w", name, err)
	}
	return n > 0, nil
}

// ReleaseNotification gives up the lease on a claimed notification without a try (the
// sender is stopping), so that it is due again at once rather than when the lease runs out.
func (s *Store) ReleaseNotification(ctx context.Context, q sqlstore.Querier, name, lease string) error {
	if _, err := q.Exec(ctx, `UPDATE demand_notifications SET lease_owner = '', lease_until_us = 0 WHERE name = $1 AND lease_owner = $2`, name, lease); err != nil {
		return fmt.Errorf("release %s: %w", name, err)
	}
	return nil
}

// SecretMark stands in a notification's message for its sealed secret (Outgoing.Secret).
const SecretMark = "{secret}"

// secretShown replaces SecretMark where a message is shown rather than sent.
const secretShown = "（已隐藏）"

// sealPhone seals a notification's phone number (possibly empty: every row is sealed) and its
// secret, if any (after a NUL, which neither holds), under the current key, bound to the
// notification's name.
func (s *Store) sealPhone(name, phone, secret string) ([]byte, error) {
	if s.keys == nil {
		return nil, errors.New("store: no personal data keys")
	}
	plain := phone
	if secret != "" {
		plain += "\x00" + secret
	}
	return s.keys.Seal(name, []byte(plain))
}

// openPhone opens what sealPhone sealed; nil sealed (no row is written so) is no number.
func (s *Store) openPhone(name string, sealed []byte) (phone, secret string, err error) {
	if sealed == nil {
		return "", "", nil
	}
	if s.keys == nil {
		return "", "", fmt.Errorf("decode %s: no personal data keys", name)
	}
	plain, err := s.keys.Open(name, sealed)
	if err != nil {
		return "", "", err
	}
	phone, secret, _ = strings.Cut(string(plain), "\x00")
	return phone, secret, nil
}

// notificationsTable is the outbox as personal.Keys re-seals it: the phone number, under the
// current key. The rest of the row is the sender's and is left alone.
func (s *Store) notificationsTable() personal.Table {
	return personal.Table{Name: "demand_notifications", Reseal: func(ctx context.Context, tx sqlstore.Tx, name string, _, sealed []byte, _ int64) error {
		phone, secret, err := s.openPhone(name, sealed)
		if err != nil {
			return err
		}
		resealed, err := s.sealPhone(name, phone, secret)
		if err != nil {
			return err
		}
		return sqlstore.Write(ctx, tx, `UPDATE demand_notifications SET personal = $1 WHERE name = $2`, resealed, name)
	}}
}

// CountToDeliver returns how many notifications wait to be delivered: PENDING (due now or
// after a backoff) and HELD (until the end of quiet hours). The outbox's partial index on
// what is still to deliver answers it without reading the delivered rows.
func (s *Store) CountToDeliver(ctx context.Context, q sqlstore.Querier) (pending, held int64, err error) {
	rows, err := q.Query(ctx, `SELECT state, COUNT(*) FROM demand_notifications WHERE `+toDeliver+` GROUP BY state`)
	if err != nil {
		return 0, 0, fmt.Errorf("count the notifications to deliver: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state, n int64
		if err := rows.Scan(&state, &n); err != nil {
			return 0, 0, fmt.Errorf("count the notifications to deliver: %w", err)
		}
		switch demandv1.NotificationState(state) {
		case statePending:
			pending = n
		case stateHeld:
			held = n
		}
	}
	return pending, held, rows.Err()
}
