package suite

import (
	"context"
	"fmt"
	"mime"
	"net/http"
	"path/filepath"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"

	"github.com/jiayuan/jiayuan/gateway"
	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	"github.com/jiayuan/jiayuan/platform/blob"
	"github.com/jiayuan/jiayuan/platform/photo"
	"github.com/jiayuan/jiayuan/platform/signedurl"
)

// Photos is where a service keeps the photos attached to its records and how it links to
// them (Spec.Photos).
type Photos struct {
	// Store keeps the images: a directory, or the district's S3-compatible bucket.
	Store blob.Store
	// MaxBytes is the largest image accepted; photo.DefaultMaxBytes when zero.
	MaxBytes int64
	// URLTTL is how long a link to an image works; the service's default when zero.
	URLTTL time.Duration
	// Signer signs the links with the deployment's key.
	Signer *signedurl.Signer
}

// Dev data directory entries of the photos: the images, and the key their links are signed
// with, made on first start.
const (
	DevPhotoDir    = "photos"
	DevPhotoURLKey = "photo-url-key"
)

// DevPhotos returns the photos of a dev data directory: the images in dataDir/photos, the
// links signed with dataDir/photo-url-key, made on first start.
func DevPhotos(dataDir string) (*Photos, error) {
	store, err := blob.NewDir(filepath.Join(dataDir, DevPhotoDir))
	if err != nil {
		return nil, err
	}
	signer, err := signedurl.LoadOrCreate(filepath.Join(dataDir, DevPhotoURLKey))
	if err != nil {
		return nil, err
	}
	return &Photos{Store: store, Signer: signer}, nil
}

// The REST routes that carry an image, and the upload route's pattern.
const (
	photoUploadPath = "/v1/demands/{demand}/photos:upload"
	photoCreatePath = "/v1/demands/{demand}/photos"
)

// GatewayBodyLimits are the gateway's body limits for the routes that carry a photo of up to
// photoMax bytes (photo.DefaultMaxBytes when zero): the raw upload, and CreatePhoto's JSON, in
// which the image is base64 (4 bytes for every 3) beside a few short fields.
func GatewayBodyLimits(photoMax int64) map[string]int64 {
	if photoMax <= 0 {
		photoMax = photo.DefaultMaxBytes
	}
	return map[string]int64{
		http.MethodPost + " " + photoUploadPath: photoMax,
		http.MethodPost + " " + photoCreatePath: (photoMax+2)/3*4 + 64<<10,
	}
}

// photoUploadRoute mounts POST /v1/demands/{demand}/photos:upload on the gateway: the body is
// the image itself, with its Content-Type, as a front end sends a file a resident picked;
// grpc-gateway maps no raw body onto a request field, so this route makes the CreatePhoto call
// itself, with the gateway's metadata (the Authorization header), marshalling and errors, as
// the generated handlers do. ?request_id= makes a retry safe. It answers the photo, as POST
// /v1/demands/{demand}/photos does.
func photoUploadRoute(_ context.Context, mux *runtime.ServeMux, conn *grpc.ClientConn) error {
	client := demandv1.NewDemandServiceClient(conn)
	return mux.HandlePath(http.MethodPost, photoUploadPath, func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		_, out := runtime.MarshalerForRequest(mux, r)
		ctx, err := runtime.AnnotateContext(r.Context(), mux, r, demandv1.DemandService_CreatePhoto_FullMethodName,
			runtime.WithHTTPPathPattern(photoUploadPath))
		if err != nil {
			runtime.HTTPError(r.Context(), mux, out, w, r, err)
			return
		}
		// The body is read first, so a body over the limit is 413 whatever else is wrong.
		content, err := gateway.ReadBody(r)
		if err != nil {
			runtime.HTTPError(ctx, mux, out, w, r, err)
			return
		}
		req := &demandv1.CreatePhotoRequest{
			Parent: "demands/" + params["demand"], Content: content, RequestId: r.URL.Query().Get("request_id"),
		}
		// The media type without parameters; one that does not parse is passed on as sent, and
		// the service names content_type in its refusal.
		req.ContentType = r.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(req.ContentType); err == nil {
			req.ContentType = mt
		}
		var md runtime.ServerMetadata
		resp, err := client.CreatePhoto(ctx, req, grpc.Header(&md.HeaderMD), grpc.Trailer(&md.TrailerMD))
		ctx = runtime.NewServerMetadataContext(ctx, md)
		if err != nil {
			runtime.HTTPError(ctx, mux, out, w, r, err)
			return
		}
		runtime.ForwardResponseMessage(ctx, mux, out, w, r, resp.GetPhoto(), mux.GetForwardResponseOptions()...)
	})
}

// photosOf checks a service's photo settings at start.
func photosOf(spec Spec, p *Photos) error {
	if !spec.Photos {
		return nil
	}
	if p == nil || p.Store == nil || p.Signer == nil {
		return fmt.Errorf("%s: the service keeps photos: it needs a photo store and a link key (--photo-store, --photo-url-key-file)", spec.Name)
	}
	return nil
}
