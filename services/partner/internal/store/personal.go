package store

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/personal"
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
type Reseal = personal.Resealed

// SealLegacy seals the contact of every party written before encryption (see
// personal.Keys.SealLegacy); Open runs it on every start.
func (s *Store) SealLegacy(ctx context.Context, db *sqlstore.DB, batch int) (int, error) {
	return s.keys.SealLegacy(ctx, db, s.sealedTable(), batch)
}

// Rotate re-seals every party under the current key (see personal.Keys.Rotate). The version
// is kept, so etags and the record cache stay valid.
func (s *Store) Rotate(ctx context.Context, db *sqlstore.DB, after string, batch int, progress func(Reseal)) (int, error) {
	return s.keys.Rotate(ctx, db, s.sealedTable(), after, batch, progress)
}

// sealedTable is the parties table as personal.Keys re-seals it.
func (s *Store) sealedTable() personal.Table {
	return personal.Table{Name: "parties", Reseal: func(ctx context.Context, tx sqlstore.Tx, name string, data, sealed []byte, version int64) error {
		p := NewParty(name)
		if err := s.openParty(name, data, sealed, p); err != nil {
			return err
		}
		data, sealed, hash, err := s.sealParty(p)
		if err != nil {
			return err
		}
		return sqlstore.Write(ctx, tx, `UPDATE parties SET data = $1, personal = $2, contact_phone_hash = $3
			WHERE name = $4 AND version = $5`, data, sealed, hash, name, version)
	}}
}
