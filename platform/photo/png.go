package photo

import (
	"encoding/binary"
	"hash/crc32"
)

// pngAncillaryKept are the ancillary chunks that stay: how the picture is shown (colour space,
// gamma, transparency, background, physical pixel size, palette histogram) and animation
// (APNG). Every other ancillary chunk goes: eXIf (EXIF, with GPS and camera), tEXt, zTXt and
// iTXt (comments, XMP, software, authors), tIME (when it was made), and vendors' private
// chunks, which may hold anything. Critical chunks (IHDR, PLTE, IDAT, IEND) are the image and
// always stay.
var pngAncillaryKept = map[string]bool{
	"cHRM": true, "gAMA": true, "iCCP": true, "sBIT": true, "sRGB": true, "cICP": true,
	"mDCV": true, "cLLI": true, "bKGD": true, "hIST": true, "tRNS": true, "pHYs": true,
	"sPLT": true, "acTL": true, "fcTL": true, "fdAT": true,
}

// stripPNG copies the signature and the chunks that stay, unchanged (so their CRCs stay
// valid), up to IEND; what follows IEND is dropped. Every chunk's CRC is checked: a damaged
// file is refused rather than guessed at.
func stripPNG(data []byte) ([]byte, error) {
	out := make([]byte, 0, len(data))
	out = append(out, pngSignature...)
	i := len(pngSignature)
	first := true
	for {
		if i+8 > len(data) {
			return nil, malformed(PNG, "ends before IEND")
		}
		n := binary.BigEndian.Uint32(data[i:])
		typ := data[i+4 : i+8]
		if n > 1<<31-1 || uint64(i)+12+uint64(n) > uint64(len(data)) {
			return nil, malformed(PNG, "chunk at byte %d runs past the end", i)
		}
		end := i + 12 + int(n)
		for _, c := range typ {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') {
				return nil, malformed(PNG, "chunk at byte %d has an invalid type", i)
			}
		}
		if crc32.ChecksumIEEE(data[i+4:end-4]) != binary.BigEndian.Uint32(data[end-4:]) {
			return nil, malformed(PNG, "chunk %s at byte %d: CRC mismatch", typ, i)
		}
		name := string(typ)
		if first && name != "IHDR" {
			return nil, malformed(PNG, "the first chunk is %s, not IHDR", name)
		}
		first = false
		critical := typ[0] >= 'A' && typ[0] <= 'Z'
		if critical || pngAncillaryKept[name] {
			out = append(out, data[i:end]...)
		}
		i = end
		if name == "IEND" {
			return out, nil
		}
	}
}
