package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// TestRotateKeys runs `jiayuan rotate-keys partner` on a database holding a party sealed under
// an old key and one stored in plaintext by a build before encryption: afterwards both are
// sealed under the ring's current key, the plaintext is gone from the rows, and the service
// reads them back whole. A second run finds nothing to do.
func TestRotateKeys(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	keysPath := filepath.Join(dir, "keys.json")
	first, err := personal.NewKeyFile("2026-1")
	if err != nil {
		t.Fatal(err)
	}
	old, err := personal.ParseKeys(first)
	if err != nil {
		t.Fatal(err)
	}
	dbURL := "sqlite:" + filepath.Join(dir, "partner.db")
	spec, _ := suite.Lookup("partner")
	db, err := sqlstore.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	if err := db.Migrate(ctx, spec.Name, spec.Migrations()); err != nil {
		t.Fatal(err)
	}
	contact := &partnerv1.Contact{PersonName: "陈志明", Phone: "13912340001"}
	// A party written by the previous build: its contact in plaintext, personal NULL.
	legacy := &partnerv1.Partner{Name: "partners/legacy", DisplayName: "老王维修", RegionCode: "450105001001", Contact: contact}
	data, err := proto.Marshal(legacy)
	if err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO parties (name, kind, display_name, region_code, status, data, personal, version, create_us, update_us)
		VALUES ($1, 1, $2, '450105001001', 1, $3, $4, 1, 1, 1)`
	if _, err := db.Exec(ctx, insert, legacy.GetName(), legacy.GetDisplayName(), data, nil); err != nil {
		t.Fatal(err)
	}
	// A party sealed under the old key.
	rest, err := proto.Marshal(&partnerv1.Partner{Name: "partners/sealed", DisplayName: "阳光义工队", RegionCode: "450105001001"})
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := proto.Marshal(contact)
	sealed, err := old.Seal("partners/sealed", plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, insert, "partners/sealed", "阳光义工队", rest, sealed); err != nil {
		t.Fatal(err)
	}

	second, err := personal.AddKey(first, "2026-2")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keysPath, second, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"rotate-keys", "partner", "--db-url", dbURL, "--personal-data-keys", keysPath}
	code, out, stderr := run(ctx, args, nil)
	if code != 0 || !strings.Contains(out, "partner: 2 records re-sealed under key 2026-2") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	rows, err := db.Query(ctx, `SELECT name, data, personal FROM parties ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var name string
		var data, sealed []byte
		if err := rows.Scan(&name, &data, &sealed); err != nil {
			t.Fatal(err)
		}
		n++
		if id, err := personal.SealedWith(sealed); err != nil || id != "2026-2" {
			t.Errorf("%s: sealed with %q (%v), want 2026-2", name, id, err)
		}
		if bytes.Contains(data, []byte(contact.GetPhone())) || bytes.Contains(data, []byte(contact.GetPersonName())) {
			t.Errorf("%s: data still holds the contact", name)
		}
	}
	rows.Close()
	if n != 2 {
		t.Fatalf("%d parties, want 2", n)
	}
	code, out, stderr = run(ctx, args, nil)
	if code != 0 || !strings.Contains(out, "partner: 0 records re-sealed") {
		t.Fatalf("second run: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	// The old key can go: the service still reads every contact with the new key alone.
	onlyNew := strings.Replace(string(second), `"2026-1"`, `"unused"`, 1)
	ring, err := personal.ParseKeys([]byte(onlyNew))
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	if err := db.QueryRow(ctx, `SELECT personal FROM parties WHERE name = 'partners/legacy'`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	opened, err := ring.Open("partners/legacy", got)
	if err != nil {
		t.Fatal(err)
	}
	c := &partnerv1.Contact{}
	if err := proto.Unmarshal(opened, c); err != nil || !proto.Equal(c, contact) {
		t.Errorf("contact after rotation %v (%v), want %v", c, err, contact)
	}
}
