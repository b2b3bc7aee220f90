package store

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// A party's contact (person name, phone) is not stored in data: it is marshalled on its own,
// sealed under the key ring with the party's name as associated data, and stored in the
// personal column; the contact's phone is also kept as a keyed hash (contact_phone_hash) for
// exact-match lookups. A row whose personal column is NULL was written by a build before
// encryption and still holds the contact in data: reads accept it, and SealLegacy (run by
// Open) seals it.

// contactOf returns the party's contact.
func contactOf(p Party) *partnerv1.Contact {
	if c, ok := p.(interface{ GetContact() *partnerv1.Contact }); ok {
		return c.GetContact()
	}
	return nil
}

// setContact sets the party's contact.
func setContact(p Party, c *partnerv1.Contact) {
	switch v := p.(type) {
	case *partnerv1.Partner:
		v.Contact = c
	case *partnerv1.PartnerGroup:
		v.Contact = c
	}
}

// sealParty returns what a party's row stores: data without the contact, the contact sealed,
// and the contact's phone hash (nil when there is no phone).
func (s *Store) sealParty(p Party) (data, sealed, phoneHash []byte, err error) {
	if s.keys == nil {
		return nil, nil, nil, errors.New("store: no personal data keys")
	}
	contact := contactOf(p)
	plain, err := proto.Marshal(contact)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode the contact of %s: %w", p.GetName(), err)
	}
	if sealed, err = s.keys.Seal(p.GetName(), plain); err != nil {
		return nil, nil, nil, err
	}
	rest := proto.Clone(p).(Party)
	setContact(rest, nil)
	if data, err = proto.Marshal(rest); err != nil {
		return nil, nil, nil, fmt.Errorf("encode %s: %w", p.GetName(), err)
	}
	return data, sealed, s.keys.Lookup(contact.GetPhone()), nil
}

// openParty decodes a party's row into into: data, with the contact opened from sealed (nil
// for a row written before encryption, whose data holds it). name is the row's name, the
// associated data.
func (s *Store) openParty(name string, data, sealed []byte, into Party) error {
	if err := proto.Unmarshal(data, into); err != nil {
		return fmt.Errorf("decode %s: %w", name, err)
	}
	if sealed == nil {
		return nil
	}
	if s.keys == nil {
		return fmt.Errorf("decode %s: no personal data keys", name)
	}
	plain, err := s.keys.Open(name, sealed)
	if err != nil {
		return err
	}
	if len(plain) == 0 {
		return nil // no contact
	}
	c := &partnerv1.Contact{}
	if err := proto.Unmarshal(plain, c); err != nil {
		return fmt.Errorf("decode the contact of %s: %w", name, err)
	}
	setContact(into, c)
	return nil
}

// PartiesByContactPhone returns the names of the partners and groups whose contact has phone,
// in name order: matched on the keyed hash, never the number. A ring being rotated matches
// hashes under every key.
func (s *Store) PartiesByContactPhone(ctx context.Context, q sqlstore.Querier, phone string) ([]string, error) {
	hashes := s.keys.Lookups(phone)
	if len(hashes) == 0 {
		return nil, nil
	}
	var args sqlstore.Args
	rows, err := q.Query(ctx, `SELECT name FROM parties WHERE contact_phone_hash IN `+sqlstore.InList(&args, hashes)+
		` ORDER BY name`, args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("find parties by the contact's phone: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("find parties by the contact's phone: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find parties by the contact's phone: %w", err)
	}
	return out, nil
}

// Reseal is what one batch of SealLegacy or Rotate did.
type Reseal struct {
	Sealed int
	// Last is the name of the last row looked at: where to resume; "" when none was left.
	Last string
}

// SealLegacy seals the contact of every party written before encryption (personal NULL),
// batch rows per transaction. Open runs it on every start; it finds none once a data
// directory is upgraded (a partial index holds only such rows).
func (s *Store) SealLegacy(ctx context.Context, db *sqlstore.DB, batch int) (int, error) {
	n := 0
	for {
		done, err := s.resealBatch(ctx, db, "personal IS NULL", "", batch)
		if err != nil {
			return n, err
		}
		n += done.Sealed
		if done.Sealed == 0 {
			return n, nil
		}
	}
}

// Rotate re-seals under the current key every party sealed under another (or not at all), in
// name order from after, batch rows per transaction, calling progress after each batch. It is
// resumable: run again after an interruption, it skips the rows already under the current key.
func (s *Store) Rotate(ctx context.Context, db *sqlstore.DB, after string, batch int, progress func(Reseal)) (int, error) {
	n := 0
	for {
		done, err := s.resealBatch(ctx, db, "", after, batch)
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

// resealBatch reads up to batch parties after the name after (matching where, when given) and
// rewrites those not sealed under the current key, in one transaction. The version is kept:
// the record's content does not change, so etags and the record cache stay valid.
func (s *Store) resealBatch(ctx context.Context, db *sqlstore.DB, where, after string, batch int) (Reseal, error) {
	if batch <= 0 {
		batch = 500
	}
	var done Reseal
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		done = Reseal{}
		cond := "name > $1"
		if where != "" {
			cond += " AND " + where
		}
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT name, data, personal, version FROM parties WHERE %s ORDER BY name LIMIT %d`, cond, batch), after)
		if err != nil {
			return fmt.Errorf("read parties to seal: %w", err)
		}
		type row struct {
			p       Party
			version int64
		}
		var todo []row
		for rows.Next() {
			var name string
			var data, sealed []byte
			var version int64
			if err := rows.Scan(&name, &data, &sealed, &version); err != nil {
				rows.Close()
				return fmt.Errorf("read parties to seal: %w", err)
			}
			done.Last = name
			if sealed != nil && s.keys.IsCurrent(sealed) {
				continue
			}
			p := NewParty(name)
			if err := s.openParty(name, data, sealed, p); err != nil {
				rows.Close()
				return err
			}
			todo = append(todo, row{p, version})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read parties to seal: %w", err)
		}
		for _, r := range todo {
			data, sealed, hash, err := s.sealParty(r.p)
			if err != nil {
				return err
			}
			if err := sqlstore.Write(ctx, tx, `UPDATE parties SET data = $1, personal = $2, contact_phone_hash = $3
				WHERE name = $4 AND version = $5`, data, sealed, hash, r.p.GetName(), r.version); err != nil {
				return fmt.Errorf("seal %s: %w", r.p.GetName(), err)
			}
		}
		done.Sealed = len(todo)
		return nil
	})
	return done, err
}
