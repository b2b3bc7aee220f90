package store_test

import (
	"bytes"
	"context"
	"io/fs"
	"testing"
	"testing/fstest"

	"google.golang.org/protobuf/proto"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
	"github.com/jiayuan/jiayuan/services/partner/migrations"
)

// TestPersonalData runs the sealing of contacts on every back end.
func TestPersonalData(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			for _, tt := range []struct {
				name string
				fn   func(t *testing.T, db *sqlstore.DB)
			}{
				{"SealedAtRest", testSealedAtRest},
				{"ByContactPhone", testByContactPhone},
				{"Rotate", testRotate},
			} {
				t.Run(tt.name, func(t *testing.T) {
					db := b.Open(t)
					if err := db.Migrate(context.Background(), "partner", migrations.FS()); err != nil {
						t.Fatalf("migrate: %v", err)
					}
					tt.fn(t, db)
				})
			}
			t.Run("UpgradeInPlace", func(t *testing.T) { testUpgradeInPlace(t, b.Open(t)) })
		})
	}
}

func rawParty(t *testing.T, db *sqlstore.DB, name string) (data, sealed, hash []byte) {
	t.Helper()
	if err := db.QueryRow(context.Background(), `SELECT data, personal, contact_phone_hash FROM parties WHERE name = $1`, name).
		Scan(&data, &sealed, &hash); err != nil {
		t.Fatal(err)
	}
	return data, sealed, hash
}

func testSealedAtRest(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	p := newPartner("社区书法班", erqiao, active, typev1.Category_CATEGORY_EDUCATION)
	p.Contact = &partnerv1.Contact{PersonName: "司马相如", Phone: "13512340001"}
	g := &partnerv1.PartnerGroup{Name: "partnerGroups/" + id(), DisplayName: "茶艺工作室", Kind: partnerv1.GroupKind_GROUP_KIND_MERCHANT,
		RegionCode: erqiao, ServiceAreas: []string{erqiao}, Status: active,
		Capabilities: []*partnerv1.Capability{{Category: typev1.Category_CATEGORY_EDUCATION}},
		Contact:      &partnerv1.Contact{PersonName: "诸葛孔明", Phone: "0771-5550001"}}
	bare := newPartner("no contact", erqiao, active)
	bare.Contact = nil
	mustInsert(t, db, p, g, bare)
	for _, party := range []store.Party{p, g} {
		data, sealed, hash := rawParty(t, db, party.GetName())
		c := party.(interface{ GetContact() *partnerv1.Contact }).GetContact()
		for _, secret := range []string{c.GetPersonName(), c.GetPhone()} {
			for col, b := range map[string][]byte{"data": data, "personal": sealed, "contact_phone_hash": hash} {
				if bytes.Contains(b, []byte(secret)) {
					t.Errorf("%s: %s holds %q in plaintext", party.GetName(), col, secret)
				}
			}
		}
		if !testKeys.IsCurrent(sealed) || !bytes.Equal(hash, testKeys.Lookup(c.GetPhone())) {
			t.Errorf("%s: not sealed under the current key, or no phone hash", party.GetName())
		}
	}
	// Every read path opens the contact: a get, a list, a search.
	gotP := &partnerv1.Partner{}
	if _, err := s.GetParty(ctx, db, p.GetName(), gotP); err != nil || !proto.Equal(gotP, p) {
		t.Fatalf("GetParty = %v, %v; want %v", gotP, err, p)
	}
	gotB := &partnerv1.Partner{}
	if _, err := s.GetParty(ctx, db, bare.GetName(), gotB); err != nil || !proto.Equal(gotB, bare) {
		t.Fatalf("GetParty without a contact = %v, %v; want %v", gotB, err, bare)
	}
	groups, _, err := s.ListParties(ctx, db, store.ListParams{Kind: store.KindGroup, PageSize: 10}, func() store.Party { return &partnerv1.PartnerGroup{} })
	if err != nil || len(groups) != 1 || !proto.Equal(groups[0].Party, g) {
		t.Fatalf("ListParties = %v, %v; want %v", groups, err, g)
	}
	found, err := s.SearchCandidates(ctx, db, store.SearchParams{Categories: []typev1.Category{typev1.Category_CATEGORY_EDUCATION}})
	if err != nil || len(found) != 2 {
		t.Fatalf("SearchCandidates = %v, %v", found, err)
	}
	for _, c := range found {
		if c.Party.(interface{ GetContact() *partnerv1.Contact }).GetContact().GetPhone() == "" {
			t.Errorf("searched %s without its contact", c.Party.GetName())
		}
	}
	// An update reseals; a ciphertext moved to another record does not open there.
	gotP.Contact.Phone = "13512340009"
	if _, err := s.UpdateParty(ctx, db, gotP, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, hash := rawParty(t, db, p.GetName()); !bytes.Equal(hash, testKeys.Lookup("13512340009")) {
		t.Error("the update did not rewrite the phone hash")
	}
	_, groupSealed, _ := rawParty(t, db, g.GetName())
	if _, err := db.Exec(ctx, `UPDATE parties SET personal = $1 WHERE name = $2`, groupSealed, p.GetName()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetParty(ctx, db, p.GetName(), &partnerv1.Partner{}); err == nil {
		t.Error("a ciphertext moved from another record opened")
	}
}

func testByContactPhone(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	a := newPartner("a", erqiao, active)
	a.Contact = &partnerv1.Contact{PersonName: "甲", Phone: "0771-5551234"}
	b := newPartner("b", fujing, active)
	b.Contact = &partnerv1.Contact{PersonName: "乙", Phone: "07715551234"}
	c := newPartner("c", erqiao, active)
	c.Contact = &partnerv1.Contact{PersonName: "丙", Phone: "13800002222"}
	mustInsert(t, db, a, b, c)
	want := []string{a.GetName(), b.GetName()}
	if want[0] > want[1] {
		want[0], want[1] = want[1], want[0]
	}
	for _, tt := range []struct {
		phone string
		want  []string
	}{
		{"0771-5551234", want},
		{"13800002222", []string{c.GetName()}},
		{"13800002223", nil},
		{"", nil},
	} {
		got, err := s.PartiesByContactPhone(ctx, db, tt.phone)
		if err != nil || len(got) != len(tt.want) || (len(got) > 0 && (got[0] != tt.want[0] || got[len(got)-1] != tt.want[len(got)-1])) {
			t.Errorf("PartiesByContactPhone(%q) = %v, %v; want %v", tt.phone, got, err, tt.want)
		}
	}
}

func testRotate(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	file, _ := personal.NewKeyFile("old")
	oldRing, _ := personal.ParseKeys(file)
	var want []*partnerv1.Partner
	for range 3 {
		p := newPartner("rotate", erqiao, active)
		if err := store.New(oldRing).InsertParty(ctx, db, p); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	newFile, _ := personal.AddKey(file, "new")
	ring, _ := personal.ParseKeys(newFile)
	s := store.New(ring)
	batches := 0
	if n, err := s.Rotate(ctx, db, "", 2, func(store.Reseal) { batches++ }); err != nil || n != 3 || batches != 2 {
		t.Fatalf("Rotate = %d, %v in %d batches; want 3 in 2", n, err, batches)
	}
	for _, p := range want {
		_, sealed, hash := rawParty(t, db, p.GetName())
		if !ring.IsCurrent(sealed) || !bytes.Equal(hash, ring.Lookup(p.GetContact().GetPhone())) {
			t.Errorf("%s: not re-sealed under the new key", p.GetName())
		}
		got := &partnerv1.Partner{}
		if v, err := s.GetParty(ctx, db, p.GetName(), got); err != nil || v != 1 || !proto.Equal(got, p) {
			t.Errorf("after rotation GetParty = %v, %d, %v; want %v at version 1", got, v, err, p)
		}
	}
}

// testUpgradeInPlace: a database of the build before encryption, contacts in data, migrates,
// reads back whole, and SealLegacy (what Open runs) seals it.
func testUpgradeInPlace(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	old := fstest.MapFS{}
	if err := fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() >= "00003" {
			return err
		}
		data, err := fs.ReadFile(migrations.FS(), path)
		old[path] = &fstest.MapFile{Data: data}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, "partner", old); err != nil {
		t.Fatalf("migrate to the old schema: %v", err)
	}
	p := newPartner("旧伙伴", erqiao, active)
	p.Contact = &partnerv1.Contact{PersonName: "欧阳修", Phone: "13611112222"}
	data, err := proto.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO parties (name, kind, display_name, region_code, status, data, version, create_us, update_us)
		VALUES ($1, 1, $2, $3, 1, $4, 2, 1, 1)`, p.GetName(), p.GetDisplayName(), erqiao, data); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, "partner", migrations.FS()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s := store.New(testKeys)
	got := &partnerv1.Partner{}
	if v, err := s.GetParty(ctx, db, p.GetName(), got); err != nil || v != 2 || !proto.Equal(got, p) {
		t.Fatalf("before sealing GetParty = %v, %d, %v; want %v", got, v, err, p)
	}
	if n, err := s.SealLegacy(ctx, db, 10); err != nil || n != 1 {
		t.Fatalf("SealLegacy = %d, %v; want 1", n, err)
	}
	raw, sealed, hash := rawParty(t, db, p.GetName())
	if bytes.Contains(raw, []byte("13611112222")) || bytes.Contains(raw, []byte("欧阳修")) || sealed == nil || hash == nil {
		t.Error("data still holds the contact, or it has no ciphertext or hash")
	}
	got = &partnerv1.Partner{}
	if v, err := s.GetParty(ctx, db, p.GetName(), got); err != nil || v != 2 || !proto.Equal(got, p) {
		t.Fatalf("after sealing GetParty = %v, %d, %v; want %v at version 2", got, v, err, p)
	}
	if n, err := s.SealLegacy(ctx, db, 10); err != nil || n != 0 {
		t.Fatalf("a second SealLegacy = %d, %v; want 0", n, err)
	}
}
