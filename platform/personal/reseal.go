package personal

import (
	"context"
	"fmt"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Resealed is what one batch of SealLegacy or Rotate did.
type Resealed struct {
	Sealed int
	// Last is the name of the last row looked at: where to resume; "" when none was left.
	Last string
}

// Table is a table of records whose personal data is sealed: its rows have the columns name,
// data, personal (the sealed part, NULL for a row written before encryption) and version.
type Table struct {
	Name string
	// Reseal rewrites the row called name, as stored (data, sealed) at version, with its
	// personal data sealed under the current key, keeping the version: the record's content
	// does not change, so etags stay valid.
	Reseal func(ctx context.Context, tx sqlstore.Tx, name string, data, sealed []byte, version int64) error
}

// SealLegacy seals every row of t written before encryption (personal NULL), batch rows per
// transaction. Services run it on every start; it finds none once a data directory is
// upgraded.
func (k *Keys) SealLegacy(ctx context.Context, db *sqlstore.DB, t Table, batch int) (int, error) {
	n := 0
	for {
		done, err := k.resealBatch(ctx, db, t, "personal IS NULL", "", batch)
		if err != nil {
			return n, err
		}
		n += done.Sealed
		if done.Sealed == 0 {
			return n, nil
		}
	}
}

// Rotate re-seals under the current key every row of t sealed under another (or not at all),
// in name order from after, batch rows per transaction, calling progress after each batch. It
// is resumable: run again after an interruption, it skips the rows already under the current
// key.
func (k *Keys) Rotate(ctx context.Context, db *sqlstore.DB, t Table, after string, batch int, progress func(Resealed)) (int, error) {
	n := 0
	for {
		done, err := k.resealBatch(ctx, db, t, "", after, batch)
		if err != nil {
			return n, err
		}
		n += done.Sealed
		if done.Last == "" {
			return n, nil
		}
		if progress != nil {
			progress(done)
		}
		after = done.Last
	}
}

// resealBatch reads up to batch rows of t after the name after (matching where, when given)
// and re-seals those not under the current key, in one transaction.
func (k *Keys) resealBatch(ctx context.Context, db *sqlstore.DB, t Table, where, after string, batch int) (Resealed, error) {
	if batch <= 0 {
		batch = 500
	}
	var done Resealed
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		done = Resealed{}
		cond := "name > $1"
		if where != "" {
			cond += " AND " + where
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT name, data, personal, version FROM %s WHERE %s ORDER BY name LIMIT %d`, t.Name, cond, batch), after)
		if err != nil {
			return fmt.Errorf("read %s to seal: %w", t.Name, err)
		}
		type row struct {
			name         string
			data, sealed []byte
			version      int64
		}
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.name, &r.data, &r.sealed, &r.version); err != nil {
				rows.Close()
				return fmt.Errorf("read %s to seal: %w", t.Name, err)
			}
			done.Last = r.name
			if r.sealed != nil && k.IsCurrent(r.sealed) {
				continue
			}
			todo = append(todo, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s to seal: %w", t.Name, err)
		}
		for _, r := range todo {
			if err := t.Reseal(ctx, tx, r.name, r.data, r.sealed, r.version); err != nil {
				return fmt.Errorf("seal %s: %w", r.name, err)
			}
		}
		done.Sealed = len(todo)
		return nil
	})
	return done, err
}
