package store_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
	"github.com/jiayuan/jiayuan/services/demand/migrations"
)

// TestClaimsConformance runs the store's follow-up code, claim and throttle methods on every
// back end, as TestConformance does the others.
func TestClaimsConformance(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"FollowUpCodeSealed", testFollowUpCodeSealed},
		{"FollowUpCodeUnique", testFollowUpCodeUnique},
		{"FollowUpCodeRotates", testFollowUpCodeRotates},
		{"SetClaimant", testSetClaimant},
		{"RemoveSupporter", testRemoveSupporter},
		{"ClaimAttempts", testClaimAttempts},
	}
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					db := b.Open(t)
					if err := db.Migrate(context.Background(), "demand", migrations.FS()); err != nil {
						t.Fatalf("migrate: %v", err)
					}
					tt.fn(t, db)
				})
			}
		})
	}
}

const code = "004455667788"

// rawCodeHash is a demand's follow_up_code_hash as stored.
func rawCodeHash(t *testing.T, db *sqlstore.DB, name string) []byte {
	t.Helper()
	var h []byte
	if err := db.QueryRow(context.Background(), `SELECT follow_up_code_hash FROM demands WHERE name = $1`, name).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// testFollowUpCodeSealed: the code is sealed with the personal data, never in data, found by
// its keyed hash, and kept by updates of the record read.
func testFollowUpCodeSealed(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := newDemand("孩子放学没人接", erqiao, "", childc, submit, base)
	d.Channel, d.FollowUpCode = fourth, code
	online := newDemand("楼道灯坏了", erqiao, "", environ, submit, base)
	insert(t, db, map[string]string{online.GetTitle(): "res-online"}, d, online)

	data, sealed, _ := rawRow(t, db, d.GetName())
	hash := rawCodeHash(t, db, d.GetName())
	for col, b := range map[string][]byte{"data": data, "personal": sealed, "follow_up_code_hash": hash} {
		if bytes.Contains(b, []byte(code)) {
			t.Errorf("%s holds the code in plaintext", col)
		}
	}
	if !bytes.Equal(hash, testKeys.LookupOf("follow-up code", code)) {
		t.Errorf("follow_up_code_hash %x is not the code's keyed hash", hash)
	}
	if h := rawCodeHash(t, db, online.GetName()); h != nil {
		t.Errorf("a demand without a code has the hash %x", h)
	}
	got, v, err := s.GetDemand(ctx, db, d.GetName())
	if err != nil || got.GetFollowUpCode() != code || !proto.Equal(got, d) {
		t.Fatalf("GetDemand = %v, %v; want %v", got, err, d)
	}
	for _, tt := range []struct {
		code string
		want string
		err  error
	}{
		{code, d.GetName(), nil},
		{"004455667789", "", sqlstore.ErrNotFound},
		{"", "", sqlstore.ErrNotFound},
	} {
		name, err := s.DemandByFollowUpCode(ctx, db, tt.code)
		if name != tt.want || !errors.Is(err, tt.err) {
			t.Errorf("DemandByFollowUpCode(%q) = %q, %v; want %q, %v", tt.code, name, err, tt.want, tt.err)
		}
	}
	// An update of what was read keeps the code and its hash.
	got.Title = "孩子周三放学没人接"
	if _, err := s.UpdateDemand(ctx, db, got, v); err != nil {
		t.Fatal(err)
	}
	if name, err := s.DemandByFollowUpCode(ctx, db, code); err != nil || name != d.GetName() {
		t.Fatalf("after an update DemandByFollowUpCode = %q, %v", name, err)
	}
	if again, _, err := s.GetDemand(ctx, db, d.GetName()); err != nil || again.GetFollowUpCode() != code {
		t.Fatalf("after an update the code reads %q, %v", again.GetFollowUpCode(), err)
	}
	// A list opens it too: the API, not the store, keeps it from callers.
	page, _, err := s.ListDemands(ctx, db, store.DemandListParams{PageSize: 10, Filter: `channel = FOURTH_DAY_MEETING`})
	if err != nil || len(page) != 1 || page[0].Rec.GetFollowUpCode() != code {
		t.Fatalf("ListDemands = %v, %v", page, err)
	}
}

// testFollowUpCodeUnique: a code drawn twice fails the second insert, and nothing of it stays.
func testFollowUpCodeUnique(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	a := newDemand("孩子放学没人接", erqiao, "", childc, submit, base)
	a.FollowUpCode = code
	insert(t, db, nil, a)
	b := newDemand("老人吃饭难", erqiao, "", elderly, submit, base)
	b.FollowUpCode = code
	err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		return s.InsertDemand(ctx, tx, b, "", firstEntry(b))
	})
	if !errors.Is(err, sqlstore.ErrAlreadyExists) {
		t.Fatalf("a second demand with the same code: %v, want ErrAlreadyExists", err)
	}
	if _, _, err := s.GetDemand(ctx, db, b.GetName()); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Fatalf("the refused demand reads %v", err)
	}
}

// testFollowUpCodeRotates: a key rotation re-seals the code and re-hashes it under the new key;
// a claim finds it during the rotation and after.
func testFollowUpCodeRotates(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	oldFile, err := personal.NewKeyFile("old")
	if err != nil {
		t.Fatal(err)
	}
	oldKeys, _ := personal.ParseKeys(oldFile)
	newFile, _ := personal.AddKey(oldFile, "new")
	newKeys, _ := personal.ParseKeys(newFile)

	d := newDemand("孩子放学没人接", erqiao, "", childc, submit, base)
	d.FollowUpCode = code
	if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		return store.New(oldKeys).InsertDemand(ctx, tx, d, "", firstEntry(d))
	}); err != nil {
		t.Fatal(err)
	}
	rotated := store.New(newKeys)
	// Before the rotation reaches it: found by its hash under the old key.
	if name, err := rotated.DemandByFollowUpCode(ctx, db, code); err != nil || name != d.GetName() {
		t.Fatalf("before the rotation DemandByFollowUpCode = %q, %v", name, err)
	}
	if _, err := rotated.Rotate(ctx, db, "", 10, nil); err != nil {
		t.Fatal(err)
	}
	if h := rawCodeHash(t, db, d.GetName()); !bytes.Equal(h, newKeys.LookupOf("follow-up code", code)) {
		t.Fatal("the rotation did not re-hash the code under the new key")
	}
	// Only the new key is needed now.
	onlyNew, err := personal.ParseKeys([]byte(`{"current":"new","keys":{"new":"` + keyOf(t, newFile, "new") + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	s := store.New(onlyNew)
	if name, err := s.DemandByFollowUpCode(ctx, db, code); err != nil || name != d.GetName() {
		t.Fatalf("after the rotation DemandByFollowUpCode = %q, %v", name, err)
	}
	if got, _, err := s.GetDemand(ctx, db, d.GetName()); err != nil || got.GetFollowUpCode() != code {
		t.Fatalf("after the rotation the code reads %q, %v", got.GetFollowUpCode(), err)
	}
}

// testSetClaimant: a claim sets raised_by once, and the demand lists as the claimant's own.
func testSetClaimant(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := newDemand("孩子放学没人接", erqiao, "", childc, submit, base)
	d.Channel = fourth
	online := newDemand("楼道灯坏了", erqiao, "", environ, submit, base)
	insert(t, db, map[string]string{online.GetTitle(): "res-online"}, d, online)

	if err := s.SetClaimant(ctx, db, d.GetName(), "res-parent"); err != nil {
		t.Fatal(err)
	}
	if by, err := s.DemandRaisedBy(ctx, db, d.GetName()); err != nil || by != "res-parent" {
		t.Fatalf("raised by %q, %v", by, err)
	}
	for _, tt := range []struct {
		name, subject string
		want          error
	}{
		{d.GetName(), "res-other", sqlstore.ErrStale},       // claimed already
		{d.GetName(), "res-parent", sqlstore.ErrStale},      // by anyone: the API answers a repeat
		{online.GetName(), "res-parent", sqlstore.ErrStale}, // filed online
		{"demands/" + newID(), "res-parent", sqlstore.ErrNotFound},
	} {
		if err := s.SetClaimant(ctx, db, tt.name, tt.subject); !errors.Is(err, tt.want) {
			t.Errorf("SetClaimant(%s, %s) = %v, want %v", tt.name, tt.subject, err, tt.want)
		}
	}
	if err := s.SetClaimant(ctx, db, online.GetName(), ""); err == nil {
		t.Error("a claim without a subject passed")
	}
	page, _, err := s.ListDemands(ctx, db, store.DemandListParams{PageSize: 10, Own: &store.Own{Subject: "res-parent"}})
	if err != nil || len(page) != 1 || page[0].Rec.GetName() != d.GetName() {
		t.Fatalf("the claimant's own demands: %v, %v", titles(page), err)
	}
	raised, err := s.RaisedAmong(ctx, db, "res-parent", []string{d.GetName(), online.GetName(), "demands/" + newID()})
	if err != nil || len(raised) != 1 || !raised[d.GetName()] {
		t.Fatalf("RaisedAmong = %v, %v", raised, err)
	}
	if raised, err := s.RaisedAmong(ctx, db, "", []string{d.GetName()}); err != nil || len(raised) != 0 {
		t.Fatalf("RaisedAmong of no subject = %v, %v", raised, err)
	}
}

func testRemoveSupporter(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := newDemand("垃圾桶满了", erqiao, "", environ, submit, base)
	insert(t, db, nil, d)
	if _, err := s.AddSupporter(ctx, db, d.GetName(), "res-1", false); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		subject string
		want    bool
	}{{"res-1", true}, {"res-1", false}, {"res-2", false}} {
		if removed, err := s.RemoveSupporter(ctx, db, d.GetName(), tt.subject); err != nil || removed != tt.want {
			t.Errorf("RemoveSupporter(%s) = %v, %v; want %v", tt.subject, removed, err, tt.want)
		}
	}
	if is, err := s.IsSupporter(ctx, db, d.GetName(), "res-1"); err != nil || is {
		t.Fatalf("after removal IsSupporter = %v, %v", is, err)
	}
}

// testClaimAttempts: a subject's attempts count within the window, a released one does not,
// others' do not, and the wait is until the oldest leaves the window.
func testClaimAttempts(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	const window, limit = 15 * time.Minute, 3
	reserve := func(subject, id string, at time.Time) time.Duration {
		t.Helper()
		var wait time.Duration
		if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			var err error
			wait, err = s.ReserveClaimAttempt(ctx, tx, subject, id, at, window, limit)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return wait
	}
	// Three attempts a minute apart; the second succeeds and is released.
	for i, id := range []string{"a1", "a2", "a3"} {
		if wait := reserve("guesser", id, base.Add(time.Duration(i)*time.Minute)); wait != 0 {
			t.Fatalf("attempt %s refused for %v", id, wait)
		}
	}
	if err := s.ReleaseClaimAttempt(ctx, db, "guesser", "a2"); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseClaimAttempt(ctx, db, "guesser", "a2"); err != nil {
		t.Fatalf("releasing again: %v", err)
	}
	if wait := reserve("guesser", "a4", base.Add(3*time.Minute)); wait != 0 {
		t.Fatalf("the third counted attempt refused for %v", wait)
	}
	// Three count now (a1, a3, a4): the next waits until a1, at base, is 15 minutes old.
	now := base.Add(5*time.Minute + 500*time.Millisecond)
	if wait := reserve("guesser", "a5", now); wait != 10*time.Minute-500*time.Millisecond {
		t.Fatalf("the fourth waits %v, want %v", wait, 10*time.Minute-500*time.Millisecond)
	}
	// A refused attempt is not recorded: the wait does not move.
	if wait := reserve("guesser", "a6", now); wait != 10*time.Minute-500*time.Millisecond {
		t.Fatalf("after a refusal the wait is %v", wait)
	}
	// Someone else is not held up.
	if wait := reserve("someone-else", "b1", now); wait != 0 {
		t.Fatalf("another subject refused for %v", wait)
	}
	// Once a1 has left the window one more may try; then a3 holds the next back.
	if wait := reserve("guesser", "a7", base.Add(window)); wait != 0 {
		t.Fatalf("after the window refused for %v", wait)
	}
	if wait := reserve("guesser", "a8", base.Add(window)); wait != 2*time.Minute {
		t.Fatalf("then waits %v, want 2m (until a3 leaves)", wait)
	}
	// What left the window is gone from the table.
	var n int64
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM demand_claim_attempts WHERE subject = 'guesser'`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d attempts kept (%v), want 3", n, err)
	}
}

// keyOf is the base64 key called id in a key file.
func keyOf(t *testing.T, file []byte, id string) string {
	t.Helper()
	var f struct {
		Keys map[string]string `json:"keys"`
	}
	if err := json.Unmarshal(file, &f); err != nil || f.Keys[id] == "" {
		t.Fatalf("key %s in the key file: %v", id, err)
	}
	return f.Keys[id]
}
