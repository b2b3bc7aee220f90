package apierr

import (
	"errors"

	"buf.build/go/protovalidate"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// ValidateAt checks msg against its proto rules and reports each violation as INVALID_ARGUMENT
// with its field path under field ("demand" + "title" is "demand.title"). An update checks the
// record it would store this way, once, with the paths a create of it would report.
func ValidateAt(field string, msg proto.Message) error {
	if err := protovalidate.Validate(msg); err != nil {
		return fromValidation(field, err)
	}
	return nil
}

// fromValidation is FromValidation with every field path under field (none when empty).
func fromValidation(field string, err error) error {
	var verr *protovalidate.ValidationError
	if !errors.As(err, &verr) {
		return Internal(err)
	}
	vs := make([]FieldViolation, 0, len(verr.Violations))
	for _, v := range verr.Violations {
		desc := v.Proto.GetMessage()
		if desc == "" {
			desc = "violates rule " + v.Proto.GetRuleId()
		}
		path := protovalidate.FieldPathString(v.Proto.GetField())
		switch {
		case field == "":
		case path == "":
			path = field
		default:
			path = field + "." + path
		}
		vs = append(vs, FieldViolation{Field: path, Description: desc})
	}
	st := status.Convert(InvalidArguments(vs...))
	return mustDetails(st, verr.ToProto()).Err()
}
