package gateway

import (
	"context"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

// notMaskPaths are fields a PATCH body may carry that are never paths of an update mask: the
// etag is the request's precondition (AIP-154) and the name says which resource (AIP-134).
// grpc-gateway derives the mask from every field in the body, so a client that sends the
// etag it read would otherwise be told the etag "cannot be updated".
var notMaskPaths = map[string]bool{"etag": true, "name": true}

// normalizeUpdateMask is a client interceptor for the upstream calls: in an Update request
// (one with an update_mask FieldMask and one resource message field) it rewrites each mask
// path from the JSON names REST clients use ("attendeeCount") to the proto field names the
// services read ("attendee_count"), and drops etag and name. A mask left with nothing to
// change is refused rather than sent empty, which the services read as "every field".
func normalizeUpdateMask(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	if m, ok := req.(proto.Message); ok {
		if err := rewriteUpdateMask(m.ProtoReflect()); err != nil {
			return err
		}
	}
	return invoker(ctx, method, req, reply, cc, opts...)
}

func rewriteUpdateMask(req protoreflect.Message) error {
	fields := req.Descriptor().Fields()
	maskField := fields.ByName("update_mask")
	if maskField == nil || maskField.Message() == nil ||
		maskField.Message().FullName() != "google.protobuf.FieldMask" || !req.Has(maskField) {
		return nil
	}
	var resource protoreflect.MessageDescriptor
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fd == maskField || fd.Message() == nil || fd.IsList() || fd.IsMap() {
			continue
		}
		if resource != nil {
			return nil // not the AIP-134 shape: leave it to the service
		}
		resource = fd.Message()
	}
	if resource == nil {
		return nil
	}
	mask, ok := req.Get(maskField).Message().Interface().(*fieldmaskpb.FieldMask)
	if !ok || len(mask.GetPaths()) == 0 {
		return nil
	}
	paths := make([]string, 0, len(mask.GetPaths()))
	for _, p := range mask.GetPaths() {
		p = protoPathOf(strings.TrimSpace(p), resource)
		if notMaskPaths[p] {
			continue
		}
		paths = append(paths, p)
	}
	if len(paths) == 0 {
		return badRequest("update_mask", "names no field to change (etag and name are not updatable: the etag is the "+
			"precondition, the name says which resource)").Err()
	}
	mask.Paths = paths
	return nil
}

// protoPathOf converts a dotted path whose segments may be JSON names into proto field names,
// segment by segment through msg's fields. "*" and segments naming no field are kept as they
// are, so the service's refusal names what the client sent.
func protoPathOf(path string, msg protoreflect.MessageDescriptor) string {
	if path == "*" {
		return path
	}
	segs := strings.Split(path, ".")
	for i, s := range segs {
		if msg == nil {
			break
		}
		fd := msg.Fields().ByName(protoreflect.Name(s))
		if fd == nil {
			fd = msg.Fields().ByJSONName(s)
		}
		if fd == nil {
			break
		}
		segs[i] = string(fd.Name())
		msg = fd.Message()
	}
	return strings.Join(segs, ".")
}
