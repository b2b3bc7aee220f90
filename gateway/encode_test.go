package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	typev1 "github.com/jiayuan/jiayuan/gen/jiayuan/type/v1"
)

// TestEncoderMatchesProtojson holds the encoder to protojson over every message of our API
// (responses and everything they hold), filled at random many times: the same JSON once
// parsed, in both modes (every field, set fields only), and the same refusal where protojson
// refuses.
func TestEncoderMatchesProtojson(t *testing.T) {
	out := protojson.MarshalOptions{EmitDefaultValues: true}
	enc := &encoder{opts: out}
	var types []protoreflect.MessageType
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if strings.HasPrefix(string(mt.Descriptor().FullName()), "jiayuan.") {
			types = append(types, mt)
		}
		return true
	})
	if len(types) < 100 {
		t.Fatalf("only %d jiayuan message types registered; the gateway should link every service's", len(types))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, mt := range types {
		for i := range 40 {
			m := mt.New()
			if i > 0 { // the first is empty
				fill(r, m, 0)
			}
			for _, setOnly := range []bool{false, true} {
				opts := out
				if setOnly {
					opts.EmitDefaultValues = false
				}
				want, wantErr := opts.Marshal(m.Interface())
				got, gotErr := enc.Marshal(m.Interface(), setOnly)
				if (wantErr != nil) != (gotErr != nil) {
					t.Fatalf("%s #%d setOnly=%v: protojson error %v, encoder error %v", mt.Descriptor().FullName(), i, setOnly, wantErr, gotErr)
				}
				if wantErr != nil {
					continue
				}
				if !sameJSON(t, want, got) {
					t.Fatalf("%s #%d setOnly=%v:\nprotojson %s\nencoder   %s", mt.Descriptor().FullName(), i, setOnly, want, got)
				}
			}
		}
	}
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	for _, p := range []struct {
		in  []byte
		out *any
	}{{a, &x}, {b, &y}} {
		dec := json.NewDecoder(bytes.NewReader(p.in))
		dec.UseNumber() // numbers compared as written
		if err := dec.Decode(p.out); err != nil {
			t.Fatalf("not JSON: %v: %s", err, p.in)
		}
	}
	return reflect.DeepEqual(x, y)
}

// fill sets a random subset of m's fields to random values, the awkward ones included: zero,
// negative, NaN and infinities, control characters and invalid UTF-8, unknown enum numbers,
// timestamps out of range.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	if m.Descriptor().FullName() == "google.protobuf.Any" {
		a, _ := anypb.New(&typev1.WeeklyWindow{StartTime: "15:00"})
		proto.Merge(m.Interface(), a)
		return
	}
	fds := m.Descriptor().Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if r.IntN(3) == 0 {
			continue
		}
		if fd.Kind() == protoreflect.MessageKind && depth >= 3 {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				if fd.Kind() == protoreflect.MessageKind {
					e := l.NewElement()
					fill(r, e.Message(), depth+1)
					l.Append(e)
				} else {
					l.Append(scalar(r, fd))
				}
			}
		case fd.IsMap():
			mm := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := scalar(r, fd.MapKey()).MapKey()
				if fd.MapValue().Kind() == protoreflect.MessageKind {
					v := mm.NewValue()
					fill(r, v.Message(), depth+1)
					mm.Set(k, v)
				} else {
					mm.Set(k, scalar(r, fd.MapValue()))
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			fill(r, m.Mutable(fd).Message(), depth+1)
		default:
			m.Set(fd, scalar(r, fd))
		}
	}
}

func scalar(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	pick := func(n int) int { return r.IntN(n) }
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(pick(2) == 0)
	case protoreflect.StringKind:
		return protoreflect.ValueOfString([]string{"", "二桥西社区", "a\"b\\c", "tab\tnl\n\x01\x1f", "\u2028<&>", "bad\xffutf8", "15:00"}[pick(7)])
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{byte(pick(256)), 0, 0xff})
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32([]int32{0, -1, 7, math.MaxInt32, math.MinInt32}[pick(5)])
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		// Seconds of a timestamp too: in range mostly, sometimes past what RFC 3339 writes.
		return protoreflect.ValueOfInt64([]int64{0, -1, 1796140800, 1e9 + 7, math.MaxInt64, math.MinInt64}[pick(6)])
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32([]uint32{0, 1, math.MaxUint32}[pick(3)])
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64([]uint64{0, 1, math.MaxUint64}[pick(3)])
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32([]float32{0, -1.5, 1e-7, 3.4e38, float32(math.Inf(1)), float32(math.NaN()), 0.1}[pick(7)])
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64([]float64{0, -2.25, 1e-7, 1e21, math.Inf(-1), math.NaN(), 0.1}[pick(7)])
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if pick(5) == 0 {
			return protoreflect.ValueOfEnum(999) // a number this build does not know
		}
		return protoreflect.ValueOfEnum(vals.Get(pick(vals.Len())).Number())
	}
	panic("no scalar for " + fd.Kind().String())
}

// TestEncoderMapsAndWellKnownTypes covers what our API has few of: maps keyed by every kind a
// map key may be (their entries in key order, as protojson writes them), through a message
// built here to hold them, and the well-known types.
func TestEncoderMapsAndWellKnownTypes(t *testing.T) {
	enc := &encoder{opts: protojson.MarshalOptions{EmitDefaultValues: true}}
	r := rand.New(rand.NewPCG(3, 4))
	types := []protoreflect.MessageType{
		dynamicpb.NewMessageType(mapsMessage(t)),
		(&structpb.Struct{}).ProtoReflect().Type(), (&structpb.Value{}).ProtoReflect().Type(),
		(&fieldmaskpb.FieldMask{}).ProtoReflect().Type(), (&durationpb.Duration{}).ProtoReflect().Type(),
		(&timestamppb.Timestamp{}).ProtoReflect().Type(), (&wrapperspb.Int64Value{}).ProtoReflect().Type(),
		(&emptypb.Empty{}).ProtoReflect().Type(), (&anypb.Any{}).ProtoReflect().Type(),
	}
	for _, mt := range types {
		for i := range 20 {
			m := mt.New()
			switch v := m.Interface().(type) {
			case *structpb.Struct:
				s, _ := structpb.NewStruct(map[string]any{"b": 1.5, "a": []any{"x", true, nil}, "c": map[string]any{"d": "二桥"}})
				proto.Merge(v, s)
			case *structpb.Value:
				proto.Merge(v, structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(float64(i)), structpb.NewStringValue("x")}}))
			default:
				if i > 0 {
					fill(r, m, 2)
				}
			}
			want, wantErr := enc.opts.Marshal(m.Interface())
			got, gotErr := enc.Marshal(m.Interface(), false)
			if (wantErr != nil) != (gotErr != nil) || wantErr == nil && !sameJSON(t, want, got) {
				t.Fatalf("%s #%d: protojson %s %v, encoder %s %v", mt.Descriptor().FullName(), i, want, wantErr, got, gotErr)
			}
			if mt.Descriptor().Name() == "Maps" && wantErr == nil && !bytes.Equal(bytes.ReplaceAll(want, []byte(" "), nil), got) {
				// Maps' entries in the same order too (protojson only adds spaces at random).
				t.Fatalf("map order: protojson %s, encoder %s", want, got)
			}
		}
	}
}

// mapsMessage is a message with a map for each kind of key.
func mapsMessage(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	entry := func(name string, key descriptorpb.FieldDescriptorProto_Type) *descriptorpb.DescriptorProto {
		return &descriptorpb.DescriptorProto{
			Name:    proto.String(name),
			Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
			Field: []*descriptorpb.FieldDescriptorProto{
				{Name: proto.String("key"), Number: proto.Int32(1), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: key.Enum()},
				{Name: proto.String("value"), Number: proto.Int32(2), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()},
			},
		}
	}
	keys := []descriptorpb.FieldDescriptorProto_Type{
		descriptorpb.FieldDescriptorProto_TYPE_BOOL, descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_SINT64,
		descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_FIXED64, descriptorpb.FieldDescriptorProto_TYPE_STRING,
	}
	msg := &descriptorpb.DescriptorProto{Name: proto.String("Maps")}
	for i, k := range keys {
		entryName := fmt.Sprintf("M%dEntry", i)
		msg.NestedType = append(msg.NestedType, entry(entryName, k))
		msg.Field = append(msg.Field, &descriptorpb.FieldDescriptorProto{
			Name: proto.String(fmt.Sprintf("m%d", i)), JsonName: proto.String(fmt.Sprintf("m%d", i)), Number: proto.Int32(int32(i + 1)),
			Label: descriptorpb.FieldDescriptorProto_LABEL_REPEATED.Enum(), Type: descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
			TypeName: proto.String(".enctest.Maps." + entryName),
		})
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("enctest/maps.proto"), Package: proto.String("enctest"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{msg},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().Get(0)
}

func BenchmarkSearchResponseJSON(b *testing.B) {
	resp := &partnerv1.SearchPartnersResponse{TotalSize: 812, NextPageToken: "CgZzZWFyY2gQFA"}
	for i := range 20 {
		p := &partnerv1.Partner{
			Name: "partners/p" + string(rune('a'+i)), DisplayName: "王老师的课后托管", RegionCode: "450103001001",
			Status: partnerv1.PartnerStatus_PARTNER_STATUS_ACTIVE, Etag: "W/\"12\"",
			ServiceAreas: []string{"450103001001", "450103001"},
			Availability: []*typev1.WeeklyWindow{{Weekday: 3, StartTime: "15:00", EndTime: "18:00"}},
		}
		for j := range 3 {
			p.Capabilities = append(p.Capabilities, &partnerv1.Capability{Category: typev1.Category(1 + j), Tags: []string{"志愿服务", "课后托管"}})
		}
		resp.Results = append(resp.Results, &partnerv1.SearchPartnersResult{
			Party: &partnerv1.SearchPartnersResult_Partner{Partner: p}, Score: 87,
			Reasons: []string{"capability childcare", "serves 二桥西社区", "available Wed 15:00–18:00"},
		})
	}
	opts := protojson.MarshalOptions{EmitDefaultValues: true}
	b.Run("protojson", func(b *testing.B) {
		for b.Loop() {
			if _, err := opts.Marshal(resp); err != nil {
				b.Fatal(err)
			}
		}
	})
	enc := &encoder{opts: opts}
	b.Run("encoder", func(b *testing.B) {
		for b.Loop() {
			if _, err := enc.Marshal(resp, false); err != nil {
				b.Fatal(err)
			}
		}
	})
}
