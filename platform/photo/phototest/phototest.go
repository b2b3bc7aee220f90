// Package phototest makes the images tests of photo handling need: real JPEG and PNG pictures
// (encoded by the standard library) carrying EXIF with a GPS position and a camera, XMP, IPTC
// and comments, and a minimal HEIC file with EXIF and XMP items. Each piece of metadata holds
// one of the Secret* markers, so a test asserts it is gone by looking for the markers.
package phototest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
)

// Markers planted in the metadata: none may survive stripping.
const (
	// SecretMake is the camera make in IFD0.
	SecretMake = "SecretCam-Maker"
	// SecretModel is the camera model in IFD0.
	SecretModel = "SecretCam-Model-9"
	// SecretXMP is in the XMP packet.
	SecretXMP = "SecretXMP-Location-Erqiaoxi"
	// SecretComment is in JPEG comments and PNG text chunks.
	SecretComment = "SecretComment-Home-Address"
	// SecretIPTC is in the IPTC record.
	SecretIPTC = "SecretIPTC-Byline"
)

// GPSLatitude is the GPS IFD's latitude as stored (three RATIONALs: 22/1, 48/1, 3517/100),
// the byte pattern a test looks for; GPSLongitude likewise (108/1, 19/1, 4242/100).
var (
	GPSLatitude  = rationals(22, 1, 48, 1, 3517, 100)
	GPSLongitude = rationals(108, 1, 19, 1, 4242, 100)
)

// Secrets lists every planted marker as bytes.
func Secrets() [][]byte {
	return [][]byte{[]byte(SecretMake), []byte(SecretModel), []byte(SecretXMP), []byte(SecretComment), []byte(SecretIPTC), GPSLatitude, GPSLongitude}
}

// Picture is a small picture with some structure, so decoding it is a real check.
func Picture() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 48, 32))
	for y := range 32 {
		for x := range 48 {
			img.Set(x, y, color.RGBA{R: uint8(x * 5), G: uint8(y * 7), B: uint8((x + y) * 3), A: 255})
		}
	}
	return img
}

func rationals(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

// TIFF returns an EXIF TIFF structure (little-endian): IFD0 with Make, Model and a GPS IFD
// pointer, the GPS IFD with latitude and longitude.
func TIFF() []byte {
	type entry struct {
		tag, typ uint16
		count    uint32
		value    []byte // stored after the IFDs when longer than 4 bytes
	}
	ascii := func(s string) []byte { return append([]byte(s), 0) }
	le16 := binary.LittleEndian.AppendUint16
	le32 := binary.LittleEndian.AppendUint32
	ifd0 := []entry{
		{0x010F, 2, uint32(len(SecretMake) + 1), ascii(SecretMake)},
		{0x0110, 2, uint32(len(SecretModel) + 1), ascii(SecretModel)},
		{0x8825, 4, 1, nil}, // GPS IFD pointer, set below
	}
	gps := []entry{
		{0x0001, 2, 2, []byte("N\x00")},
		{0x0002, 5, 3, GPSLatitude},
		{0x0003, 2, 2, []byte("E\x00")},
		{0x0004, 5, 3, GPSLongitude},
	}
	ifdLen := func(n int) int { return 2 + 12*n + 4 }
	ifd0At := 8
	gpsAt := ifd0At + ifdLen(len(ifd0))
	dataAt := gpsAt + ifdLen(len(gps))
	ifd0[2].value = le32(nil, uint32(gpsAt))

	var data []byte
	write := func(b []byte, entries []entry) []byte {
		b = le16(b, uint16(len(entries)))
		for _, e := range entries {
			b = le16(b, e.tag)
			b = le16(b, e.typ)
			b = le32(b, e.count)
			if len(e.value) <= 4 {
				v := append(append([]byte{}, e.value...), make([]byte, 4-len(e.value))...)
				b = append(b, v...)
				continue
			}
			b = le32(b, uint32(dataAt+len(data)))
			data = append(data, e.value...)
		}
		return le32(b, 0) // no next IFD
	}
	out := []byte("II*\x00")
	out = le32(out, uint32(ifd0At))
	out = write(out, ifd0)
	out = write(out, gps)
	return append(out, data...)
}

// XMP is an XMP packet naming a place.
func XMP() []byte {
	return []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="22,48.35N" exif:UserComment="` + SecretXMP + `"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`)
}

func segment(marker byte, payload []byte) []byte {
	n := len(payload) + 2
	return append([]byte{0xFF, marker, byte(n >> 8), byte(n)}, payload...)
}

// ICCSegment is an APP2 ICC profile segment (a stub profile), which stripping keeps.
func ICCSegment() []byte {
	return segment(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), []byte("stub-icc-profile-data")...))
}

// JPEG returns a picture encoded by image/jpeg, with an EXIF APP1 (GPS, make, model), an XMP
// APP1, an ICC APP2, an IPTC APP13 and a comment inserted after SOI.
func JPEG() []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, Picture(), &jpeg.Options{Quality: 90}); err != nil {
		panic(err)
	}
	enc := buf.Bytes()
	var out []byte
	out = append(out, enc[:2]...) // SOI
	out = append(out, segment(0xE1, append([]byte("Exif\x00\x00"), TIFF()...))...)
	out = append(out, segment(0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), XMP()...))...)
	out = append(out, ICCSegment()...)
	out = append(out, segment(0xED, append([]byte("Photoshop 3.0\x008BIM\x04\x04\x00\x00\x00\x00\x00\x20\x1c\x02\x50\x00\x1a"), []byte(SecretIPTC)...))...)
	out = append(out, segment(0xFE, []byte(SecretComment))...)
	return append(out, enc[2:]...)
}

func chunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// PNG returns a picture encoded by image/png, with eXIf (GPS, make, model), tEXt (a comment,
// IPTC as ImageMagick writes it), iTXt (XMP) and tIME chunks after IHDR, and a gAMA chunk that
// stripping keeps.
func PNG() []byte {
	var buf bytes.Buffer
	if err := png.Encode(&buf, Picture()); err != nil {
		panic(err)
	}
	enc := buf.Bytes()
	ihdrEnd := 8 + 12 + 13 // signature, IHDR chunk
	var out []byte
	out = append(out, enc[:ihdrEnd]...)
	out = append(out, chunk("gAMA", binary.BigEndian.AppendUint32(nil, 45455))...)
	out = append(out, chunk("eXIf", TIFF())...)
	out = append(out, chunk("tEXt", []byte("Comment\x00"+SecretComment))...)
	out = append(out, chunk("iTXt", append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), XMP()...))...)
	out = append(out, chunk("tEXt", []byte("Raw profile type iptc\x00"+SecretIPTC))...)
	out = append(out, chunk("tIME", []byte{0x07, 0xEA, 5, 4, 10, 30, 0})...)
	return append(out, enc[ihdrEnd:]...)
}

// HEICOptions shape the synthetic HEIC file.
type HEICOptions struct {
	// ExifMethod is the construction method of the EXIF item's location: 0 (in mdat) or 2
	// (built from another item, which a stripper cannot locate).
	ExifMethod int
	// NoExifLocation leaves the EXIF item out of iloc.
	NoExifLocation bool
}

// HEICPicture is the stand-in for the coded picture in the synthetic HEIC's mdat: stripping
// must leave it byte for byte.
var HEICPicture = []byte("HEVC-CODED-PICTURE-BYTES-0123456789")

// HEIC returns a minimal HEIC file: ftyp (heic, mif1), a meta box (hdlr, pitm, iinf with a
// 'hvc1' picture item 1, an 'Exif' item 2 and an XMP 'mime' item 3, iloc locating 1 and 2 in
// mdat and 3 in idat, idat), an mdat with the picture and the EXIF, and a vendor's 'uuid' box
// with a comment and IPTC.
func HEIC(opts HEICOptions) []byte {
	be16 := binary.BigEndian.AppendUint16
	be32 := binary.BigEndian.AppendUint32
	box := func(typ string, payload ...[]byte) []byte {
		body := bytes.Join(payload, nil)
		return append(be32([]byte{}, uint32(8+len(body))), append([]byte(typ), body...)...)
	}
	full := func(version byte, flags uint32) []byte {
		return []byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}
	}
	infe := func(id uint16, typ, name, contentType string) []byte {
		p := append(full(2, 0), be16(nil, id)...)
		p = be16(p, 0)
		p = append(p, typ...)
		p = append(p, name+"\x00"...)
		if typ == "mime" {
			p = append(p, contentType+"\x00"...)
		}
		return box("infe", p)
	}
	exif := append([]byte{0, 0, 0, 6}, append([]byte("Exif\x00\x00"), TIFF()...)...)
	xmp := XMP()

	build := func(mdatAt int) []byte {
		ftyp := box("ftyp", []byte("heic"), be32(nil, 0), []byte("mif1heic"))
		hdlr := box("hdlr", full(0, 0), be32(nil, 0), []byte("pict"), make([]byte, 12), []byte("\x00"))
		pitm := box("pitm", full(0, 0), be16(nil, 1))
		iinf := box("iinf", full(0, 0), be16(nil, 3),
			infe(1, "hvc1", "", ""), infe(2, "Exif", "", ""), infe(3, "mime", "XMP", "application/rdf+xml"))
		// iloc version 1: offset, length and base offset 4 bytes, no index.
		loc := func(id uint16, method uint16, offset, length int) []byte {
			p := be16(nil, id)
			p = be16(p, method)
			p = be16(p, 0) // data reference: this file
			p = be32(p, 0) // base offset
			p = be16(p, 1) // one extent
			p = be32(p, uint32(offset))
			return be32(p, uint32(length))
		}
		entries := [][]byte{loc(1, 0, mdatAt+8, len(HEICPicture))}
		if !opts.NoExifLocation {
			entries = append(entries, loc(2, uint16(opts.ExifMethod), mdatAt+8+len(HEICPicture), len(exif)))
		}
		entries = append(entries, loc(3, 1, 0, len(xmp)))
		iloc := box("iloc", full(1, 0), []byte{0x44, 0x40}, be16(nil, uint16(len(entries))), bytes.Join(entries, nil))
		idat := box("idat", xmp)
		meta := box("meta", full(0, 0), hdlr, pitm, iinf, iloc, idat)
		mdat := box("mdat", HEICPicture, exif)
		// A vendor's extension box after the picture, with a comment and IPTC in it.
		vendor := box("uuid", []byte("0123456789abcdef"), []byte(SecretComment), []byte(SecretIPTC))
		return bytes.Join([][]byte{ftyp, meta, mdat, vendor}, nil)
	}
	// The offsets do not change the boxes' sizes: build once to find mdat, then for real.
	first := build(0)
	return build(bytes.Index(first, []byte("mdat")) - 4)
}
