package photo_test

import (
	"bytes"
	"errors"
	"image"
	_ "image/jpeg" // image.Decode reads what Strip returns
	_ "image/png"
	"strings"
	"testing"

	"github.com/jiayuan/jiayuan/platform/photo"
	"github.com/jiayuan/jiayuan/platform/photo/phototest"
)

func assertNoSecrets(t *testing.T, data []byte) {
	t.Helper()
	for _, s := range phototest.Secrets() {
		if bytes.Contains(data, s) {
			t.Errorf("stripped image still contains %q", s)
		}
	}
}

func assertSecrets(t *testing.T, data []byte) {
	t.Helper()
	for _, s := range phototest.Secrets() {
		if !bytes.Contains(data, s) {
			t.Fatalf("the test image lacks %q: the test would prove nothing", s)
		}
	}
}

func decode(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("image.Decode: %v", err)
	}
	return img
}

func samePixels(t *testing.T, a, b image.Image) {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v, want %v", b.Bounds(), a.Bounds())
	}
	for y := a.Bounds().Min.Y; y < a.Bounds().Max.Y; y++ {
		for x := a.Bounds().Min.X; x < a.Bounds().Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				t.Fatalf("pixel (%d,%d) = %v, want %v: the image data changed", x, y, b.At(x, y), a.At(x, y))
			}
		}
	}
}

func TestStripJPEG(t *testing.T) {
	in := phototest.JPEG()
	assertSecrets(t, in)
	orig := append([]byte{}, in...)
	f, out, err := photo.Strip(in)
	if err != nil {
		t.Fatal(err)
	}
	if f != photo.JPEG {
		t.Errorf("format = %s, want jpeg", f)
	}
	if !bytes.Equal(in, orig) {
		t.Error("Strip changed its input")
	}
	assertNoSecrets(t, out)
	for _, gone := range []string{"Exif\x00\x00", "http://ns.adobe.com/xap", "Photoshop 3.0"} {
		if bytes.Contains(out, []byte(gone)) {
			t.Errorf("stripped JPEG still has a %q segment", gone)
		}
	}
	if !bytes.Contains(out, phototest.ICCSegment()) {
		t.Error("the ICC profile (APP2) was dropped; it must stay")
	}
	samePixels(t, decode(t, in), decode(t, out))
}

func TestStripPNG(t *testing.T) {
	in := phototest.PNG()
	assertSecrets(t, in)
	f, out, err := photo.Strip(in)
	if err != nil {
		t.Fatal(err)
	}
	if f != photo.PNG {
		t.Errorf("format = %s, want png", f)
	}
	assertNoSecrets(t, out)
	for _, gone := range []string{"eXIf", "tEXt", "iTXt", "tIME"} {
		if bytes.Contains(out, []byte(gone)) {
			t.Errorf("stripped PNG still has a %s chunk", gone)
		}
	}
	if !bytes.Contains(out, []byte("gAMA")) {
		t.Error("gAMA was dropped; it must stay")
	}
	// image/png checks every chunk's CRC: decoding proves the kept chunks are intact.
	samePixels(t, decode(t, in), decode(t, out))
}

func TestStripHEIC(t *testing.T) {
	in := phototest.HEIC(phototest.HEICOptions{})
	assertSecrets(t, in)
	f, out, err := photo.Strip(in)
	if err != nil {
		t.Fatal(err)
	}
	if f != photo.HEIC {
		t.Errorf("format = %s, want heic", f)
	}
	assertNoSecrets(t, out)
	if len(out) != len(in) {
		t.Errorf("length %d, want %d: offsets must stay valid", len(out), len(in))
	}
	if i := bytes.Index(in, phototest.HEICPicture); i < 0 || !bytes.Equal(out[i:i+len(phototest.HEICPicture)], phototest.HEICPicture) {
		t.Error("the picture item's bytes changed")
	}
	// Everything outside the metadata items is unchanged: the boxes still parse.
	if _, _, err := photo.Strip(out); err != nil {
		t.Errorf("the stripped file does not parse again: %v", err)
	}
}

func TestStripRefuses(t *testing.T) {
	jpg, pngData := phototest.JPEG(), phototest.PNG()
	brokenCRC := append([]byte{}, pngData...)
	brokenCRC[8+12+13-1] ^= 0xFF // IHDR's CRC
	heicSequence := phototest.HEIC(phototest.HEICOptions{})
	copy(heicSequence[8:12], "msf1")
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, photo.ErrUnsupported},
		{"text named .jpg", []byte("just some text, not a picture"), photo.ErrUnsupported},
		{"GIF", []byte("GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\xff\xff\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"), photo.ErrUnsupported},
		{"AVIF", append([]byte("\x00\x00\x00\x18ftypavif\x00\x00\x00\x00mif1avif"), make([]byte, 16)...), photo.ErrUnsupported},
		{"HEIC image sequence", heicSequence, photo.ErrUnsupported},
		{"truncated JPEG", jpg[:len(jpg)/2], photo.ErrMalformed},
		{"JPEG without EOI", jpg[:len(jpg)-2], photo.ErrMalformed},
		{"JPEG segment past the end", []byte{0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xFF, 'E', 'x'}, photo.ErrMalformed},
		{"truncated PNG", pngData[:len(pngData)-20], photo.ErrMalformed},
		{"PNG with a bad CRC", brokenCRC, photo.ErrMalformed},
		{"HEIC EXIF without a location", phototest.HEIC(phototest.HEICOptions{NoExifLocation: true}), photo.ErrMalformed},
		{"HEIC EXIF built from other items", phototest.HEIC(phototest.HEICOptions{ExifMethod: 2}), photo.ErrMalformed},
		{"truncated HEIC", phototest.HEIC(phototest.HEICOptions{})[:200], photo.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out, err := photo.Strip(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if out != nil {
				t.Error("a refused image still returned bytes")
			}
		})
	}
}

func TestDetectAndFormatOf(t *testing.T) {
	for _, tt := range []struct {
		data []byte
		want photo.Format
	}{
		{phototest.JPEG(), photo.JPEG}, {phototest.PNG(), photo.PNG}, {phototest.HEIC(phototest.HEICOptions{}), photo.HEIC},
		{[]byte("GIF89a"), ""}, {[]byte{0xFF, 0xD8}, ""}, {nil, ""},
	} {
		if got := photo.Detect(tt.data); got != tt.want {
			t.Errorf("Detect(%q…) = %q, want %q", tt.data[:min(8, len(tt.data))], got, tt.want)
		}
	}
	for ct, want := range map[string]photo.Format{"image/jpeg": photo.JPEG, "image/jpg": photo.JPEG, "image/png": photo.PNG, "image/heic": photo.HEIC, "image/heif": photo.HEIC} {
		if f, ok := photo.FormatOf(ct); !ok || f != want {
			t.Errorf("FormatOf(%s) = %s, %v", ct, f, ok)
		}
	}
	for _, ct := range []string{"image/gif", "text/plain", "", "IMAGE/JPEG; x=1"} {
		if _, ok := photo.FormatOf(ct); ok {
			t.Errorf("FormatOf(%q) accepted", ct)
		}
	}
	if !strings.Contains(photo.ContentTypes, photo.HEIC.ContentType()) {
		t.Error("ContentTypes does not list image/heic")
	}
}

// FuzzStrip: whatever the bytes, Strip never panics; what it returns is its own fixed point
// (stripping again changes nothing), of the format detected, and never longer than the input.
func FuzzStrip(f *testing.F) {
	f.Add(phototest.JPEG())
	f.Add(phototest.PNG())
	f.Add(phototest.HEIC(phototest.HEICOptions{}))
	f.Add(phototest.HEIC(phototest.HEICOptions{ExifMethod: 2}))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xFF, 0xD9})
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x00IEND\xaeB`\x82"))
	f.Add([]byte("\x00\x00\x00\x10ftypheic\x00\x00\x00\x00\x00\x00\x00\x01meta"))
	f.Fuzz(func(t *testing.T, data []byte) {
		f, out, err := photo.Strip(data)
		if err != nil {
			return
		}
		if f != photo.Detect(data) {
			t.Fatalf("format %s, Detect says %s", f, photo.Detect(data))
		}
		if len(out) > len(data) {
			t.Fatalf("stripped output (%d bytes) longer than the input (%d)", len(out), len(data))
		}
		f2, again, err := photo.Strip(out)
		if err != nil {
			t.Fatalf("the stripped image does not strip again: %v", err)
		}
		if f2 != f || !bytes.Equal(again, out) {
			t.Fatal("stripping twice changed the image")
		}
	})
}
