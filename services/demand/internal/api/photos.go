package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/photo"
	"github.com/jiayuan/jiayuan/platform/resource"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/services/demand/internal/domain"
	"github.com/jiayuan/jiayuan/services/demand/internal/store"
)

// defaultPhotoPage is a demand's photos in one page: all of them (domain.MaxPhotos).
const defaultPhotoPage = domain.MaxPhotos

// cleanupTimeout bounds removing an image whose record was not written, after the call that
// stored it has ended.
const cleanupTimeout = 30 * time.Second

// checkPhoto reads the image a client sent: within the size limit, a JPEG, PNG or HEIC by its
// bytes, of the type the client said, and returns it without its metadata. Every refusal is
// INVALID_ARGUMENT naming the field at fault.
func (s *Server) checkPhoto(content []byte, contentType string) (photo.Format, []byte, error) {
	if n := int64(len(content)); n > s.photos.MaxBytes {
		return "", nil, apierr.InvalidArgument("content", fmt.Sprintf("is %d bytes; a photo may be at most %d bytes", n, s.photos.MaxBytes))
	}
	said, ok := photo.FormatOf(contentType)
	if !ok {
		return "", nil, apierr.InvalidArgument("content_type", "must be one of "+photo.ContentTypes)
	}
	f, stripped, err := photo.Strip(content)
	switch {
	case errors.Is(err, photo.ErrUnsupported):
		return "", nil, apierr.InvalidArgument("content", "is not a JPEG, PNG or HEIC image (judged by its bytes, whatever its name or type)")
	case errors.Is(err, photo.ErrMalformed):
		// The reason names a structure of the file, never its contents.
		return "", nil, apierr.InvalidArgument("content", err.Error())
	case err != nil:
		return "", nil, apierr.Internal(fmt.Errorf("strip a photo: %w", err))
	}
	if f != said {
		return "", nil, apierr.InvalidArgument("content_type", "says "+contentType+", but the content is a "+f.ContentType()+" image")
	}
	return f, stripped, nil
}

// allowAttach: the resident who raised the demand (filed it, or claimed it with its code), and
// staff and grid workers who handle its community.
func (s *Server) allowAttach(p auth.Principal, d *demandv1.Demand, raiser string) error {
	if raiser != "" && raiser == p.Subject {
		return nil
	}
	if s.canHandle(p, d.GetCommunityCode()) {
		return nil
	}
	return permissionDenied("attach photos to " + d.GetName() + ": only the resident who raised it, and the staff and grid workers of its community, may")
}

// CreatePhoto implements demandv1.DemandServiceServer.
func (s *Server) CreatePhoto(ctx context.Context, req *demandv1.CreatePhotoRequest) (*demandv1.CreatePhotoResponse, error) {
	parent := req.GetParent()
	// Checked and stripped before any transaction: no lock waits on the work, and nothing is
	// written for an image that is refused.
	f, stripped, err := s.checkPhoto(req.GetContent(), req.GetContentType())
	if err != nil {
		return nil, err
	}
	var (
		demand *demandv1.Demand
		raiser string
		// stored are the keys this call put in the photo store; all but the photo's own are
		// removed afterwards (a failed or retried transaction, a replayed request).
		stored []string
	)
	out, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Photo]{
		Method:    demandv1.DemandService_CreatePhoto_FullMethodName,
		RequestID: req.GetRequestId(), Request: req,
		Refs: func(ctx context.Context, t *resource.Tx, _ *demandv1.Photo) error {
			// Held until the commit, so two uploads cannot both take the tenth place.
			d, _, err := s.lockedDemand(ctx, t, t.Caller, parent)
			if errors.Is(err, sqlstore.ErrNotFound) {
				return apierr.NotFound(parent)
			}
			if err != nil {
				return err
			}
			demand = d
			raiser, err = s.store.DemandRaisedBy(ctx, t, parent)
			return err
		},
		Allow: func(p auth.Principal, _ *demandv1.Photo) error {
			return s.allowAttach(p, demand, raiser)
		},
		Apply: func(ctx context.Context, t *resource.Tx, _ *demandv1.Photo, _ int64) (*demandv1.Photo, int64, error) {
			if !domain.TakesPhotos(demand.GetStatus()) {
				return nil, 0, apierr.FailedPrecondition("DEMAND_CLOSED", parent+" is "+domain.StatusLabel(demand.GetStatus())+" and takes no more photos")
			}
			n, err := s.store.CountPhotos(ctx, t, parent)
			if err != nil {
				return nil, 0, err
			}
			if n >= domain.MaxPhotos {
				return nil, 0, apierr.FailedPrecondition("TOO_MANY_PHOTOS", fmt.Sprintf("%s has %d photos, the most a demand may have; delete one first", parent, n))
			}
			role := ""
			if len(t.Caller.Roles) > 0 {
				role = string(t.Caller.Roles[0])
			}
			p := &demandv1.Photo{
				Name: parent + "/photos/" + aip.NewID(), ContentType: f.ContentType(), SizeBytes: int64(len(stripped)),
				UploaderRole: role, CreateTime: timestamppb.New(t.Now), CommunityCode: demand.GetCommunityCode(),
			}
			// The image first, then its record: a record never points at nothing.
			stored = append(stored, p.GetName())
			if err := s.photos.Store.Put(ctx, p.GetName(), stripped, f.ContentType()); err != nil {
				return nil, 0, fmt.Errorf("store %s: %w", p.GetName(), err)
			}
			if err := s.store.InsertPhoto(ctx, t, store.Photo{Photo: p, UploadedBy: t.Caller.Subject}); err != nil {
				return nil, 0, err
			}
			return proto.Clone(p).(*demandv1.Photo), 1, nil
		},
		View: s.viewPhoto,
	})
	for _, key := range stored {
		if err == nil && key == out.GetName() {
			continue
		}
		s.removeImage(ctx, key)
	}
	if err != nil {
		return nil, err
	}
	return &demandv1.CreatePhotoResponse{Photo: out}, nil
}

// removeImage deletes an image whose record does not exist, even when the call's context has
// ended; a failure only leaves an unreachable object, and is logged for the operator.
func (s *Server) removeImage(ctx context.Context, key string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := s.photos.Store.Delete(ctx, key); err != nil {
		s.log.WarnContext(ctx, "an image without a record is left in the photo store", "key", key, "error", err)
	}
}

// viewPhoto gives the photo a fresh signed link.
func (s *Server) viewPhoto(_ context.Context, _ auth.Principal, p *demandv1.Photo, _ int64) {
	expires := s.now().Add(s.photos.URLTTL).Truncate(time.Second)
	p.Url = "/v1/" + p.GetName() + ":content?" + s.photos.Signer.Sign(p.GetName(), expires).Encode()
	p.UrlExpireTime = timestamppb.New(expires)
}

// ListPhotos implements demandv1.DemandServiceServer.
func (s *Server) ListPhotos(ctx context.Context, req *demandv1.ListPhotosRequest) (*demandv1.ListPhotosResponse, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	q := s.db.Reads()
	d, _, err := s.loadDemand(ctx, q, p, req.GetParent())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	listed, next, err := s.store.ListPhotos(ctx, q, req.GetParent(), aip.PageSize(req.GetPageSize(), defaultPhotoPage, maxPageSize), req.GetPageToken())
	if err != nil {
		return nil, apierr.FromCall(err, req.GetParent())
	}
	resp := &demandv1.ListPhotosResponse{NextPageToken: next, Photos: make([]*demandv1.Photo, 0, len(listed))}
	for _, l := range listed {
		l.Photo.CommunityCode = d.GetCommunityCode()
		s.viewPhoto(ctx, p, l.Photo, 1)
		resp.Photos = append(resp.Photos, l.Photo)
	}
	return resp, nil
}

// DeletePhoto implements demandv1.DemandServiceServer.
func (s *Server) DeletePhoto(ctx context.Context, req *demandv1.DeletePhotoRequest) (*demandv1.DeletePhotoResponse, error) {
	name := req.GetName()
	var uploadedBy string
	_, err := resource.Run(ctx, s.res, resource.Change[*demandv1.Photo]{
		Method: demandv1.DemandService_DeletePhoto_FullMethodName,
		Name:   name,
		// A photo exists for the caller when its demand does.
		Load: func(ctx context.Context, q sqlstore.Querier, p auth.Principal, name string) (*demandv1.Photo, int64, error) {
			demand, _, err := store.SplitPhotoName(name)
			if err != nil {
				return nil, 0, sqlstore.ErrNotFound
			}
			d, _, err := s.loadDemand(ctx, q, p, demand)
			if err != nil {
				return nil, 0, err
			}
			rec, err := s.store.GetPhoto(ctx, q, name)
			if err != nil {
				return nil, 0, err
			}
			rec.Photo.CommunityCode = d.GetCommunityCode()
			uploadedBy = rec.UploadedBy
			return rec.Photo, 1, nil
		},
		Allow: func(p auth.Principal, cur *demandv1.Photo) error {
			if uploadedBy == p.Subject || s.canManage(p, cur.GetCommunityCode()) {
				return nil
			}
			return permissionDenied("delete " + name + ": only whoever attached it, and the community's staff, may")
		},
		Apply: func(ctx context.Context, t *resource.Tx, cur *demandv1.Photo, v int64) (*demandv1.Photo, int64, error) {
			return cur, v, s.store.DeletePhoto(ctx, t, name)
		},
		View: func(context.Context, auth.Principal, *demandv1.Photo, int64) {},
	})
	if err != nil {
		return nil, err
	}
	// The record is gone, so its links already fail; the image follows.
	s.removeImage(ctx, name)
	return &demandv1.DeletePhotoResponse{}, nil
}

// GetPhotoContent implements demandv1.DemandServiceServer. Its policy is auth.SignedURL: the
// call carries no Principal, and the link is the only credential. A link that does not verify
// (altered, made up, signed with another key) or has expired, a photo deleted since, and one
// that never existed all read the same, so a link reveals nothing about photos it was not
// made for.
func (s *Server) GetPhotoContent(ctx context.Context, req *demandv1.GetPhotoContentRequest) (*httpbody.HttpBody, error) {
	name := req.GetName()
	notFound := apierr.NotFound(name)
	if err := s.photos.Signer.Verify(name, strconv.FormatInt(req.GetExpires(), 10), req.GetSignature(), s.now()); err != nil {
		return nil, notFound
	}
	rec, err := s.store.GetPhoto(ctx, s.db.Reads(), name)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return nil, notFound
	}
	if err != nil {
		return nil, apierr.FromCall(err, name)
	}
	obj, err := s.photos.Store.Get(ctx, name)
	if errors.Is(err, blob.ErrNotFound) {
		// Deleted between the two reads.
		return nil, notFound
	}
	if err != nil {
		return nil, apierr.Internal(fmt.Errorf("read %s from the photo store: %w", name, err))
	}
	return &httpbody.HttpBody{ContentType: rec.Photo.GetContentType(), Data: obj.Data}, nil
}
