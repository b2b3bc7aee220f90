package photo

import (
	"encoding/binary"
	"slices"
)

// HEIC is an ISO base media file (ISOBMFF, ISO/IEC 14496-12) holding HEIF items (ISO/IEC
// 23008-12): the picture and its metadata are items, listed in the file-level 'meta' box's
// item information ('iinf') and located by its item locations ('iloc') as byte ranges of the
// file (usually in 'mdat') or of the meta box's own item data ('idat'). Removing an item would
// shift every offset after it; instead, the bytes of each metadata item — 'Exif', XMP and any
// other 'mime' item, 'uri ' items — are overwritten with zeros, so every offset stays valid and
// the picture's items are untouched.

// heicBrands are the brands of HEVC-coded still images. Image sequences (hevc, hevx, msf1)
// carry their metadata in movie boxes as well, and are not photos: they are refused.
var heicBrands = []string{"heic", "heix", "heim", "heis"}

// isHEIC reports whether data starts with a file type box naming a HEIC still image, as its
// major brand or, under the general 'mif1' brand, as a compatible brand.
func isHEIC(data []byte) bool {
	if len(data) < 16 || string(data[4:8]) != "ftyp" {
		return false
	}
	size := int(binary.BigEndian.Uint32(data))
	if size < 16 || size > len(data) {
		return false
	}
	major := string(data[8:12])
	if slices.Contains(heicBrands, major) {
		return true
	}
	if major != "mif1" {
		return false
	}
	for i := 16; i+4 <= size; i += 4 {
		if slices.Contains(heicBrands, string(data[i:i+4])) {
			return true
		}
	}
	return false
}

// box is one box: its type and where it and its payload are in the file.
type box struct {
	typ              string
	start, body, end int // the box, its payload, one past its end
}

// boxes parses the boxes laid end to end in data[from:to].
func boxes(data []byte, from, to int) ([]box, error) {
	var out []box
	for i := from; i < to; {
		if to-i < 8 {
			return nil, malformed(HEIC, "a box header at byte %d runs past its parent", i)
		}
		size := uint64(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		body := i + 8
		switch size {
		case 0: // to the end of the parent
			size = uint64(to - i)
		case 1: // a 64-bit size follows the type
			if to-i < 16 {
				return nil, malformed(HEIC, "box %q at byte %d: its large size runs past its parent", typ, i)
			}
			size = binary.BigEndian.Uint64(data[i+8:])
			body = i + 16
		}
		if size < uint64(body-i) || size > uint64(to-i) {
			return nil, malformed(HEIC, "box %q at byte %d: size %d does not fit its parent", typ, i, size)
		}
		end := i + int(size)
		out = append(out, box{typ: typ, start: i, body: body, end: end})
		i = end
	}
	return out, nil
}

// reader reads big-endian fields of a box's payload, remembering the first overrun.
type reader struct {
	data []byte
	pos  int
	end  int
	bad  bool
}

func (r *reader) uint(n int) uint64 {
	if r.bad || n < 0 || n > 8 || r.end-r.pos < n {
		r.bad = true
		return 0
	}
	var v uint64
	for _, b := range r.data[r.pos : r.pos+n] {
		v = v<<8 | uint64(b)
	}
	r.pos += n
	return v
}

func (r *reader) str() string {
	if r.bad {
		return ""
	}
	for j := r.pos; j < r.end; j++ {
		if r.data[j] == 0 {
			s := string(r.data[r.pos:j])
			r.pos = j + 1
			return s
		}
	}
	r.bad = true
	return ""
}

// item is what iinf says of an item.
type item struct {
	typ, contentType string
}

// metadata reports whether the item carries metadata rather than a picture: EXIF, XMP and any
// other MIME-typed content, or a URI.
func (it item) metadata() bool {
	return it.typ == "Exif" || it.typ == "mime" || it.typ == "uri "
}

// extent is one byte range of an item.
type extent struct{ offset, length uint64 }

// location is what iloc says of an item.
type location struct {
	method, dataRef uint64
	base            uint64
	extents         []extent
}

func stripHEIC(data []byte) ([]byte, error) {
	top, err := boxes(data, 0, len(data))
	if err != nil {
		return nil, err
	}
	if len(top) == 0 || top[0].typ != "ftyp" {
		return nil, malformed(HEIC, "the first box is not ftyp")
	}
	out := slices.Clone(data)
	var meta *box
	var mdats []box
	for k := range top {
		b := top[k]
		switch b.typ {
		case "meta":
			if meta != nil {
				return nil, malformed(HEIC, "more than one file-level meta box")
			}
			meta = &top[k]
		case "mdat":
			mdats = append(mdats, b)
		case "moov":
			return nil, malformed(HEIC, "an image sequence (moov box), not a still image")
		case "uuid":
			// Vendors' extension boxes (XMP in some writers): keep the 16-byte UUID, zero the
			// rest; no decoder needs them.
			if b.end-b.body > 16 {
				clear(out[b.body+16 : b.end])
			}
		}
	}
	if meta == nil {
		return nil, malformed(HEIC, "no meta box")
	}
	// meta is a full box: version and flags, then its children.
	if meta.end-meta.body < 4 {
		return nil, malformed(HEIC, "meta box too short")
	}
	children, err := boxes(data, meta.body+4, meta.end)
	if err != nil {
		return nil, err
	}
	var iinf, iloc, idat *box
	for k := range children {
		c := &children[k]
		var slot **box
		switch c.typ {
		case "iinf":
			slot = &iinf
		case "iloc":
			slot = &iloc
		case "idat":
			slot = &idat
		default:
			continue
		}
		if *slot != nil {
			return nil, malformed(HEIC, "more than one %s box", c.typ)
		}
		*slot = c
	}
	if iinf == nil || iloc == nil {
		return nil, malformed(HEIC, "no item information (iinf) or item locations (iloc)")
	}
	items, err := parseIinf(data, *iinf)
	if err != nil {
		return nil, err
	}
	locs, err := parseIloc(data, *iloc)
	if err != nil {
		return nil, err
	}
	for id, it := range items {
		if !it.metadata() {
			continue
		}
		loc, ok := locs[id]
		if !ok {
			return nil, malformed(HEIC, "metadata item %d (%s) has no location", id, it.typ)
		}
		if err := wipe(out, loc, idat, mdats, id); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// wipe zeroes the extents of item id, located by loc, in out.
func wipe(out []byte, loc location, idat *box, mdats []box, id uint64) error {
	for _, e := range loc.extents {
		if e.length == 0 {
			// Zero means "to the end of the data source": nothing a metadata item is.
			return malformed(HEIC, "metadata item %d has an extent of unstated length", id)
		}
		start := loc.base + e.offset
		if start < loc.base || start+e.length < start {
			return malformed(HEIC, "metadata item %d: offset overflows", id)
		}
		var lo, hi uint64
		switch {
		case loc.method == 0 && loc.dataRef == 0:
			// File offsets: the range must lie within one media data box.
			in := false
			for _, m := range mdats {
				if start >= uint64(m.body) && start+e.length <= uint64(m.end) {
					in = true
					break
				}
			}
			if !in {
				return malformed(HEIC, "metadata item %d lies outside the media data", id)
			}
			lo, hi = start, start+e.length
		case loc.method == 1 && idat != nil:
			// Offsets into the meta box's item data.
			if start+e.length > uint64(idat.end-idat.body) {
				return malformed(HEIC, "metadata item %d runs past the item data box", id)
			}
			lo, hi = uint64(idat.body)+start, uint64(idat.body)+start+e.length
		default:
			// In another file, or built from other items: not locatable here.
			return malformed(HEIC, "metadata item %d is stored in a way that cannot be located (construction method %d, data reference %d)", id, loc.method, loc.dataRef)
		}
		clear(out[lo:hi])
	}
	return nil
}

// parseIinf reads the item information box: each item's id and type, and the content type of
// MIME items.
func parseIinf(data []byte, b box) (map[uint64]item, error) {
	r := &reader{data: data, pos: b.body, end: b.end}
	version := r.uint(1)
	r.uint(3) // flags
	count := r.uint(2)
	if version != 0 {
		count = count<<16 | r.uint(2)
	}
	if r.bad {
		return nil, malformed(HEIC, "item information box too short")
	}
	entries, err := boxes(data, r.pos, b.end)
	if err != nil {
		return nil, err
	}
	items := map[uint64]item{}
	for _, e := range entries {
		if e.typ != "infe" {
			continue
		}
		id, it, err := parseInfe(data, e)
		if err != nil {
			return nil, err
		}
		if _, dup := items[id]; dup {
			return nil, malformed(HEIC, "item %d is described twice", id)
		}
		items[id] = it
	}
	if uint64(len(items)) != count {
		return nil, malformed(HEIC, "item information lists %d items, says %d", len(items), count)
	}
	return items, nil
}

func parseInfe(data []byte, b box) (uint64, item, error) {
	r := &reader{data: data, pos: b.body, end: b.end}
	version := r.uint(1)
	r.uint(3) // flags
	var id uint64
	var it item
	switch {
	case version <= 1:
		// Versions 0 and 1 describe files: a name and a MIME type, no item type.
		id = r.uint(2)
		r.uint(2) // protection index
		r.str()   // name
		it = item{typ: "mime", contentType: r.str()}
	case version == 2 || version == 3:
		if version == 2 {
			id = r.uint(2)
		} else {
			id = r.uint(4)
		}
		r.uint(2) // protection index
		it.typ = string(binary.BigEndian.AppendUint32(nil, uint32(r.uint(4))))
		r.str() // name
		if it.typ == "mime" {
			it.contentType = r.str()
		}
	default:
		return 0, item{}, malformed(HEIC, "item information entry version %d", version)
	}
	if r.bad {
		return 0, item{}, malformed(HEIC, "item information entry at byte %d too short", b.start)
	}
	return id, it, nil
}

// parseIloc reads the item location box.
func parseIloc(data []byte, b box) (map[uint64]location, error) {
	r := &reader{data: data, pos: b.body, end: b.end}
	version := r.uint(1)
	r.uint(3) // flags
	if version > 2 {
		return nil, malformed(HEIC, "item location box version %d", version)
	}
	sizes := r.uint(2)
	offsetSize, lengthSize, baseSize, indexSize := int(sizes>>12), int(sizes>>8&0xF), int(sizes>>4&0xF), int(sizes&0xF)
	if version == 0 {
		indexSize = 0 // reserved
	}
	for _, s := range []int{offsetSize, lengthSize, baseSize, indexSize} {
		if s != 0 && s != 4 && s != 8 {
			return nil, malformed(HEIC, "item location field size %d", s)
		}
	}
	var count uint64
	if version < 2 {
		count = r.uint(2)
	} else {
		count = r.uint(4)
	}
	locs := map[uint64]location{}
	for n := uint64(0); n < count && !r.bad; n++ {
		var id uint64
		if version < 2 {
			id = r.uint(2)
		} else {
			id = r.uint(4)
		}
		var loc location
		if version >= 1 {
			loc.method = r.uint(2) & 0xF
		}
		loc.dataRef = r.uint(2)
		loc.base = r.uint(baseSize)
		extents := r.uint(2)
		for k := uint64(0); k < extents && !r.bad; k++ {
			r.uint(indexSize)
			loc.extents = append(loc.extents, extent{offset: r.uint(offsetSize), length: r.uint(lengthSize)})
		}
		if _, dup := locs[id]; dup {
			return nil, malformed(HEIC, "item %d is located twice", id)
		}
		locs[id] = loc
	}
	if r.bad {
		return nil, malformed(HEIC, "item location box too short")
	}
	return locs, nil
}
