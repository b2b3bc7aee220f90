package demand_test

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg" // image.Decode reads the photos served
	_ "image/png"
	"io/fs"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	demandv1 "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
	"github.com/jiayuan/jiayuan/platform/apierr/apierrtest"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/photo"
	"github.com/jiayuan/jiayuan/platform/photo/phototest"
)

// gridWorker is 二桥西's first grid's worker.
func (e *env) gridWorker() context.Context { return e.as(auth.RoleGridWorker, erqiaoG1) }

// fujingResident lives in another community.
func (e *env) fujingResident() context.Context {
	return e.asPrincipal(auth.Principal{Subject: "fujing-resident", Roles: []auth.Role{auth.RoleResident}, Scope: []string{fujing}})
}

// problemOf is a problem in 二桥西 a grid worker saw on the round.
func problemOf(title string) *demandv1.Demand {
	d := demandOf(demandv1.DemandKind_DEMAND_KIND_PROBLEM, typev1.Category_CATEGORY_ENVIRONMENT, demandv1.Channel_CHANNEL_GRID_WORKER_VISIT, title)
	d.GridCode = erqiaoG1
	return d
}

func (e *env) attach(ctx context.Context, parent string, content []byte, contentType string) (*demandv1.Photo, error) {
	resp, err := e.client.CreatePhoto(ctx, &demandv1.CreatePhotoRequest{Parent: parent, Content: content, ContentType: contentType})
	return resp.GetPhoto(), err
}

func (e *env) mustAttach(ctx context.Context, parent string, content []byte, contentType string) *demandv1.Photo {
	e.t.Helper()
	p, err := e.attach(ctx, parent, content, contentType)
	if err != nil {
		e.t.Fatalf("attach a photo to %s: %v", parent, err)
	}
	return p
}

func (e *env) listPhotos(ctx context.Context, parent string) ([]*demandv1.Photo, error) {
	resp, err := e.client.ListPhotos(ctx, &demandv1.ListPhotosRequest{Parent: parent})
	return resp.GetPhotos(), err
}

// fetch reads an image through its signed link, as the gateway does for a browser: the link's
// path names the photo, its query is the credential, and no bearer token is sent.
func (e *env) fetch(link string) ([]byte, string, error) {
	e.t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		e.t.Fatal(err)
	}
	name, ok := strings.CutSuffix(strings.TrimPrefix(u.Path, "/v1/"), ":content")
	if !ok || u.Scheme != "" || u.Host != "" {
		e.t.Fatalf("link %q is not the gateway's relative content path", link)
	}
	exp, _ := strconv.ParseInt(u.Query().Get("expires"), 10, 64)
	ctx, cancel := context.WithTimeout(e.t.Context(), 20*time.Second)
	defer cancel()
	body, err := e.client.GetPhotoContent(ctx, &demandv1.GetPhotoContentRequest{Name: name, Expires: exp, Signature: u.Query().Get("signature")})
	return body.GetData(), body.GetContentType(), err
}

// objects lists the keys of the images in the photo store.
func (e *env) objects() []string {
	e.t.Helper()
	var keys []string
	err := filepath.WalkDir(e.photoDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(e.photoDir, path)
		keys = append(keys, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return keys
}

func noSecrets(t *testing.T, what string, data []byte) {
	t.Helper()
	for _, s := range phototest.Secrets() {
		if bytes.Contains(data, s) {
			t.Errorf("%s still contains %q", what, s)
		}
	}
}

// A grid worker photographs an overflowing bin on the round; the photo's GPS position and
// camera never reach the store, the resident who raised it and the community's staff see it
// through links that expire, and nobody else does.
func TestPhotoOfAProblem(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		filed := e.createDemand(e.resident("resident-qin"), func() *demandv1.Demand {
			d := problemOf("3栋垃圾桶满溢无人清运")
			d.Channel, d.GridCode = demandv1.Channel_CHANNEL_ONLINE, erqiaoG1
			return d
		}())
		jpg := phototest.JPEG()
		p := e.mustAttach(e.gridWorker(), filed.GetName(), jpg, "image/jpeg")

		if !strings.HasPrefix(p.GetName(), filed.GetName()+"/photos/") || p.GetContentType() != "image/jpeg" ||
			p.GetUploaderRole() != string(auth.RoleGridWorker) || p.GetCommunityCode() != erqiao || p.GetCreateTime() == nil {
			t.Errorf("photo = %v", p)
		}
		if p.GetSizeBytes() <= 0 || p.GetSizeBytes() >= int64(len(jpg)) {
			t.Errorf("size_bytes = %d; want the stripped size, below the %d bytes sent", p.GetSizeBytes(), len(jpg))
		}
		if ttl := time.Until(p.GetUrlExpireTime().AsTime()); ttl < 14*time.Minute || ttl > 15*time.Minute {
			t.Errorf("link expires in %s, want about 15 minutes", ttl)
		}
		if !strings.HasPrefix(p.GetUrl(), "/v1/"+p.GetName()+":content?expires=") || !strings.Contains(p.GetUrl(), "&signature=") {
			t.Errorf("url = %q, want the gateway's relative content path with expires and signature", p.GetUrl())
		}

		// At rest: the image without its metadata, never the upload as sent.
		obj, err := e.photos.Get(t.Context(), p.GetName())
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, "the stored image", obj.Data)
		if int64(len(obj.Data)) != p.GetSizeBytes() || obj.ContentType != "image/jpeg" {
			t.Errorf("stored %d bytes of %s, want %d of image/jpeg", len(obj.Data), obj.ContentType, p.GetSizeBytes())
		}

		// Through the link, without a token: the same stripped image, a picture still.
		data, ct, err := e.fetch(p.GetUrl())
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, "the image served", data)
		if ct != "image/jpeg" || !bytes.Equal(data, obj.Data) {
			t.Errorf("served %d bytes of %s, want the stored image", len(data), ct)
		}
		img, format, err := image.Decode(bytes.NewReader(data))
		if err != nil || format != "jpeg" || img.Bounds() != phototest.Picture().Bounds() {
			t.Errorf("image.Decode = %v, %s, %v; want the 48×32 JPEG", img.Bounds(), format, err)
		}

		// Everyone who may see the demand lists it, with a working link.
		for who, ctx := range map[string]context.Context{
			"the resident who raised it": e.resident("resident-qin"),
			"community staff":            e.staff(),
			"the grid worker":            e.gridWorker(),
			"the street office":          e.as(auth.RoleStreetOfficer, jiangnan),
		} {
			photos, err := e.listPhotos(ctx, filed.GetName())
			if err != nil || len(photos) != 1 || photos[0].GetName() != p.GetName() {
				t.Fatalf("%s: ListPhotos = %v, %v", who, photos, err)
			}
			if _, _, err := e.fetch(photos[0].GetUrl()); err != nil {
				t.Errorf("%s: the listed link fails: %v", who, err)
			}
		}

		// Nobody else: out of scope reads as missing.
		for who, ctx := range map[string]context.Context{
			"another community's resident":           e.fujingResident(),
			"another community's staff":              e.as(auth.RoleCommunityStaff, fujing),
			"a resident of 二桥西 who did not raise it": e.resident("resident-neighbour"),
		} {
			_, err := e.listPhotos(ctx, filed.GetName())
			apierrtest.WantCode(t, err, codes.NotFound)
			if _, err := e.client.GetPhotoContent(ctx, &demandv1.GetPhotoContentRequest{Name: p.GetName()}); status.Code(err) != codes.NotFound {
				t.Errorf("%s: GetPhotoContent without a link: %v, want NOT_FOUND", who, err)
			}
		}

		// A link is good for its own photo, unaltered, until it expires; a bad link reads like a
		// photo that does not exist, in the same words.
		second := e.mustAttach(e.staff(), filed.GetName(), phototest.PNG(), "image/png")
		u, _ := url.Parse(p.GetUrl())
		q := u.Query()
		missing := filed.GetName() + "/photos/01JZZZZZZZZZZZZZZZZZZZZZZZ"
		exp, _ := strconv.ParseInt(q.Get("expires"), 10, 64)
		sig := q.Get("signature")
		flipped := []byte(sig)
		flipped[3] ^= 0x01
		for name, req := range map[string]*demandv1.GetPhotoContentRequest{
			"a flipped signature":         {Name: p.GetName(), Expires: exp, Signature: string(flipped)},
			"a later expiry":              {Name: p.GetName(), Expires: exp + 3600, Signature: sig},
			"the link of another photo":   {Name: second.GetName(), Expires: exp, Signature: sig},
			"no signature":                {Name: p.GetName(), Expires: exp},
			"a photo that does not exist": {Name: missing, Expires: exp, Signature: sig},
		} {
			_, err := e.client.GetPhotoContent(t.Context(), req)
			st := apierrtest.WantCode(t, err, codes.NotFound)
			if want := strings.ReplaceAll(st.Message(), req.GetName(), "X"); want != `"X" not found` && want != "X not found" {
				t.Errorf("%s: message %q does not read like a missing photo", name, st.Message())
			}
		}

		e.clock.Advance(15*time.Minute + time.Second)
		if _, _, err := e.fetch(p.GetUrl()); status.Code(err) != codes.NotFound {
			t.Errorf("an expired link: %v, want NOT_FOUND", err)
		}
		fresh, err := e.listPhotos(e.resident("resident-qin"), filed.GetName())
		if err != nil || len(fresh) != 2 {
			t.Fatalf("ListPhotos after expiry = %v, %v", fresh, err)
		}
		if _, _, err := e.fetch(fresh[0].GetUrl()); err != nil {
			t.Errorf("a fresh link after the old one expired: %v", err)
		}
	})
}

// Bad uploads are refused naming the field or the reason, and leave neither a record nor an
// image behind.
func TestPhotoRefusals(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		d := e.createDemand(e.gridWorker(), problemOf("路灯不亮"))
		supported := e.createDemand(e.resident("resident-qin"), func() *demandv1.Demand {
			d := problemOf("小区门口积水")
			d.Channel = demandv1.Channel_CHANNEL_ONLINE
			return d
		}())
		if _, err := e.client.SupportDemand(e.resident("resident-supporter"), &demandv1.SupportDemandRequest{Name: supported.GetName()}); err != nil {
			t.Fatal(err)
		}
		gif := []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
		jpg := phototest.JPEG()
		tooBig := append(append([]byte{}, jpg[:len(jpg)-2]...), bytes.Repeat([]byte{0}, photo.DefaultMaxBytes)...)

		tests := []struct {
			name        string
			ctx         context.Context
			parent      string
			content     []byte
			contentType string
			code        codes.Code
			field       string
		}{
			{"over the size limit", e.gridWorker(), d.GetName(), tooBig, "image/jpeg", codes.InvalidArgument, "content"},
			{"a GIF", e.gridWorker(), d.GetName(), gif, "image/gif", codes.InvalidArgument, "content_type"},
			{"a GIF said to be a JPEG", e.gridWorker(), d.GetName(), gif, "image/jpeg", codes.InvalidArgument, "content"},
			{"a text file named .jpg", e.gridWorker(), d.GetName(), []byte("门牌号：3栋2单元501\n"), "image/jpeg", codes.InvalidArgument, "content"},
			{"a PNG said to be a JPEG", e.gridWorker(), d.GetName(), phototest.PNG(), "image/jpeg", codes.InvalidArgument, "content_type"},
			{"a truncated JPEG", e.gridWorker(), d.GetName(), jpg[:len(jpg)/2], "image/jpeg", codes.InvalidArgument, "content"},
			{"no content", e.gridWorker(), d.GetName(), nil, "image/jpeg", codes.InvalidArgument, "content"},
			{"no content type", e.gridWorker(), d.GetName(), jpg, "", codes.InvalidArgument, "content_type"},
			{"a malformed parent", e.gridWorker(), "demands/x", jpg, "image/jpeg", codes.InvalidArgument, "parent"},
			{"a demand that does not exist", e.gridWorker(), "demands/01JZZZZZZZZZZZZZZZZZZZZZZZ", jpg, "image/jpeg", codes.NotFound, ""},
			{"a resident who neither filed nor claimed it", e.resident("resident-neighbour"), supported.GetName(), jpg, "image/jpeg", codes.NotFound, ""},
			{"a resident who only supports it", e.resident("resident-supporter"), supported.GetName(), jpg, "image/jpeg", codes.PermissionDenied, ""},
			{"another community's staff", e.as(auth.RoleCommunityStaff, fujing), d.GetName(), jpg, "image/jpeg", codes.NotFound, ""},
			{"another community's resident", e.fujingResident(), d.GetName(), jpg, "image/jpeg", codes.NotFound, ""},
			{"a department", e.as(auth.RoleDepartment, district), d.GetName(), jpg, "image/jpeg", codes.PermissionDenied, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := e.attach(tt.ctx, tt.parent, tt.content, tt.contentType)
				if tt.field != "" {
					apierrtest.WantField(t, err, tt.field)
				} else {
					apierrtest.WantCode(t, err, tt.code)
				}
			})
		}
		for _, parent := range []string{d.GetName(), supported.GetName()} {
			if photos, err := e.listPhotos(e.staff(), parent); err != nil || len(photos) != 0 {
				t.Errorf("%s has photos %v (%v) after refused uploads", parent, photos, err)
			}
		}
		if keys := e.objects(); len(keys) != 0 {
			t.Errorf("refused uploads left images in the store: %v", keys)
		}
	})
}

// A photo near the size limit passes, though the server's other methods keep their smaller
// request limit; HEIC is accepted with its metadata items zeroed; a retried upload attaches
// once; a demand takes ten photos at most; a final demand takes none.
func TestPhotoLimitsAndFormats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		d := e.createDemand(e.gridWorker(), problemOf("楼道堆放杂物"))

		// 5 MiB (above the server's 4 MiB default) of comments: valid, and stripped.
		big := phototest.JPEG()
		var padded []byte
		padded = append(padded, big[:2]...)
		for len(padded) < 5<<20 {
			padded = append(padded, 0xFF, 0xFE, 0xFF, 0xFF)
			padded = append(padded, bytes.Repeat([]byte("c"), 0xFFFF-2)...)
		}
		padded = append(padded, big[2:]...)
		p := e.mustAttach(e.gridWorker(), d.GetName(), padded, "image/jpeg")
		if p.GetSizeBytes() > int64(len(big)) {
			t.Errorf("a 5 MiB upload of comments stored %d bytes", p.GetSizeBytes())
		}
		huge := needOf(strings.Repeat("长", 2<<20))
		if _, err := e.client.CreateDemand(e.staff(), &demandv1.CreateDemandRequest{Demand: huge}); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("a 6 MiB CreateDemand: %v, want RESOURCE_EXHAUSTED (the other methods keep their limit)", err)
		}

		heic := e.mustAttach(e.staff(), d.GetName(), phototest.HEIC(phototest.HEICOptions{}), "image/heif")
		data, ct, err := e.fetch(heic.GetUrl())
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, "the HEIC served", data)
		if ct != "image/heic" || len(data) != len(phototest.HEIC(phototest.HEICOptions{})) || !bytes.Contains(data, phototest.HEICPicture) {
			t.Errorf("HEIC served as %s, %d bytes", ct, len(data))
		}

		id := uuid.NewString()
		req := &demandv1.CreatePhotoRequest{Parent: d.GetName(), Content: phototest.PNG(), ContentType: "image/png", RequestId: id}
		first, err := e.client.CreatePhoto(e.gridWorker(), req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.client.CreatePhoto(e.gridWorker(), req)
		if err != nil || again.GetPhoto().GetName() != first.GetPhoto().GetName() {
			t.Fatalf("replay = %v, %v; want the first photo", again.GetPhoto().GetName(), err)
		}
		if _, _, err := e.fetch(again.GetPhoto().GetUrl()); err != nil {
			t.Errorf("the replayed photo's link: %v", err)
		}
		if keys := e.objects(); len(keys) != 3 {
			t.Errorf("store holds %d images after a replay, want 3: %v", len(keys), keys)
		}

		for range 7 {
			e.mustAttach(e.gridWorker(), d.GetName(), phototest.PNG(), "image/png")
		}
		_, err = e.attach(e.gridWorker(), d.GetName(), phototest.PNG(), "image/png")
		if st := apierrtest.WantCode(t, err, codes.FailedPrecondition); !strings.Contains(st.Message(), "10 photos") {
			t.Errorf("the eleventh photo: %v", st.Message())
		}
		if keys := e.objects(); len(keys) != 10 {
			t.Errorf("store holds %d images, want 10", len(keys))
		}
		photos, err := e.listPhotos(e.staff(), d.GetName())
		if err != nil || len(photos) != 10 {
			t.Fatalf("ListPhotos = %d, %v", len(photos), err)
		}
		page, err := e.client.ListPhotos(e.staff(), &demandv1.ListPhotosRequest{Parent: d.GetName(), PageSize: 4})
		if err != nil || len(page.GetPhotos()) != 4 || page.GetNextPageToken() == "" {
			t.Fatalf("a page of 4 = %d photos, next %q, %v", len(page.GetPhotos()), page.GetNextPageToken(), err)
		}
		rest, err := e.client.ListPhotos(e.staff(), &demandv1.ListPhotosRequest{Parent: d.GetName(), PageSize: 100, PageToken: page.GetNextPageToken()})
		if err != nil || len(rest.GetPhotos()) != 6 || rest.GetPhotos()[0].GetName() <= page.GetPhotos()[3].GetName() {
			t.Errorf("the rest = %d photos, %v", len(rest.GetPhotos()), err)
		}

		closed := e.createDemand(e.staff(), needOf("已办结的诉求"))
		for _, to := range []demandv1.DemandStatus{demandv1.DemandStatus_DEMAND_STATUS_ACCEPTED, demandv1.DemandStatus_DEMAND_STATUS_CLOSED_UNRESOLVED, demandv1.DemandStatus_DEMAND_STATUS_CLOSED} {
			if _, err := e.client.ChangeDemandStatus(e.staff(), &demandv1.ChangeDemandStatusRequest{Name: closed.GetName(), Status: to, Reply: "处理", Reason: "无法解决"}); err != nil {
				t.Fatalf("move to %s: %v", to, err)
			}
		}
		_, err = e.attach(e.staff(), closed.GetName(), phototest.PNG(), "image/png")
		apierrtest.WantCode(t, err, codes.FailedPrecondition)
	})
}

// The uploader or the community's staff remove a photo; its links stop working and its image
// leaves the store.
func TestDeletePhoto(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		filed := e.createDemand(e.resident("resident-qin"), func() *demandv1.Demand {
			d := problemOf("屋顶漏水")
			d.Channel = demandv1.Channel_CHANNEL_ONLINE
			return d
		}())
		mine := e.mustAttach(e.resident("resident-qin"), filed.GetName(), phototest.PNG(), "image/png")
		workers := e.mustAttach(e.gridWorker(), filed.GetName(), phototest.JPEG(), "image/jpeg")
		if mine.GetUploaderRole() != string(auth.RoleResident) {
			t.Errorf("uploader_role = %q", mine.GetUploaderRole())
		}

		for who, ctx := range map[string]context.Context{
			"the resident, for the worker's photo": e.resident("resident-qin"),
			"another grid worker of the community": e.as(auth.RoleGridWorker, erqiaoG2),
		} {
			_, err := e.client.DeletePhoto(ctx, &demandv1.DeletePhotoRequest{Name: workers.GetName()})
			if status.Code(err) != codes.PermissionDenied {
				t.Errorf("%s: DeletePhoto = %v, want PERMISSION_DENIED", who, err)
			}
		}
		_, err := e.client.DeletePhoto(e.fujingResident(), &demandv1.DeletePhotoRequest{Name: workers.GetName()})
		apierrtest.WantCode(t, err, codes.NotFound)

		if _, err := e.client.DeletePhoto(e.resident("resident-qin"), &demandv1.DeletePhotoRequest{Name: mine.GetName()}); err != nil {
			t.Fatalf("the uploader deletes: %v", err)
		}
		if _, err := e.client.DeletePhoto(e.staff(), &demandv1.DeletePhotoRequest{Name: workers.GetName()}); err != nil {
			t.Fatalf("staff delete: %v", err)
		}
		for _, p := range []*demandv1.Photo{mine, workers} {
			if _, _, err := e.fetch(p.GetUrl()); status.Code(err) != codes.NotFound {
				t.Errorf("the link of deleted %s: %v, want NOT_FOUND", p.GetName(), err)
			}
		}
		if keys := e.objects(); len(keys) != 0 {
			t.Errorf("deleted photos' images remain: %v", keys)
		}
		_, err = e.client.DeletePhoto(e.staff(), &demandv1.DeletePhotoRequest{Name: workers.GetName()})
		apierrtest.WantCode(t, err, codes.NotFound)
		if photos, err := e.listPhotos(e.staff(), filed.GetName()); err != nil || len(photos) != 0 {
			t.Errorf("ListPhotos after deletes = %v, %v", photos, err)
		}
	})
}
