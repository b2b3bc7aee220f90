package photo

import "bytes"

// JPEG markers the stripper tells apart.
const (
	markerSOI  = 0xD8
	markerEOI  = 0xD9
	markerSOS  = 0xDA
	markerAPP0 = 0xE0
	markerAPP2 = 0xE2
	markerAPPE = 0xEE // APP14, Adobe: the colour transform a decoder needs
	markerAPPF = 0xEF
	markerCOM  = 0xFE
	markerTEM  = 0x01
)

// keepJPEGSegment reports whether a marker segment stays. Every application segment is
// dropped except those a decoder needs to show the picture as taken: APP0 (JFIF), APP2 holding
// an ICC profile (other APP2 segments are FlashPix or MPF, whose secondary images carry their
// own EXIF) and APP14 (Adobe). So APP1 (EXIF with its GPS position and camera, XMP), APP13
// (IPTC, Photoshop) and vendors' other segments go, and so do comments (COM). Everything that
// is not an application segment or a comment (quantisation and Huffman tables, frame and scan
// headers, restart intervals) is image data and stays.
func keepJPEGSegment(marker byte, payload []byte) bool {
	switch {
	case marker == markerCOM:
		return false
	case marker < markerAPP0 || marker > markerAPPF:
		return true
	case marker == markerAPP0 || marker == markerAPPE:
		return true
	case marker == markerAPP2:
		return bytes.HasPrefix(payload, []byte("ICC_PROFILE\x00"))
	}
	return false
}

// stripJPEG copies the segments of a baseline or progressive JPEG that keepJPEGSegment keeps,
// and the entropy-coded data after each scan header, up to the end of the image (EOI); what
// follows EOI (MPF secondary images, vendors' trailers) is dropped too.
func stripJPEG(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data))
	out = append(out, 0xFF, markerSOI)
	i := 2
	for {
		// A marker: one or more 0xFF fill bytes, then the marker code.
		if i >= len(data) || data[i] != 0xFF {
			return nil, malformed(JPEG, "expected a marker at byte %d", i)
		}
		for i < len(data) && data[i] == 0xFF {
			i++
		}
		if i >= len(data) {
			return nil, malformed(JPEG, "ends inside a marker")
		}
		marker := data[i]
		i++
		switch {
		case marker == markerEOI:
			return append(out, 0xFF, markerEOI), nil
		case marker == markerSOI || marker == 0x00 || (marker >= 0xD0 && marker <= 0xD7):
			// A second SOI, a stuffed zero or a restart marker outside entropy-coded data.
			return nil, malformed(JPEG, "unexpected marker 0x%02X at byte %d", marker, i-1)
		case marker == markerTEM:
			out = append(out, 0xFF, marker)
			continue
		}
		if i+2 > len(data) {
			return nil, malformed(JPEG, "segment 0x%02X has no length", marker)
		}
		n := int(data[i])<<8 | int(data[i+1])
		if n < 2 || i+n > len(data) {
			return nil, malformed(JPEG, "segment 0x%02X at byte %d: length %d runs past the end", marker, i-2, n)
		}
		payload := data[i+2 : i+n]
		if keepJPEGSegment(marker, payload) {
			out = append(out, 0xFF, marker)
			out = append(out, data[i:i+n]...)
		}
		i += n
		if marker != markerSOS {
			continue
		}
		// Entropy-coded data runs to the next marker that is neither a stuffed zero (FF 00)
		// nor a restart marker (FF D0–D7).
		start := i
		for {
			if i+1 >= len(data) {
				return nil, malformed(JPEG, "scan data runs past the end (no EOI)")
			}
			if data[i] == 0xFF {
				next := data[i+1]
				if next != 0x00 && (next < 0xD0 || next > 0xD7) && next != 0xFF {
					break
				}
				if next == 0xFF {
					// Fill bytes before a marker: the marker starts at the last 0xFF.
					j := i + 1
					for j < len(data) && data[j] == 0xFF {
						j++
					}
					if j < len(data) && data[j] != 0x00 && (data[j] < 0xD0 || data[j] > 0xD7) {
						break
					}
					i = j
					continue
				}
				i += 2
				continue
			}
			i++
		}
		out = append(out, data[start:i]...)
	}
}
