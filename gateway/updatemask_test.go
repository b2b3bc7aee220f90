package gateway

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	_ "github.com/jiayuan/jiayuan/gen/jiayuan/demand/v1"
	_ "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
)

// TestEveryUpdateRPCTakesJSONMaskPaths walks every Update RPC of every jiayuan service: a mask
// of the resource's JSON names plus etag reaches the service as proto names without etag.
func TestEveryUpdateRPCTakesJSONMaskPaths(t *testing.T) {
	var seen int
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "jiayuan.") {
			return true
		}
		for i := range fd.Services().Len() {
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				md := methods.Get(j)
				if !strings.HasPrefix(string(md.Name()), "Update") {
					continue
				}
				seen++
				t.Run(string(md.FullName()), func(t *testing.T) {
					req := dynamicpb.NewMessage(md.Input())
					resource := md.Input().Fields().ByNumber(1) // the resource, by AIP-134's shape
					var jsonPaths, want []string
					for k := range resource.Message().Fields().Len() {
						f := resource.Message().Fields().Get(k)
						if f.Name() == "etag" || f.Name() == "name" {
							continue
						}
						jsonPaths = append(jsonPaths, f.JSONName())
						want = append(want, string(f.Name()))
					}
					mask := &fieldmaskpb.FieldMask{Paths: append(slices.Clone(jsonPaths), "etag")}
					maskField := md.Input().Fields().ByName("update_mask")
					if maskField == nil {
						t.Fatalf("%s has no update_mask", md.Input().FullName())
					}
					req.Set(maskField, protoreflect.ValueOfMessage(mask.ProtoReflect()))
					if err := rewriteUpdateMask(req); err != nil {
						t.Fatal(err)
					}
					got := req.Get(maskField).Message().Interface().(*fieldmaskpb.FieldMask).GetPaths()
					if !slices.Equal(got, want) {
						t.Errorf("mask %q became %q, want %q", jsonPaths, got, want)
					}
				})
			}
		}
		return true
	})
	if seen < 5 {
		t.Errorf("found %d Update RPCs, want the 5 of partner and demand", seen)
	}
}
