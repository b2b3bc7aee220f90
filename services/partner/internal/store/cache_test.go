package store_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/services/partner/internal/store"
)

// Own copies field by field: a field added to Partner or PartnerGroup and not to Own would
// silently go missing from search results. Every field is set here, so this fails first.
func TestOwnCopiesEveryField(t *testing.T) {
	for _, party := range []store.Party{&partnerv1.Partner{}, &partnerv1.PartnerGroup{}} {
		fillEveryField(t, party.ProtoReflect())
		full := store.Candidate{Party: party, Version: 3}.Own(true)
		if !proto.Equal(full.Party, party) || full.Version != 3 {
			t.Errorf("%T: Own(true) = %v, want %v", party, full.Party, party)
		}
		want := proto.Clone(party)
		want.ProtoReflect().Clear(want.ProtoReflect().Descriptor().Fields().ByName("status_history"))
		if basic := (store.Candidate{Party: party}).Own(false); !proto.Equal(basic.Party, want) {
			t.Errorf("%T: Own(false) = %v, want %v", party, basic.Party, want)
		}
	}
}

func fillEveryField(t *testing.T, m protoreflect.Message) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			t.Fatalf("%s: a map field; teach fillEveryField maps", fd.FullName())
		case fd.IsList() && fd.Message() != nil:
			m.Mutable(fd).List().AppendMutable()
		case fd.IsList():
			m.Mutable(fd).List().Append(scalar(t, fd))
		case fd.Message() != nil:
			m.Mutable(fd)
		default:
			m.Set(fd, scalar(t, fd))
		}
	}
}

func scalar(t *testing.T, fd protoreflect.FieldDescriptor) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.StringKind:
		return protoreflect.ValueOfString("x")
	case protoreflect.EnumKind:
		return protoreflect.ValueOfEnum(1)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(1)
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(1)
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte{1})
	}
	t.Fatalf("%s: kind %v; teach scalar it", fd.FullName(), fd.Kind())
	return protoreflect.Value{}
}
