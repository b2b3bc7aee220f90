package store

import (
	"context"
	"fmt"
	"time"

	escalationv1 "github.com/jiayuan/jiayuan/gen/jiayuan/escalation/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/delivery"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// The units' notification outbox (table unit_notifications): one row per message to the unit
// responsible for a case, written in the transaction of the step it tells of, delivered after
// the commit by the platform's sender (platform/delivery) through UnitQueue.

// toDeliver selects the rows still to deliver: PENDING or HELD.
var toDeliver = fmt.Sprintf("state IN (%d, %d)", delivery.Pending, delivery.Held)

// UnitMessage is a message to write to the outbox for the unit of a case.
type UnitMessage struct {
	Case           string
	Kind           escalationv1.CaseEventKind
	Unit, Assignee string
	Urgent         bool
	// Body is the JSON the messaging gateway is posted, built by the caller with the name
	// and id given.
	Body func(name, id string) ([]byte, error)
	// Time is when it is written; Due is when it may be sent (later during quiet hours).
	Time, Due time.Time
	// Held: Due is the end of quiet hours.
	Held bool
}

// EnqueueUnitNotification writes m to the outbox in tx, so it exists exactly when the step
// that caused it commits, and returns its name; wake, if set, runs after the commit.
func (s *Store) EnqueueUnitNotification(ctx context.Context, tx sqlstore.Tx, m UnitMessage, wake func()) (string, error) {
	if !aip.ValidName(m.Case, "cases") {
		return "", fmt.Errorf("enqueue a unit notification: %q is not a case's name", m.Case)
	}
	id := aip.NewID()
	name := m.Case + "/notifications/" + id
	body, err := m.Body(name, id)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w", name, err)
	}
	state := delivery.Pending
	if m.Held {
		state = delivery.Held
	}
	if err := sqlstore.Write(ctx, tx, `INSERT INTO unit_notifications (name, case_name, id, kind, unit, assignee, urgent, state, due_us, create_us, body)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		name, m.Case, id, int64(m.Kind), m.Unit, m.Assignee, m.Urgent, int64(state), m.Due.UnixMicro(), m.Time.UnixMicro(), body); err != nil {
		return "", fmt.Errorf("insert %s: %w", name, err)
	}
	if wake != nil {
		tx.AfterCommit(wake)
	}
	return name, nil
}

// LastToldUnit returns the unit and assignee the last notification of the case was addressed
// to; ok is false when it has none.
func (s *Store) LastToldUnit(ctx context.Context, q sqlstore.Querier, caseName string) (unit, assignee string, ok bool, err error) {
	rows, err := q.Query(ctx, `SELECT unit, assignee FROM unit_notifications WHERE case_name = $1 ORDER BY id DESC LIMIT 1`, caseName)
	if err != nil {
		return "", "", false, fmt.Errorf("last notification of %s: %w", caseName, err)
	}
	defer rows.Close()
	if rows.Next() {
		if err := rows.Scan(&unit, &assignee); err != nil {
			return "", "", false, fmt.Errorf("last notification of %s: %w", caseName, err)
		}
		ok = true
	}
	return unit, assignee, ok, rows.Err()
}

// UnitNotification is a row of the outbox as staff and tests read it.
type UnitNotification struct {
	Name, Unit, Assignee string
	Kind                 escalationv1.CaseEventKind
	State                delivery.State
	Attempts             int
	Urgent               bool
	Body                 []byte
	LastError            string
}

// ListUnitNotifications returns the case's notifications, oldest first.
func (s *Store) ListUnitNotifications(ctx context.Context, q sqlstore.Querier, caseName string) ([]UnitNotification, error) {
	rows, err := q.Query(ctx, `SELECT name, unit, assignee, kind, state, attempts, urgent, body, last_error FROM unit_notifications
		WHERE case_name = $1 ORDER BY id`, caseName)
	if err != nil {
		return nil, fmt.Errorf("list notifications of %s: %w", caseName, err)
	}
	defer rows.Close()
	var out []UnitNotification
	for rows.Next() {
		var n UnitNotification
		var kind, state, attempts int64
		if err := rows.Scan(&n.Name, &n.Unit, &n.Assignee, &kind, &state, &attempts, &n.Urgent, &n.Body, &n.LastError); err != nil {
			return nil, fmt.Errorf("list notifications of %s: %w", caseName, err)
		}
		n.Kind, n.State, n.Attempts = escalationv1.CaseEventKind(kind), delivery.State(state), int(attempts)
		out = append(out, n)
	}
	return out, rows.Err()
}

// UnitQueue is the outbox as the platform's sender sees it (delivery.Queue).
type UnitQueue struct {
	DB *sqlstore.DB
}

// Claim claims up to limit messages due at now under a new lease (SKIP LOCKED on PostgreSQL;
// SQLite serialises the transactions).
func (u UnitQueue) Claim(ctx context.Context, now time.Time, quiet bool, lease time.Duration, limit int) ([]delivery.Item, error) {
	if limit <= 0 {
		return nil, nil
	}
	lock := ""
	if u.DB.Dialect() == sqlstore.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	cond := ""
	if quiet {
		cond = " AND urgent"
	}
	owner := aip.NewID()
	var out []delivery.Item
	err := u.DB.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT name, id, unit, kind, urgent, attempts, body FROM unit_notifications
			WHERE %s AND due_us <= $1 AND lease_until_us <= $1%s ORDER BY due_us, name LIMIT %d%s`, toDeliver, cond, limit, lock), now.UnixMicro())
		if err != nil {
			return fmt.Errorf("claim unit notifications: %w", err)
		}
		var names []string
		for rows.Next() {
			var it delivery.Item
			var unit string
			var kind, attempts int64
			var body []byte
			if err := rows.Scan(&it.Name, &it.ID, &unit, &kind, &it.Urgent, &attempts, &body); err != nil {
				rows.Close()
				return fmt.Errorf("claim unit notifications: %w", err)
			}
			it.Attempts, it.Lease = int(attempts), owner
			it.Body = func() ([]byte, error) { return body, nil }
			// The body holds no personal data: the log shows it whole.
			it.Log = []any{"unit", unit, "kind", escalationv1.CaseEventKind(kind).String(), "body", string(body)}
			out = append(out, it)
			names = append(names, it.Name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("claim unit notifications: %w", err)
		}
		if len(names) == 0 {
			return nil
		}
		var args sqlstore.Args
		sql := `UPDATE unit_notifications SET lease_owner = ` + args.Add(owner) + `, lease_until_us = ` + args.Add(now.Add(lease).UnixMicro()) +
			` WHERE name IN ` + sqlstore.InList(&args, names)
		return sqlstore.Write(ctx, tx, sql, args.Values()...)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// maxErrLen bounds a stored last_error.
const maxErrLen = 300

// Finish records the outcome of the try made under lease; false when the row is no longer
// under it, or no longer to deliver (once sent, a message never changes again).
func (u UnitQueue) Finish(ctx context.Context, name, lease string, o delivery.Outcome) (bool, error) {
	var due, sent int64
	switch o.State {
	case delivery.Sent, delivery.Logged:
		sent, o.Err = o.At.UnixMicro(), ""
	case delivery.Pending, delivery.Held:
		due = o.Due.UnixMicro()
	case delivery.Failed:
	default:
		return false, fmt.Errorf("finish %s: state %v is not an outcome", name, o.State)
	}
	if r := []rune(o.Err); len(r) > maxErrLen {
		o.Err = string(r[:maxErrLen])
	}
	n, err := u.DB.Exec(ctx, `UPDATE unit_notifications SET state = $1, attempts = attempts + 1, due_us = $2, send_us = $3,
		last_error = $4, lease_owner = '', lease_until_us = 0 WHERE name = $5 AND lease_owner = $6 AND `+toDeliver,
		int64(o.State), due, sent, o.Err, name, lease)
	if err != nil {
		return false, fmt.Errorf("finish %s: %w", name, err)
	}
	return n > 0, nil
}

// CountToDeliver counts the messages waiting (pending, held), for the metrics; the partial
// index on what is still to deliver answers it.
func (u UnitQueue) CountToDeliver(ctx context.Context) (pending, held int64, err error) {
	rows, err := u.DB.Query(ctx, `SELECT state, COUNT(*) FROM unit_notifications WHERE `+toDeliver+` GROUP BY state`)
	if err != nil {
		return 0, 0, fmt.Errorf("count the unit notifications to deliver: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var state, n int64
		if err := rows.Scan(&state, &n); err != nil {
			return 0, 0, fmt.Errorf("count the unit notifications to deliver: %w", err)
		}
		switch delivery.State(state) {
		case delivery.Pending:
			pending = n
		case delivery.Held:
			held = n
		}
	}
	return pending, held, rows.Err()
}

// Release gives up the lease on a claimed message without a try: due again at once.
func (u UnitQueue) Release(ctx context.Context, name, lease string) error {
	if _, err := u.DB.Exec(ctx, `UPDATE unit_notifications SET lease_owner = '', lease_until_us = 0 WHERE name = $1 AND lease_owner = $2`, name, lease); err != nil {
		return fmt.Errorf("release %s: %w", name, err)
	}
	return nil
}
