package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
	"github.com/jiayuan/jiayuan/services/demand/migrations"
)

// TestPersonalData runs the sealing of personal data on every back end.
func TestPersonalData(t *testing.T) {
	tests := []struct {
		name string
		fn   func(t *testing.T, db *sqlstore.DB)
	}{
		{"SealedAtRest", testSealedAtRest},
		{"ByReporterPhone", testByReporterPhone},
		{"Rotate", testRotate},
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
			t.Run("UpgradeInPlace", func(t *testing.T) { testUpgradeInPlace(t, b.Open(t)) })
		})
	}
}

func withPersonal(d *demandv1.Demand, name, phone, address string) *demandv1.Demand {
	d.Reporter = &demandv1.Reporter{Name: name, Phone: phone}
	d.Address = address
	d.Location = &demandv1.GeoPoint{Latitude: 22.8123, Longitude: 108.3456}
	return d
}

// rawRow is a demand's row as stored.
func rawRow(t *testing.T, db *sqlstore.DB, name string) (data, sealed, hash []byte) {
	t.Helper()
	if err := db.QueryRow(context.Background(), `SELECT data, personal, reporter_phone_hash FROM demands WHERE name = $1`, name).
		Scan(&data, &sealed, &hash); err != nil {
		t.Fatal(err)
	}
	return data, sealed, hash
}

func testSealedAtRest(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	d := withPersonal(newDemand("单元门禁坏了", erqiao, "", environ, submit, base), "欧阳秀英", "13977710001", "二桥西路8号3栋2单元501")
	other := withPersonal(newDemand("路灯不亮", erqiao, "", environ, submit, base), "韦建国", "13977710002", "二桥西路10号")
	insert(t, db, nil, d, other)
	data, sealed, hash := rawRow(t, db, d.GetName())
	for _, secret := range []string{"欧阳秀英", "13977710001", "二桥西路8号3栋2单元501"} {
		for col, b := range map[string][]byte{"data": data, "personal": sealed, "reporter_phone_hash": hash} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %q in plaintext", col, secret)
			}
		}
	}
	if id, err := personal.SealedWith(sealed); err != nil || id != testKeys.Current() {
		t.Errorf("sealed with %q (%v), want %s", id, err, testKeys.Current())
	}
	if !bytes.Equal(hash, testKeys.Lookup("13977710001")) {
		t.Errorf("reporter_phone_hash %x is not the phone's keyed hash", hash)
	}
	got, _, err := s.GetDemand(ctx, db, d.GetName())
	if err != nil || !proto.Equal(got, d) {
		t.Fatalf("GetDemand = %v, %v; want %v", got, err, d)
	}
	// An update reseals what changed.
	got.Reporter.Phone, got.Address = "0771-5550002", "二桥西路8号"
	if _, err := s.UpdateDemand(ctx, db, got, 1); err != nil {
		t.Fatal(err)
	}
	again, _, err := s.GetDemand(ctx, db, d.GetName())
	if err != nil || !proto.Equal(again, got) {
		t.Fatalf("after the update GetDemand = %v, %v; want %v", again, err, got)
	}
	if _, _, hash := rawRow(t, db, d.GetName()); !bytes.Equal(hash, testKeys.Lookup("07715550002")) {
		t.Error("the update did not rewrite the phone hash")
	}
	// Lists open what they read, in every path.
	page, _, err := s.ListDemands(ctx, db, store.DemandListParams{PageSize: 10})
	if err != nil || len(page) != 2 {
		t.Fatalf("ListDemands = %d, %v", len(page), err)
	}
	for _, l := range page {
		if l.Rec.GetReporter().GetName() == "" || l.Rec.GetAddress() == "" || l.Rec.GetLocation() == nil {
			t.Errorf("listed %s without its personal data: %v", l.Rec.GetName(), l.Rec)
		}
	}
	similar, err := s.SimilarCandidates(ctx, db, erqiao, int32(environ), 10)
	if err != nil || len(similar) != 2 || similar[0].GetReporter().GetPhone() == "" {
		t.Fatalf("SimilarCandidates = %v, %v", similar, err)
	}
	// A ciphertext moved to another record does not open there: the name is its associated data.
	_, otherSealed, _ := rawRow(t, db, other.GetName())
	if _, err := db.Exec(ctx, `UPDATE demands SET personal = $1 WHERE name = $2`, otherSealed, d.GetName()); err != nil {
		t.Fatal(err)
	}
	if got, _, err := s.GetDemand(ctx, db, d.GetName()); err == nil {
		t.Errorf("a ciphertext moved from %s opened as %v", other.GetName(), got.GetReporter())
	}
	// Another ring opens nothing.
	stranger, _ := personal.GenerateKeys(testKeys.Current())
	if _, _, err := store.New(stranger).GetDemand(ctx, db, other.GetName()); err == nil {
		t.Error("another key ring opened the personal data")
	}
}

func testByReporterPhone(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	a := withPersonal(newDemand("a", erqiao, "", environ, submit, base), "甲", "0771-5551234", "")
	b := withPersonal(newDemand("b", fujing, "", environ, submit, base.Add(time.Minute)), "甲", "07715551234", "")
	c := withPersonal(newDemand("c", erqiao, "", environ, submit, base), "乙", "13800002222", "")
	anon := newDemand("d", erqiao, "", environ, submit, base)
	anon.Reporter = &demandv1.Reporter{Anonymous: true}
	insert(t, db, nil, a, b, c, anon)
	tests := []struct {
		phone string
		want  []string
	}{
		{"07715551234", []string{a.GetName(), b.GetName()}},
		{"0771-5551234", []string{a.GetName(), b.GetName()}},
		{"13800002222", []string{c.GetName()}},
		{"13800002223", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got, err := s.DemandsByReporterPhone(ctx, db, tt.phone)
		if err != nil || !equalStrings(got, tt.want) {
			t.Errorf("DemandsByReporterPhone(%q) = %v, %v; want %v", tt.phone, got, err, tt.want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testRotate(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	file, err := personal.NewKeyFile("old")
	if err != nil {
		t.Fatal(err)
	}
	oldRing, _ := personal.ParseKeys(file)
	old := store.New(oldRing)
	var want []*demandv1.Demand
	for i := range 5 {
		d := withPersonal(newDemand("rotate", erqiao, "", environ, submit, base.Add(time.Duration(i)*time.Minute)), "张三", "13800009999", "某路1号")
		if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			return old.InsertDemand(ctx, tx, d, "", nil)
		}); err != nil {
			t.Fatal(err)
		}
		want = append(want, d)
	}
	newFile, err := personal.AddKey(file, "new")
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := personal.ParseKeys(newFile)
	s := store.New(ring)
	underNew := func() int {
		n := 0
		for _, d := range want {
			if _, sealed, _ := rawRow(t, db, d.GetName()); ring.IsCurrent(sealed) {
				n++
			}
		}
		return n
	}
	// Interrupted after its first batch of 2.
	stop, cancel := context.WithCancel(ctx)
	n, err := s.Rotate(stop, db, "", 2, func(store.Reseal) { cancel() })
	if !errors.Is(err, context.Canceled) || n != 2 || underNew() != 2 {
		t.Fatalf("interrupted Rotate = %d, %v; %d under the new key, want 2 and context.Canceled", n, err, underNew())
	}
	// Half way, every record reads and every lookup finds it.
	if got, err := s.DemandsByReporterPhone(ctx, db, "13800009999"); err != nil || len(got) != 5 {
		t.Fatalf("lookup half way = %v, %v; want 5", got, err)
	}
	// Resumed: only the rest.
	if n, err := s.Rotate(ctx, db, "", 2, nil); err != nil || n != 3 || underNew() != 5 {
		t.Fatalf("resumed Rotate = %d, %v; %d under the new key, want 3 and 5", n, err, underNew())
	}
	if n, err := s.Rotate(ctx, db, "", 2, nil); err != nil || n != 0 {
		t.Fatalf("a third Rotate = %d, %v; want 0", n, err)
	}
	for _, d := range want {
		got, v, err := s.GetDemand(ctx, db, d.GetName())
		if err != nil || v != 1 || !proto.Equal(got, d) {
			t.Errorf("after rotation GetDemand = %v, %d, %v; want %v at version 1", got, v, err, d)
		}
		if _, _, hash := rawRow(t, db, d.GetName()); !bytes.Equal(hash, ring.Lookup("13800009999")) {
			t.Errorf("%s: the phone hash is not under the new key", d.GetName())
		}
	}
}

// testUpgradeInPlace: a database of the build before encryption, its personal data in data,
// migrates, reads back whole, and SealLegacy (what Open runs) seals it.
func testUpgradeInPlace(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	if err := db.Migrate(ctx, "demand", migrationsBefore(t, "00004")); err != nil {
		t.Fatalf("migrate to the old schema: %v", err)
	}
	d := withPersonal(newDemand("旧数据", erqiao, "", environ, submit, base), "黄丽华", "13677770000", "江南路99号")
	data, err := proto.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO demands (name, kind, category, channel, status, urgency, community_code, place_code,
		data, version, create_us, update_us) VALUES ($1, 1, 1, 1, 1, 1, $2, $2, $3, 3, 1, 1)`, d.GetName(), erqiao, data); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx, "demand", migrations.FS()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	s := store.New(testKeys)
	if got, v, err := s.GetDemand(ctx, db, d.GetName()); err != nil || v != 3 || !proto.Equal(got, d) {
		t.Fatalf("before sealing GetDemand = %v, %d, %v; want %v", got, v, err, d)
	}
	if n, err := s.SealLegacy(ctx, db, 10); err != nil || n != 1 {
		t.Fatalf("SealLegacy = %d, %v; want 1", n, err)
	}
	raw, sealed, hash := rawRow(t, db, d.GetName())
	if bytes.Contains(raw, []byte("13677770000")) || bytes.Contains(raw, []byte("黄丽华")) || bytes.Contains(raw, []byte("江南路99号")) {
		t.Error("data still holds the personal data")
	}
	if sealed == nil || hash == nil {
		t.Error("no ciphertext or phone hash")
	}
	if got, v, err := s.GetDemand(ctx, db, d.GetName()); err != nil || v != 3 || !proto.Equal(got, d) {
		t.Fatalf("after sealing GetDemand = %v, %d, %v; want %v at version 3", got, v, err, d)
	}
	if n, err := s.SealLegacy(ctx, db, 10); err != nil || n != 0 {
		t.Fatalf("a second SealLegacy = %d, %v; want 0", n, err)
	}
}
