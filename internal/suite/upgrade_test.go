package suite_test

import (
	"bytes"
	"io/fs"
	"testing"
	"testing/fstest"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/personal"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// before returns the migrations of fsys older than version: the schema an earlier build made.
func before(t *testing.T, fsys fs.FS, version string) fs.FS {
	t.Helper()
	old := fstest.MapFS{}
	if err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() >= version {
			return err
		}
		data, err := fs.ReadFile(fsys, path)
		old[path] = &fstest.MapFile{Data: data}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return old
}

// TestUpgradeSealsOnStart: a database the build before encryption wrote, a contact in
// plaintext in its record, is sealed when the service starts on it, before it serves.
func TestUpgradeSealsOnStart(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := t.Context()
			spec, _ := suite.Lookup("partner")
			cfg := nodeConfig(t)
			cfg.DatabaseURL = b.NewURL(t)
			// Partner calls contract for an activity's contract; nothing here records one.
			noContract, err := grpc.NewClient("127.0.0.1:1", grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { noContract.Close() })
			cfg.Peers = map[string]grpc.ClientConnInterface{"contract": noContract}
			db := sqlstoretest.OpenURL(t, cfg.DatabaseURL)
			if err := db.Migrate(ctx, spec.Name, before(t, spec.Migrations(), "00003")); err != nil {
				t.Fatal(err)
			}
			old := &partnerv1.Partner{Name: "partners/old", DisplayName: "老伙伴", RegionCode: erqiao,
				Contact: &partnerv1.Contact{PersonName: "慕容秋月", Phone: "13766665555"}}
			data, err := proto.Marshal(old)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO parties (name, kind, display_name, region_code, status, data, version, create_us, update_us)
				VALUES ($1, 1, $2, $3, 1, $4, 1, 1, 1)`, old.GetName(), old.GetDisplayName(), erqiao, data); err != nil {
				t.Fatal(err)
			}

			if _, err := suite.OpenNode(ctx, spec, cfg); err == nil {
				t.Fatal("the service started without a key ring")
			}
			keys, err := personal.GenerateKeys("k1")
			if err != nil {
				t.Fatal(err)
			}
			cfg.Keys = keys
			node, err := suite.OpenNode(ctx, spec, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer node.DB.Close()
			var stored, sealed []byte
			if err := db.QueryRow(ctx, `SELECT data, personal FROM parties WHERE name = $1`, old.GetName()).Scan(&stored, &sealed); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(stored, []byte("13766665555")) || bytes.Contains(stored, []byte("慕容秋月")) {
				t.Error("after the start the record still holds the contact in plaintext")
			}
			plain, err := keys.Open(old.GetName(), sealed)
			if err != nil {
				t.Fatalf("the contact is not sealed under the ring: %v", err)
			}
			c := &partnerv1.Contact{}
			if err := proto.Unmarshal(plain, c); err != nil || !proto.Equal(c, old.GetContact()) {
				t.Errorf("sealed contact %v (%v), want %v", c, err, old.GetContact())
			}
		})
	}
}
