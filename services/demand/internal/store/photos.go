package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Photo is a photo's record: the resource as stored (its link is made per read, never stored)
// and who attached it.
type Photo struct {
	Photo *demandv1.Photo
	// UploadedBy is the subject of whoever attached it; never shown.
	UploadedBy string
}

// SplitPhotoName splits "demands/{demand}/photos/{photo}" into the demand's name and the photo
// id.
func SplitPhotoName(name string) (demand, id string, err error) {
	demand, id, ok := strings.Cut(name, "/photos/")
	if !ok || !strings.HasPrefix(demand, "demands/") || len(demand) == len("demands/") ||
		strings.Contains(demand[len("demands/"):], "/") || id == "" || strings.Contains(id, "/") {
		return "", "", fmt.Errorf("%q is not a photo name (demands/{demand}/photos/{photo})", name)
	}
	return demand, id, nil
}

// InsertPhoto records a photo of its demand (queued in a transaction). The photo id, the last
// segment of its name, orders the demand's photos: it must be a ULID.
func (s *Store) InsertPhoto(ctx context.Context, q sqlstore.Querier, p Photo) error {
	demand, id, err := SplitPhotoName(p.Photo.GetName())
	if err != nil {
		return err
	}
	if err := sqlstore.Write(ctx, q, `INSERT INTO demand_photos (demand, id, content_type, size_bytes, uploaded_by, uploader_role, create_us)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		demand, id, p.Photo.GetContentType(), p.Photo.GetSizeBytes(), p.UploadedBy, p.Photo.GetUploaderRole(),
		micros(p.Photo.GetCreateTime(), time.Now())); err != nil {
		return fmt.Errorf("insert %s: %w", p.Photo.GetName(), err)
	}
	return nil
}

// CountPhotos returns how many photos the demand has.
func (s *Store) CountPhotos(ctx context.Context, q sqlstore.Querier, demand string) (int, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM demand_photos WHERE demand = $1`, demand).Scan(&n); err != nil {
		return 0, fmt.Errorf("count the photos of %s: %w", demand, err)
	}
	return int(n), nil
}

const photoColumns = `demand, id, content_type, size_bytes, uploaded_by, uploader_role, create_us`

func scanPhoto(row interface{ Scan(...any) error }) (Photo, error) {
	var (
		demand, id, contentType, by, role string
		size, created                     int64
	)
	if err := row.Scan(&demand, &id, &contentType, &size, &by, &role, &created); err != nil {
		return Photo{}, err
	}
	return Photo{
		Photo: &demandv1.Photo{
			Name: demand + "/photos/" + id, ContentType: contentType, SizeBytes: size, UploaderRole: role,
			CreateTime: timestamppb.New(time.UnixMicro(created)),
		},
		UploadedBy: by,
	}, nil
}

// GetPhoto reads the photo called name; sqlstore.ErrNotFound when there is none.
func (s *Store) GetPhoto(ctx context.Context, q sqlstore.Querier, name string) (Photo, error) {
	demand, id, err := SplitPhotoName(name)
	if err != nil {
		return Photo{}, fmt.Errorf("%w: %w", sqlstore.ErrNotFound, err)
	}
	p, err := scanPhoto(q.QueryRow(ctx, `SELECT `+photoColumns+` FROM demand_photos WHERE demand = $1 AND id = $2`, demand, id))
	if err != nil {
		return Photo{}, fmt.Errorf("get %s: %w", name, err)
	}
	return p, nil
}

// ListPhotos returns a page of the demand's photos, oldest first, and the next page's token.
func (s *Store) ListPhotos(ctx context.Context, q sqlstore.Querier, demand string, pageSize int, pageToken string) ([]Photo, string, error) {
	size := pageLimit(pageSize)
	query := aip.Fingerprint("photos", demand)
	after, err := aip.DecodePageToken(pageToken, query, 1)
	if err != nil {
		return nil, "", err
	}
	var args sqlstore.Args
	where := "demand = " + args.Add(demand)
	if after != nil {
		where += " AND id > " + args.Add(after[0])
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT %s FROM demand_photos WHERE %s ORDER BY id LIMIT %d`, photoColumns, where, size+1),
		args.Values()...)
	if err != nil {
		return nil, "", fmt.Errorf("list the photos of %s: %w", demand, err)
	}
	defer rows.Close()
	var out []Photo
	for rows.Next() {
		if len(out) == size {
			_, last, _ := SplitPhotoName(out[len(out)-1].Photo.GetName())
			return out, aip.EncodePageToken(query, last), rows.Err()
		}
		p, err := scanPhoto(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list the photos of %s: %w", demand, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list the photos of %s: %w", demand, err)
	}
	return out, "", nil
}

// DeletePhoto removes the photo's record; sqlstore.ErrNotFound when there is none.
func (s *Store) DeletePhoto(ctx context.Context, q sqlstore.Querier, name string) error {
	demand, id, err := SplitPhotoName(name)
	if err != nil {
		return fmt.Errorf("%w: %w", sqlstore.ErrNotFound, err)
	}
	n, err := q.Exec(ctx, `DELETE FROM demand_photos WHERE demand = $1 AND id = $2`, demand, id)
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("delete %s: %w", name, sqlstore.ErrNotFound)
	}
	return nil
}
