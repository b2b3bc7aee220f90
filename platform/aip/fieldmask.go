package aip

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// FieldMaskError is an update mask the caller must fix.
type FieldMaskError struct{ Msg string }

func (e *FieldMaskError) Error() string { return e.Msg }

// ApplyFieldMask copies the fields named by mask from src into dst, both messages of the same
// type (AIP-134). Paths are top-level fields or one level into a message field ("contact.phone").
// A nil or empty mask, or "*", means every field in updatable. Paths outside updatable are
// refused, so output-only and immutable fields cannot be changed through a mask.
func ApplyFieldMask(dst, src proto.Message, mask *fieldmaskpb.FieldMask, updatable []string) error {
	paths := mask.GetPaths()
	if len(paths) == 0 || (len(paths) == 1 && paths[0] == "*") {
		paths = updatable
	}
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	for _, p := range paths {
		top, _, _ := strings.Cut(p, ".")
		if !slices.Contains(updatable, p) && !slices.Contains(updatable, top) {
			return &FieldMaskError{Msg: fmt.Sprintf("path %q cannot be updated; updatable: %s", p, strings.Join(updatable, ", "))}
		}
		if err := copyPath(d, s, p); err != nil {
			return err
		}
	}
	return nil
}

func copyPath(dst, src protoreflect.Message, path string) error {
	name, rest, nested := strings.Cut(path, ".")
	fd := dst.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		return &FieldMaskError{Msg: fmt.Sprintf("path %q names no field of %s", path, dst.Descriptor().Name())}
	}
	if !nested {
		if src.Has(fd) {
			dst.Set(fd, src.Get(fd))
		} else {
			dst.Clear(fd)
		}
		return nil
	}
	if fd.Message() == nil || fd.IsList() || fd.IsMap() {
		return &FieldMaskError{Msg: fmt.Sprintf("path %q goes into a field that is not a message", path)}
	}
	if !src.Has(fd) {
		if dst.Has(fd) {
			sub := dst.Mutable(fd).Message()
			return copyPath(sub, sub.Type().New(), rest)
		}
		return nil
	}
	return copyPath(dst.Mutable(fd).Message(), src.Get(fd).Message(), rest)
}
