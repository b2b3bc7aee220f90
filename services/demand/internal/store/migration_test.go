package store_test

import (
	"context"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
	"github.com/jiayuan/jiayuan/services/demand/migrations"
)

// migrationsBefore returns the demand migrations older than version (a "00003" prefix): the
// schema a data directory made by an earlier build has.
func migrationsBefore(t *testing.T, version string) fs.FS {
	t.Helper()
	old := fstest.MapFS{}
	err := fs.WalkDir(migrations.FS(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() >= version {
			return err
		}
		data, err := fs.ReadFile(migrations.FS(), path)
		old[path] = &fstest.MapFile{Data: data}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return old
}

// TestTimelineEntriesMigration upgrades a database whose timeline entries were stored under the
// old singular collection (demands/{demand}/timeline/{entry}): after migrating, every entry
// reads back named demands/{demand}/timelineEntries/{entry}, with nothing else changed.
func TestTimelineEntriesMigration(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := context.Background()
			db := b.Open(t)
			if err := db.Migrate(ctx, "demand", migrationsBefore(t, "00003")); err != nil {
				t.Fatalf("migrate to the old schema: %v", err)
			}
			demand := "demands/" + newID()
			var want []*demandv1.TimelineEntry
			for i, msg := range []string{"您的诉求已收到，社区将在三个工作日内答复。", strings.Repeat("已协调物业，周三前修好。", 40)} {
				id := newID()
				old := &demandv1.TimelineEntry{
					Name: demand + "/timeline/" + id, Kind: demandv1.TimelineEntryKind_TIMELINE_ENTRY_KIND_REPLY,
					FromStatus: accepted, ToStatus: accepted, Message: msg, ActorRole: "community_staff",
					CreateTime: timestamppb.Now(),
				}
				data, err := proto.Marshal(old)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := db.Exec(ctx, `INSERT INTO demand_timeline (demand, id, kind, create_us, data) VALUES ($1, $2, $3, $4, $5)`,
					demand, id, int64(old.GetKind()), int64(i), data); err != nil {
					t.Fatalf("store an old entry: %v", err)
				}
				renamed := proto.Clone(old).(*demandv1.TimelineEntry)
				renamed.Name = demand + "/timelineEntries/" + id
				want = append(want, renamed)
			}

			if err := db.Migrate(ctx, "demand", migrations.FS()); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			got, _, err := store.New(testKeys).ListTimeline(ctx, db, demand, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d entries after the migration, want %d", len(got), len(want))
			}
			for i := range want {
				if !proto.Equal(got[i], want[i]) {
					t.Errorf("entry %d after the migration:\n got %v\nwant %v", i, got[i], want[i])
				}
			}
		})
	}
}
