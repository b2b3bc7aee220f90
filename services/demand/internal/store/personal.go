package store

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// A demand's personal data (its reporter, address and exact location) is not stored in data:
// it is marshalled on its own as a Demand holding only those fields, sealed under the key
// ring with the demand's name as associated data, and stored in the personal column. The
// reporter's phone number is also kept as a keyed hash (reporter_phone_hash) for exact-match
// lookups. A row whose personal column is NULL was written by a build before encryption and
// still holds everything in data: reads accept it, and SealLegacy (run by Open) seals it.
//
// A demand's follow-up code (回执码) is sealed with them, so a key rotation re-seals it with the
// rest, and its keyed hash (follow_up_code_hash, purpose followUpPurpose) is what a claim
// looks up. In memory a demand read from the store carries its code (follow_up_code, in
// digits); the API shows it to nobody but its recorder, and writes keep it by writing back
// what they read.

// followUpPurpose separates follow-up codes' lookup hashes from every other kind's.
const followUpPurpose = "follow-up code"

// sealedDemand is what a demand's row stores: data without the personal fields, the personal
// fields sealed, and the lookup hashes of the reporter's phone and the follow-up code (nil
// when there is none).
type sealedDemand struct {
	data, personal, phoneHash, codeHash []byte
}

// sealDemand seals a demand for its row.
func (s *Store) sealDemand(d *demandv1.Demand) (sealedDemand, error) {
	if s.keys == nil {
		return sealedDemand{}, errors.New("store: no personal data keys")
	}
	own := &demandv1.Demand{Address: d.GetAddress(), Location: d.GetLocation(), Reporter: d.GetReporter(), FollowUpCode: d.GetFollowUpCode()}
	plain, err := proto.Marshal(own)
	if err != nil {
		return sealedDemand{}, fmt.Errorf("encode the personal data of %s: %w", d.GetName(), err)
	}
	var out sealedDemand
	if out.personal, err = s.keys.Seal(d.GetName(), plain); err != nil {
		return sealedDemand{}, err
	}
	rest := proto.Clone(d).(*demandv1.Demand)
	rest.Address, rest.Location, rest.Reporter, rest.FollowUpCode = "", nil, nil, ""
	if out.data, err = proto.Marshal(rest); err != nil {
		return sealedDemand{}, fmt.Errorf("encode %s: %w", d.GetName(), err)
	}
	out.phoneHash = s.keys.Lookup(d.GetReporter().GetPhone())
	out.codeHash = s.keys.LookupOf(followUpPurpose, d.GetFollowUpCode())
	return out, nil
}

// openDemand decodes a demand's row: data, with the personal fields opened from sealed (nil
// for a row written before encryption, whose data holds them). name is the row's name, the
// associated data; "" takes the name inside data (lists, whose queries do not select it).
func (s *Store) openDemand(name string, data, sealed []byte) (*demandv1.Demand, error) {
	d := &demandv1.Demand{}
	if err := proto.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("decode %s: %w", name, err)
	}
	if name == "" {
		name = d.GetName()
	}
	if sealed == nil {
		return d, nil
	}
	if s.keys == nil {
		return nil, fmt.Errorf("decode %s: no personal data keys", name)
	}
	plain, err := s.keys.Open(name, sealed)
	if err != nil {
		return nil, err
	}
	if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(plain, d); err != nil {
		return nil, fmt.Errorf("decode the personal data of %s: %w", name, err)
	}
	return d, nil
}

// DemandsByReporterPhone returns the names of the demands whose reporter gave phone, oldest
// first: matched on the keyed hash, never the number. A ring being rotated matches hashes
// under every key.
func (s *Store) DemandsByReporterPhone(ctx context.Context, q sqlstore.Querier, phone string) ([]string, error) {
	hashes := s.keys.Lookups(phone)
	if len(hashes) == 0 {
		return nil, nil
	}
	var args sqlstore.Args
	rows, err := q.Query(ctx, `SELECT name FROM demands WHERE reporter_phone_hash IN `+sqlstore.InList(&args, hashes)+
		` ORDER BY create_us, name`, args.Values()...)
	if err != nil {
		return nil, fmt.Errorf("find demands by the reporter's phone: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("find demands by the reporter's phone: %w", err)
		}
		out = append(out, name)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find demands by the reporter's phone: %w", err)
	}
	return out, nil
}

// Reseal is what one batch of SealLegacy or Rotate did.
type Reseal = personal.Resealed

// SealLegacy seals the personal data of every demand written before encryption (see
// personal.Keys.SealLegacy), and of every notification (which are all written sealed); Open
// runs it on every start.
func (s *Store) SealLegacy(ctx context.Context, db *sqlstore.DB, batch int) (int, error) {
	total := 0
	for _, t := range s.sealedTables() {
		n, err := s.keys.SealLegacy(ctx, db, t, batch)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// Rotate re-seals every demand, then every notification's phone number, under the current
// key (see personal.Keys.Rotate). after applies to the demands; the notifications are gone
// through from the start, skipping quickly those already under the current key.
func (s *Store) Rotate(ctx context.Context, db *sqlstore.DB, after string, batch int, progress func(Reseal)) (int, error) {
	total := 0
	for i, t := range s.sealedTables() {
		from := ""
		if i == 0 {
			from = after
		}
		n, err := s.keys.Rotate(ctx, db, t, from, batch, progress)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// sealedTables are the tables holding sealed personal data: the demands, and the outbox's
// phone numbers.
func (s *Store) sealedTables() []personal.Table {
	return []personal.Table{s.sealedTable(), s.notificationsTable()}
}

// sealedTable is the demands table as personal.Keys re-seals it.
func (s *Store) sealedTable() personal.Table {
	return personal.Table{Name: "demands", Reseal: func(ctx context.Context, tx sqlstore.Tx, name string, data, sealed []byte, version int64) error {
		d, err := s.openDemand(name, data, sealed)
		if err != nil {
			return err
		}
		row, err := s.sealDemand(d)
		if err != nil {
			return err
		}
		return sqlstore.Write(ctx, tx, `UPDATE demands SET data = $1, personal = $2, reporter_phone_hash = $3,
			follow_up_code_hash = $6 WHERE name = $4 AND version = $5`, row.data, row.personal, row.phoneHash, name, version, row.codeHash)
	}}
}
