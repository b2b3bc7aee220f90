package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

func testPhotos(t *testing.T, db *sqlstore.DB) {
	ctx := context.Background()
	s := store.New(testKeys)
	a := newDemand("a", erqiao, "", childc, submit, base)
	b := newDemand("b", erqiao, "", childc, submit, base)
	insert(t, db, nil, a, b)

	var want []store.Photo
	for i := range 5 {
		p := store.Photo{
			Photo: &demandv1.Photo{
				Name: a.GetName() + "/photos/" + ulid.Make().String(), ContentType: "image/jpeg", SizeBytes: int64(1000 + i),
				UploaderRole: "grid_worker", CreateTime: timestamppb.New(base.Add(time.Duration(i) * time.Minute)),
			},
			UploadedBy: "worker-1",
		}
		// In a transaction, as the API writes it.
		if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error { return s.InsertPhoto(ctx, tx, p) }); err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	if n, err := s.CountPhotos(ctx, db, a.GetName()); err != nil || n != 5 {
		t.Errorf("CountPhotos(a) = %d, %v; want 5", n, err)
	}
	if n, err := s.CountPhotos(ctx, db, b.GetName()); err != nil || n != 0 {
		t.Errorf("CountPhotos(b) = %d, %v; want 0", n, err)
	}
	got, err := s.GetPhoto(ctx, db, want[2].Photo.GetName())
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.Photo, want[2].Photo) || got.UploadedBy != "worker-1" {
		t.Errorf("GetPhoto = %v (%s), want %v", got.Photo, got.UploadedBy, want[2].Photo)
	}

	var names []string
	token, tokenA := "", ""
	for range 10 {
		page, next, err := s.ListPhotos(ctx, db.Reads(), a.GetName(), 2, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page {
			names = append(names, p.Photo.GetName())
		}
		if token = next; token == "" {
			break
		}
		tokenA = next
	}
	var wantNames []string
	for _, p := range want {
		wantNames = append(wantNames, p.Photo.GetName())
	}
	if !slices.Equal(names, wantNames) {
		t.Errorf("ListPhotos = %v, want %v (oldest first)", names, wantNames)
	}
	for _, tok := range []string{tokenA, "not-a-token"} {
		if _, _, err := s.ListPhotos(ctx, db, b.GetName(), 2, tok); !errors.Is(err, aip.ErrBadPageToken) {
			t.Errorf("token %q on another demand: err = %v, want ErrBadPageToken", tok, err)
		}
	}

	// A photo is unique within its demand.
	if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error { return s.InsertPhoto(ctx, tx, want[0]) }); !errors.Is(err, sqlstore.ErrAlreadyExists) {
		t.Errorf("inserting a photo twice: err = %v, want ErrAlreadyExists", err)
	}
	// A photo belongs to a demand that exists.
	orphan := proto.Clone(want[0].Photo).(*demandv1.Photo)
	orphan.Name = "demands/" + ulid.Make().String() + "/photos/" + ulid.Make().String()
	if err := db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		return s.InsertPhoto(ctx, tx, store.Photo{Photo: orphan, UploadedBy: "x"})
	}); err == nil {
		t.Error("a photo of a demand that does not exist was stored")
	}

	if err := s.DeletePhoto(ctx, db, want[0].Photo.GetName()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetPhoto(ctx, db, want[0].Photo.GetName()); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("GetPhoto after delete: err = %v, want ErrNotFound", err)
	}
	if err := s.DeletePhoto(ctx, db, want[0].Photo.GetName()); !errors.Is(err, sqlstore.ErrNotFound) {
		t.Errorf("second DeletePhoto: err = %v, want ErrNotFound", err)
	}
	for _, bad := range []string{"demands/x", "demands/x/photos/", "demands//photos/y", "projects/x/photos/y"} {
		if _, err := s.GetPhoto(ctx, db, bad); !errors.Is(err, sqlstore.ErrNotFound) {
			t.Errorf("GetPhoto(%q): err = %v, want ErrNotFound", bad, err)
		}
	}
}
