package suite_test

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"image"
	_ "image/jpeg" // image.Decode reads the photos served
	"image/png"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/photo"
	"github.com/jiayuan/jiayuan/platform/photo/phototest"
	"github.com/jiayuan/jiayuan/platform/signedurl"
)

// upload posts raw bytes to the gateway's upload route, as a front end posts a picked file.
func upload(t *testing.T, base, demand, token, contentType string, body io.Reader) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/"+demand+"/photos:upload", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("upload answered %d without JSON: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, out
}

// get fetches a path from the gateway without a token, as an <img> tag does.
func get(t *testing.T, base, path string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, data
}

func violationField(body map[string]any) string {
	details, _ := body["details"].([]any)
	for _, d := range details {
		m, _ := d.(map[string]any)
		for _, v := range asSlice(m["fieldViolations"]) {
			if f, ok := v.(map[string]any)["field"].(string); ok {
				return f
			}
		}
	}
	return ""
}

func asSlice(v any) []any { s, _ := v.([]any); return s }

// bigPNG is a valid PNG of about n bytes: the picture with a private ancillary chunk of
// padding, which stripping drops.
func bigPNG(n int) []byte {
	p := phototest.PNG()
	pad := make([]byte, n)
	c := binary.BigEndian.AppendUint32(nil, uint32(len(pad)))
	c = append(c, "prVt"...)
	c = append(c, pad...)
	c = binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
	at := 8 + 12 + 13
	return append(append(append([]byte{}, p[:at]...), c...), p[at:]...)
}

// TestPhotosOverREST: through the gateway over real HTTP, a grid worker uploads a photo with
// EXIF GPS as raw bytes; the link it gets loads the image without a token, stripped; a bad link,
// an upload over the limit or of another type, and another community's resident are refused,
// and nothing is written for them.
func TestPhotosOverREST(t *testing.T) {
	dir := t.TempDir()
	dev := startDev(t, dir)
	api := rest{t: t, base: dev.GatewayURL}
	worker := dev.Tokens[auth.RoleGridWorker]

	code, d := api.call(http.MethodPost, "/v1/demands", worker, `{"kind": "DEMAND_KIND_PROBLEM", "category": "CATEGORY_ENVIRONMENT",
		"channel": "CHANNEL_GRID_WORKER_VISIT", "title": "3栋垃圾桶满溢", "communityCode": "450105001001", "gridCode": "450105001001001"}`)
	if code != http.StatusOK {
		t.Fatalf("create demand: %d %v", code, d)
	}
	demand := d["name"].(string)

	code, p := upload(t, dev.GatewayURL, demand, worker, "image/jpeg; name=IMG_0042.JPG", bytes.NewReader(phototest.JPEG()))
	if code != http.StatusOK || p["contentType"] != "image/jpeg" || p["uploaderRole"] != "grid_worker" {
		t.Fatalf("upload: %d %v", code, p)
	}
	link := p["url"].(string)
	if !strings.HasPrefix(link, "/v1/"+p["name"].(string)+":content?") {
		t.Fatalf("url = %q", link)
	}

	resp, img := get(t, dev.GatewayURL, link)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/jpeg" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET the link: %d, %s, nosniff %q", resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("X-Content-Type-Options"))
	}
	for _, s := range phototest.Secrets() {
		if bytes.Contains(img, s) {
			t.Errorf("the image served still contains %q", s)
		}
	}
	if _, format, err := image.Decode(bytes.NewReader(img)); err != nil || format != "jpeg" {
		t.Errorf("the image served does not decode: %s, %v", format, err)
	}

	// The JSON route takes the image in base64, beyond the gateway's usual 1 MiB body.
	large := bigPNG(2 << 20)
	code, p2 := api.call(http.MethodPost, "/v1/"+demand+"/photos", worker,
		`{"contentType": "image/png", "content": "`+base64.StdEncoding.EncodeToString(large)+`"}`)
	if code != http.StatusOK || p2["contentType"] != "image/png" {
		t.Fatalf("JSON create of a 2 MiB PNG: %d %v", code, p2)
	}

	// 5 MiB raw: above the node's 4 MiB request limit, which CreatePhoto alone is raised from.
	if code, body := upload(t, dev.GatewayURL, demand, worker, "image/png", bytes.NewReader(bigPNG(5<<20))); code != http.StatusOK {
		t.Fatalf("raw upload of a 5 MiB PNG: %d %v", code, body)
	}

	// A picture that stays large once stripped comes back whole through the gateway.
	noise := image.NewNRGBA(image.Rect(0, 0, 1200, 1100))
	// Noise does not compress: the file stays as large as its pixels.
	_, _ = rand.NewChaCha8([32]byte{1}).Read(noise.Pix)
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, noise); err != nil {
		t.Fatal(err)
	}
	code, big := upload(t, dev.GatewayURL, demand, worker, "image/png", bytes.NewReader(buf.Bytes()))
	if code != http.StatusOK {
		t.Fatalf("upload of a %d-byte PNG: %d %v", buf.Len(), code, big)
	}
	if resp, data := get(t, dev.GatewayURL, big["url"].(string)); resp.StatusCode != http.StatusOK || !bytes.Equal(data, buf.Bytes()) {
		t.Fatalf("GET a %d-byte photo: %d, %d bytes", buf.Len(), resp.StatusCode, len(data))
	}

	// A bad link reads like a missing photo: 404, whichever part is wrong.
	u, _ := url.Parse(link)
	q := u.Query()
	signer, err := signedurl.Load(filepath.Join(dir, suite.DevPhotoURLKey))
	if err != nil {
		t.Fatal(err)
	}
	expired := signer.Sign(p["name"].(string), time.Now().Add(-time.Second))
	sig := []byte(q.Get("signature"))
	if sig[0] == 'A' {
		sig[0] = 'B'
	} else {
		sig[0] = 'A'
	}
	tampered := url.Values{"expires": q["expires"], "signature": {string(sig)}}
	for name, query := range map[string]url.Values{"expired": expired, "tampered": tampered, "none": {}} {
		resp, body := get(t, dev.GatewayURL, u.Path+"?"+query.Encode())
		if resp.StatusCode != http.StatusNotFound || strings.HasPrefix(resp.Header.Get("Content-Type"), "image/") {
			t.Errorf("%s link: %d %s %.80s", name, resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
	}

	// Another community's resident sees neither the demand's photos nor a way to them.
	fujing, err := dev.Signer.Token(auth.Principal{Subject: "fujing-resident", Roles: []auth.Role{auth.RoleResident}, Scope: []string{"450105001002"}}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if code, body := api.call(http.MethodGet, "/v1/"+demand+"/photos", fujing, ""); code != http.StatusNotFound {
		t.Errorf("another community's resident lists photos: %d %v", code, body)
	}
	if code, body := api.call(http.MethodGet, "/v1/"+demand+"/photos", dev.Tokens[auth.RoleCommunityStaff], ""); code != http.StatusOK || len(asSlice(body["photos"])) != 4 {
		t.Errorf("staff list photos: %d %v", code, body)
	}

	tooBig := append(phototest.JPEG(), make([]byte, photo.DefaultMaxBytes)...)
	tests := []struct {
		name        string
		token       string
		contentType string
		body        io.Reader
		status      int
		field       string
	}{
		{"over the limit", worker, "image/jpeg", bytes.NewReader(tooBig), http.StatusRequestEntityTooLarge, "body"},
		{"over the limit, length unknown", worker, "image/jpeg", io.MultiReader(bytes.NewReader(tooBig)), http.StatusRequestEntityTooLarge, "body"},
		{"a GIF", worker, "image/gif", strings.NewReader("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), http.StatusBadRequest, "content_type"},
		{"a text file named .jpg", worker, "image/jpeg", strings.NewReader("门牌号：3栋2单元501"), http.StatusBadRequest, "content"},
		{"no Content-Type", worker, "", bytes.NewReader(phototest.JPEG()), http.StatusBadRequest, "content_type"},
		{"a resident who neither filed nor claimed it", dev.Tokens[auth.RoleResident], "image/jpeg", bytes.NewReader(phototest.JPEG()), http.StatusNotFound, ""},
		{"another community's resident", fujing, "image/jpeg", bytes.NewReader(phototest.JPEG()), http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := upload(t, dev.GatewayURL, demand, tt.token, tt.contentType, tt.body)
			if code != tt.status {
				t.Fatalf("status %d (%v), want %d", code, body, tt.status)
			}
			if got := violationField(body); tt.field != "" && got != tt.field {
				t.Errorf("field %q (%v), want %q", got, body["message"], tt.field)
			}
		})
	}

	var objects int
	err = filepath.WalkDir(filepath.Join(dir, suite.DevPhotoDir), func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			objects++
		}
		return err
	})
	if err != nil || objects != 4 {
		t.Errorf("the dev photo store holds %d images (%v), want the 4 accepted", objects, err)
	}
}
