// Package photo accepts the photos residents and grid workers attach to records: JPEG, PNG and
// HEIC only, recognised by their bytes (never by what the client says they are), with the
// metadata that could identify a person or a place stripped before anything is stored — EXIF
// (GPS position, camera make and model, time), XMP, IPTC, comments and text chunks.
//
// Stripping never re-encodes the image: JPEG segments and PNG chunks that carry metadata are
// dropped and the rest is copied byte for byte; in a HEIC file, whose items are addressed by
// offsets, the metadata items' bytes are overwritten with zeros in place. A file whose
// metadata cannot be located safely is refused ([ErrMalformed]): an unstripped photo is never
// the fallback.
package photo

import (
	"bytes"
	"errors"
	"fmt"
)

// Format is an accepted image format.
type Format string

// The accepted formats.
const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	HEIC Format = "heic"
)

// DefaultMaxBytes is the size limit of a photo unless configured otherwise: a phone's photo
// at full resolution fits, a video does not.
const DefaultMaxBytes = 8 << 20

// ContentType is the format's media type.
func (f Format) ContentType() string {
	switch f {
	case JPEG:
		return "image/jpeg"
	case PNG:
		return "image/png"
	case HEIC:
		return "image/heic"
	}
	return ""
}

// FormatOf returns the format of a media type, ok false for one not accepted. "image/jpg" and
// "image/heif" are taken as the same formats, as some clients name them so.
func FormatOf(contentType string) (Format, bool) {
	switch contentType {
	case "image/jpeg", "image/jpg":
		return JPEG, true
	case "image/png":
		return PNG, true
	case "image/heic", "image/heif":
		return HEIC, true
	}
	return "", false
}

// ContentTypes lists the accepted media types, for messages.
const ContentTypes = "image/jpeg, image/png, image/heic"

var (
	// ErrUnsupported reports bytes that are not a JPEG, PNG or HEIC image.
	ErrUnsupported = errors.New("not a JPEG, PNG or HEIC image")
	// ErrMalformed reports an image of an accepted format whose structure cannot be followed
	// to the end, so its metadata cannot be stripped with certainty.
	ErrMalformed = errors.New("malformed image")
)

var pngSignature = []byte("\x89PNG\r\n\x1a\n")

// Detect returns the format data is in, judged by its first bytes; "" when it is none of the
// accepted ones.
func Detect(data []byte) Format {
	switch {
	case len(data) >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF:
		return JPEG
	case bytes.HasPrefix(data, pngSignature):
		return PNG
	case isHEIC(data):
		return HEIC
	}
	return ""
}

// Strip detects data's format and returns a copy without its metadata. data is not changed.
func Strip(data []byte) (Format, []byte, error) {
	f := Detect(data)
	var (
		out []byte
		err error
	)
	switch f {
	case JPEG:
		out, err = stripJPEG(data)
	case PNG:
		out, err = stripPNG(data)
	case HEIC:
		out, err = stripHEIC(data)
	default:
		return "", nil, ErrUnsupported
	}
	if err != nil {
		return f, nil, err
	}
	return f, out, nil
}

func malformed(f Format, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrMalformed, f.ContentType(), fmt.Sprintf(format, args...))
}
