package gateway

import (
	"encoding/base64"
	"errors"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// encoder writes a response as protojson does with the gateway's options (lowerCamel names,
// every field without presence out even when zero), to the same JSON once parsed, at a lower
// cost: protojson sorts each message's fields and walks them through ranger wrappers on every
// call, which made JSON encoding a fifth of a REST search's CPU. The encoder keeps one plan
// per message type instead and writes straight into one buffer. What it does not write itself
// (the well-known types other than Timestamp) it has protojson write; what it would refuse (a
// string that is not UTF-8, a timestamp out of range) it hands over whole to protojson, whose
// error is then the answer.
type encoder struct {
	// opts is protojson's configuration, used for what the encoder hands over.
	opts protojson.MarshalOptions
	// plans holds a *plan per message full name.
	plans sync.Map
}

// plan is what the encoder needs of a message type, in declaration order (protojson's order).
type plan struct {
	fields []fieldPlan
}

type fieldPlan struct {
	fd protoreflect.FieldDescriptor
	// key is `"jsonName":`.
	key string
	// always says the field is written even when unset: it has no presence and is in no
	// oneof (protojson's EmitDefaultValues).
	always bool
}

// errHandOver makes Marshal give the whole message to protojson.
var errHandOver = errors.New("gateway: encode with protojson")

// Marshal returns m's JSON; setOnly leaves out every unset field (a read-masked response).
func (e *encoder) Marshal(m proto.Message, setOnly bool) ([]byte, error) {
	buf := make([]byte, 0, 1024)
	out, err := e.message(buf, m.ProtoReflect(), setOnly)
	if err != nil {
		opts := e.opts
		if setOnly {
			opts.EmitDefaultValues, opts.EmitUnpopulated = false, false
		}
		return opts.Marshal(m)
	}
	return out, nil
}

func (e *encoder) planOf(md protoreflect.MessageDescriptor) *plan {
	if p, ok := e.plans.Load(md.FullName()); ok {
		return p.(*plan)
	}
	fds := md.Fields()
	p := &plan{fields: make([]fieldPlan, fds.Len())}
	for i := range fds.Len() {
		fd := fds.Get(i)
		name := fd.JSONName()
		if e.opts.UseProtoNames {
			name = string(fd.Name())
		}
		key, _ := appendString(nil, name)
		p.fields[i] = fieldPlan{fd: fd, key: string(key) + ":", always: !fd.HasPresence() && fd.ContainingOneof() == nil}
	}
	actual, _ := e.plans.LoadOrStore(md.FullName(), p)
	return actual.(*plan)
}

func (e *encoder) message(out []byte, m protoreflect.Message, setOnly bool) ([]byte, error) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return appendTimestamp(out, m)
	}
	if md.FullName().Parent() == "google.protobuf" {
		// The other well-known types have JSON forms of their own (a duration's "1.5s", a
		// struct's object): rare in responses, and protojson's to write.
		opts := e.opts
		if setOnly {
			opts.EmitDefaultValues, opts.EmitUnpopulated = false, false
		}
		b, err := opts.Marshal(m.Interface())
		if err != nil {
			return nil, err
		}
		return append(out, b...), nil
	}
	p := e.planOf(md)
	out = append(out, '{')
	first := true
	var err error
	for i := range p.fields {
		f := &p.fields[i]
		if !m.Has(f.fd) && (setOnly || !f.always) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = append(out, f.key...)
		v := m.Get(f.fd)
		switch {
		case f.fd.IsList():
			out, err = e.list(out, f.fd, v.List(), setOnly)
		case f.fd.IsMap():
			out, err = e.mapValue(out, f.fd, v.Map(), setOnly)
		default:
			out, err = e.singular(out, f.fd, v, setOnly)
		}
		if err != nil {
			return nil, err
		}
	}
	return append(out, '}'), nil
}

func (e *encoder) list(out []byte, fd protoreflect.FieldDescriptor, l protoreflect.List, setOnly bool) ([]byte, error) {
	out = append(out, '[')
	var err error
	for i := range l.Len() {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = e.singular(out, fd, l.Get(i), setOnly); err != nil {
			return nil, err
		}
	}
	return append(out, ']'), nil
}

func (e *encoder) mapValue(out []byte, fd protoreflect.FieldDescriptor, m protoreflect.Map, setOnly bool) ([]byte, error) {
	keys := make([]protoreflect.MapKey, 0, m.Len())
	m.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
		keys = append(keys, k)
		return true
	})
	// protojson writes a map's entries in key order.
	slices.SortFunc(keys, compareMapKeys)
	out = append(out, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		if out, err = appendString(out, k.String()); err != nil {
			return nil, err
		}
		out = append(out, ':')
		if out, err = e.singular(out, fd.MapValue(), m.Get(k), setOnly); err != nil {
			return nil, err
		}
	}
	return append(out, '}'), nil
}

func compareMapKeys(a, b protoreflect.MapKey) int {
	switch x := a.Interface().(type) {
	case bool:
		y := b.Bool()
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case int32, int64:
		return compareOrdered(a.Int(), b.Int())
	case uint32, uint64:
		return compareOrdered(a.Uint(), b.Uint())
	}
	return strings.Compare(a.String(), b.String())
}

func compareOrdered[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (e *encoder) singular(out []byte, fd protoreflect.FieldDescriptor, v protoreflect.Value, setOnly bool) ([]byte, error) {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return strconv.AppendBool(out, v.Bool()), nil
	case protoreflect.StringKind:
		return appendString(out, v.String())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return strconv.AppendInt(out, v.Int(), 10), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return strconv.AppendUint(out, v.Uint(), 10), nil
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		// 64-bit integers are strings in proto's JSON: JavaScript's numbers lose them.
		out = append(out, '"')
		return append(strconv.AppendInt(out, v.Int(), 10), '"'), nil
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		out = append(out, '"')
		return append(strconv.AppendUint(out, v.Uint(), 10), '"'), nil
	case protoreflect.FloatKind:
		return appendFloat(out, v.Float(), 32), nil
	case protoreflect.DoubleKind:
		return appendFloat(out, v.Float(), 64), nil
	case protoreflect.BytesKind:
		out = append(out, '"')
		return append(base64.StdEncoding.AppendEncode(out, v.Bytes()), '"'), nil
	case protoreflect.EnumKind:
		if fd.Enum().FullName() == "google.protobuf.NullValue" {
			return append(out, "null"...), nil
		}
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return appendString(out, string(ev.Name()))
		}
		return strconv.AppendInt(out, int64(v.Enum()), 10), nil
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return e.message(out, v.Message(), setOnly)
	}
	return nil, errHandOver
}

// appendFloat writes a float as protojson does (encoding/json's choice of notation).
func appendFloat(out []byte, n float64, bitSize int) []byte {
	switch {
	case math.IsNaN(n):
		return append(out, `"NaN"`...)
	case math.IsInf(n, +1):
		return append(out, `"Infinity"`...)
	case math.IsInf(n, -1):
		return append(out, `"-Infinity"`...)
	}
	format := byte('f')
	if abs := math.Abs(n); abs != 0 {
		if bitSize == 64 && (abs < 1e-6 || abs >= 1e21) ||
			bitSize == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	out = strconv.AppendFloat(out, n, format, -1, bitSize)
	if format == 'e' {
		// e-07 becomes e-7, as encoding/json writes it.
		if n := len(out); n >= 4 && out[n-4] == 'e' && out[n-3] == '-' && out[n-2] == '0' {
			out[n-2] = out[n-1]
			out = out[:n-1]
		}
	}
	return out
}

// appendString writes a JSON string as protojson does; a string that is not UTF-8 is
// protojson's to refuse.
func appendString(out []byte, in string) ([]byte, error) {
	out = append(out, '"')
	for len(in) > 0 {
		i := 0
		for i < len(in) && in[i] >= ' ' && in[i] != '"' && in[i] != '\\' && in[i] < utf8.RuneSelf {
			i++
		}
		out, in = append(out, in[:i]...), in[i:]
		if len(in) == 0 {
			break
		}
		r, n := utf8.DecodeRuneInString(in)
		switch {
		case r == utf8.RuneError && n == 1:
			return nil, errHandOver
		case r == '"' || r == '\\':
			out = append(out, '\\', byte(r))
		case r == '\b':
			out = append(out, `\b`...)
		case r == '\f':
			out = append(out, `\f`...)
		case r == '\n':
			out = append(out, `\n`...)
		case r == '\r':
			out = append(out, `\r`...)
		case r == '\t':
			out = append(out, `\t`...)
		case r < ' ':
			out = append(out, `\u`...)
			out = append(out, "0000"[1+(bits.Len32(uint32(r))-1)/4:]...)
			out = strconv.AppendUint(out, uint64(r), 16)
		default:
			out = append(out, in[:n]...)
		}
		in = in[n:]
	}
	return append(out, '"'), nil
}

// Timestamps bound what RFC 3339 can write: 0001-01-01 to 9999-12-31.
const (
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
)

// appendTimestamp writes a google.protobuf.Timestamp as protojson does: UTC, with 0, 3, 6 or 9
// fractional digits.
func appendTimestamp(out []byte, m protoreflect.Message) ([]byte, error) {
	fds := m.Descriptor().Fields()
	secs, nanos := m.Get(fds.ByNumber(1)).Int(), m.Get(fds.ByNumber(2)).Int()
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos >= 1e9 {
		return nil, errHandOver
	}
	x := time.Unix(secs, nanos).UTC().Format("2006-01-02T15:04:05.000000000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, "000")
	x = strings.TrimSuffix(x, ".000")
	out = append(out, '"')
	out = append(out, x...)
	return append(out, 'Z', '"'), nil
}
