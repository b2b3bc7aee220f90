package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// DemandByFollowUpCode returns the name of the demand whose follow-up code is code (its twelve
// digits), claimed or not; sqlstore.ErrNotFound when no demand has it. It matches the code's
// keyed hash under every key of the ring, so a rotation half done finds it still.
func (s *Store) DemandByFollowUpCode(ctx context.Context, q sqlstore.Querier, code string) (string, error) {
	hashes := s.keys.LookupsOf(followUpPurpose, code)
	if len(hashes) == 0 {
		return "", fmt.Errorf("find a demand by its follow-up code: %w", sqlstore.ErrNotFound)
	}
	var args sqlstore.Args
	var name string
	// Never the code in the error: it is a secret.
	if err := q.QueryRow(ctx, `SELECT name FROM demands WHERE follow_up_code_hash IN `+sqlstore.InList(&args, hashes),
		args.Values()...).Scan(&name); err != nil {
		return "", fmt.Errorf("find a demand by its follow-up code: %w", err)
	}
	return name, nil
}

// SetClaimant makes subject the resident who raised the demand, as if they had filed it: it
// lists among their own (Own) and they rate it. Only an unclaimed demand recorded by staff is
// claimed: one raised by someone already is sqlstore.ErrStale, one that does not exist
// sqlstore.ErrNotFound. The demand's record (its claimed flag, version) is the caller's to
// update.
func (s *Store) SetClaimant(ctx context.Context, q sqlstore.Querier, name, subject string) error {
	if subject == "" {
		return fmt.Errorf("claim %s: no subject", name)
	}
	n, err := q.Exec(ctx, `UPDATE demands SET raised_by = $1 WHERE name = $2 AND raised_by = ''`, subject, name)
	if err != nil {
		return fmt.Errorf("claim %s: %w", name, err)
	}
	if n == 0 {
		return updated(ctx, q, "demands", name)
	}
	return nil
}

// ReserveClaimAttempt counts a claim by subject at now against the throttle: when subject has
// made limit claims within window before now that still count, it returns how long until the
// oldest of them leaves the window, and records nothing; otherwise it records this attempt
// under id and returns 0. A claim that succeeds removes its attempt (ReleaseClaimAttempt);
// a failed one counts until it is window old. Attempts of one subject are counted one at a
// time, so concurrent claims cannot all pass on the same count. Attempts that have left the
// window are deleted as the subject comes back; a subject who never does leaves at most limit
// rows behind. tx must be a transaction of its own, committed whatever the claim does.
func (s *Store) ReserveClaimAttempt(ctx context.Context, tx sqlstore.Tx, subject, id string, now time.Time, window time.Duration, limit int) (time.Duration, error) {
	if tx.Dialect() == sqlstore.Postgres {
		// SQLite serialises transactions already.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('demand_claim_attempts'), hashtext($1))`, subject); err != nil {
			return 0, fmt.Errorf("lock the claim attempts of %s: %w", subject, err)
		}
	}
	since := now.Add(-window).UnixMicro()
	if _, err := tx.Exec(ctx, `DELETE FROM demand_claim_attempts WHERE subject = $1 AND attempt_us <= $2`, subject, since); err != nil {
		return 0, fmt.Errorf("forget the old claim attempts of %s: %w", subject, err)
	}
	var n, oldest int64
	if err := tx.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MIN(attempt_us), 0) FROM demand_claim_attempts WHERE subject = $1`,
		subject).Scan(&n, &oldest); err != nil {
		return 0, fmt.Errorf("count the claim attempts of %s: %w", subject, err)
	}
	if n >= int64(limit) {
		wait := time.UnixMicro(oldest).Add(window).Sub(now)
		if wait <= 0 {
			// Unreachable: those rows were just deleted. A caller must never be told to wait
			// no time and then be refused again.
			return 0, errors.New("claim throttle: an attempt outside the window was counted")
		}
		return wait, nil
	}
	if err := sqlstore.Write(ctx, tx, `INSERT INTO demand_claim_attempts (subject, id, attempt_us) VALUES ($1, $2, $3)`,
		subject, id, now.UnixMicro()); err != nil {
		return 0, fmt.Errorf("record a claim attempt of %s: %w", subject, err)
	}
	return 0, nil
}

// ReleaseClaimAttempt removes the attempt recorded under id: the claim succeeded and does not
// count. Removing one that is gone is no error.
func (s *Store) ReleaseClaimAttempt(ctx context.Context, q sqlstore.Querier, subject, id string) error {
	if err := sqlstore.Write(ctx, q, `DELETE FROM demand_claim_attempts WHERE subject = $1 AND id = $2`, subject, id); err != nil {
		return fmt.Errorf("release a claim attempt of %s: %w", subject, err)
	}
	return nil
}

// RaisedAmong returns which of the demands called names subject raised (filed online or
// claimed): what a resident's list needs to tell their own demands from those they support.
func (s *Store) RaisedAmong(ctx context.Context, q sqlstore.Querier, subject string, names []string) (map[string]bool, error) {
	out := map[string]bool{}
	if subject == "" || len(names) == 0 {
		return out, nil
	}
	var args sqlstore.Args
	rows, err := q.Query(ctx, `SELECT name FROM demands WHERE raised_by = `+args.Add(subject)+` AND raised_by <> ''
		AND name IN `+sqlstore.InList(&args, names), args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("find the demands %s raised: %w", subject, err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("find the demands %s raised: %w", subject, err)
		}
		out[name] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find the demands %s raised: %w", subject, err)
	}
	return out, nil
}
