// Package apierr builds the errors jiayuan's APIs return: gRPC status errors with canonical
// codes and google.rpc details (AIP-193), so that a client — over gRPC or through the REST
// gateway — learns what went wrong and, for bad input, which field.
//
// Internal failures never reach the client: Internal and FromStore return a generic
// INTERNAL status whose underlying cause stays on the server, where Cause finds it for the
// request log.
package apierr

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// Domain is the ErrorInfo domain of every error jiayuan defines.
const Domain = "jiayuan.gov.cn"

// Reasons used in ErrorInfo by this package.
const (
	ReasonEtagMismatch = "ETAG_MISMATCH"
	ReasonInternal     = "INTERNAL"
)

// FieldViolation names one bad field of a request and says what is wrong with it. Field is a
// path of proto field names from the request message, e.g. "partner_group.contact.phone" or
// "types[2]".
type FieldViolation struct {
	Field       string
	Description string
}

// InvalidArgument is INVALID_ARGUMENT for one bad field: the message reads
// "field: description" and a BadRequest detail names the field.
func InvalidArgument(field, description string) error {
	return InvalidArguments(FieldViolation{Field: field, Description: description})
}

// InvalidArguments is INVALID_ARGUMENT for several bad fields, each named in the message and in
// the BadRequest detail.
func InvalidArguments(violations ...FieldViolation) error {
	br := &errdetails.BadRequest{}
	msgs := make([]string, 0, len(violations))
	for _, v := range violations {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{
			Field:       v.Field,
			Description: v.Description,
		})
		if v.Field == "" {
			msgs = append(msgs, v.Description)
		} else {
			msgs = append(msgs, v.Field+": "+v.Description)
		}
	}
	msg := strings.Join(msgs, "; ")
	if msg == "" {
		msg = "invalid argument"
	}
	return withDetails(codes.InvalidArgument, msg, br)
}

// NotFound is NOT_FOUND for the resource named resourceName, with a ResourceInfo detail.
func NotFound(resourceName string) error {
	return withDetails(codes.NotFound, fmt.Sprintf("%s not found", quoteName(resourceName)),
		&errdetails.ResourceInfo{ResourceName: resourceName, Description: "not found"})
}

// AlreadyExists is ALREADY_EXISTS for the resource named resourceName (or, when the name is
// not known, what makes it a duplicate, e.g. "credit_code 91450100MA5K…").
func AlreadyExists(resourceName string) error {
	return withDetails(codes.AlreadyExists, fmt.Sprintf("%s already exists", quoteName(resourceName)),
		&errdetails.ResourceInfo{ResourceName: resourceName, Description: "already exists"})
}

// FailedPrecondition is FAILED_PRECONDITION: the request is valid but the system is not in a
// state that allows it (e.g. deleting a group that has members). reason is an UPPER_SNAKE_CASE
// identifier clients can branch on ("GROUP_HAS_MEMBERS"); description is for people.
func FailedPrecondition(reason, description string) error {
	return withDetails(codes.FailedPrecondition, description,
		&errdetails.ErrorInfo{Reason: reason, Domain: Domain},
		&errdetails.PreconditionFailure{Violations: []*errdetails.PreconditionFailure_Violation{
			{Type: reason, Description: description},
		}})
}

// StaleEtag is the error for an etag that no longer matches the resource: ABORTED (HTTP 409),
// as AIP-154 requires since its 2021-03-05 revision (it was FAILED_PRECONDITION before, which
// maps to HTTP 400 and reads as the client's fault). The client reads the resource again and
// retries with the new etag.
func StaleEtag(resourceName string) error {
	return withDetails(codes.Aborted,
		fmt.Sprintf("%s was changed since it was read (etag mismatch); read it again and retry", quoteName(resourceName)),
		&errdetails.ErrorInfo{Reason: ReasonEtagMismatch, Domain: Domain,
			Metadata: map[string]string{"resource": resourceName}},
		&errdetails.ResourceInfo{ResourceName: resourceName, Description: "etag mismatch"})
}

// PermissionDenied is PERMISSION_DENIED with an ErrorInfo reason (e.g. "OUTSIDE_REGION_SCOPE",
// "ROLE_NOT_ALLOWED").
func PermissionDenied(reason, description string) error {
	return withDetails(codes.PermissionDenied, description, &errdetails.ErrorInfo{Reason: reason, Domain: Domain})
}

// Unavailable is UNAVAILABLE: a transient failure the client may retry after retryAfter (no
// RetryInfo when it is zero).
func Unavailable(description string, retryAfter time.Duration) error {
	if retryAfter <= 0 {
		return status.Error(codes.Unavailable, description)
	}
	return withDetails(codes.Unavailable, description, &errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter)})
}

// ResourceExhausted is RESOURCE_EXHAUSTED (HTTP 429) for a caller over a limit: an ErrorInfo
// reason clients can branch on ("RATE_LIMITED", "TOO_MANY_STREAMS", too many failed claims)
// and a RetryInfo saying when trying again may succeed, rounded up to whole seconds (none when
// retryAfter is not positive: a cap that frees up only when the caller ends something it holds).
func ResourceExhausted(reason, description string, retryAfter time.Duration) error {
	info := &errdetails.ErrorInfo{Reason: reason, Domain: Domain}
	if retryAfter <= 0 {
		return withDetails(codes.ResourceExhausted, description, info)
	}
	return withDetails(codes.ResourceExhausted, description, info,
		&errdetails.RetryInfo{RetryDelay: durationpb.New(retryAfter.Truncate(time.Second) + roundUp(retryAfter))})
}

// roundUp is the second a duration lacks to be whole seconds, so a client waiting that long is
// never early.
func roundUp(d time.Duration) time.Duration {
	if d%time.Second != 0 {
		return time.Second
	}
	return 0
}

// Internal is INTERNAL with a generic message. cause stays on the server: it is what Error,
// errors.Is/As and Cause see, never what is sent.
//
// A cause that is the database being away (sqlstore.ErrUnavailable: a connection killed, the
// server restarting) or a lost serialization conflict (sqlstore.ErrAborted) is no internal
// error, whichever handler wraps it: it is what FromStore makes of it, UNAVAILABLE or ABORTED,
// which the client may retry (platform/grpcclient retries UNAVAILABLE).
func Internal(cause error) error {
	if errors.Is(cause, sqlstore.ErrUnavailable) || errors.Is(cause, sqlstore.ErrAborted) {
		return FromStore(cause)
	}
	st := mustDetails(status.New(codes.Internal, "internal error"),
		&errdetails.ErrorInfo{Reason: ReasonInternal, Domain: Domain})
	return &causedError{st: st, cause: cause}
}

// Cause returns the server-side cause carried by an error from Internal or FromStore, or nil
// when err carries none. Request logs record it; clients never see it.
func Cause(err error) error {
	var ce *causedError
	if errors.As(err, &ce) {
		return ce.cause
	}
	return nil
}

// causedError is a status error that also keeps the error that caused it. gRPC and the gateway
// send only the status (through GRPCStatus); logs get the cause through Cause or Unwrap.
type causedError struct {
	st    *status.Status
	cause error
}

// Error leaves the cause out on purpose: grpc's status.FromError sends err.Error() as the
// message of a wrapped status error, so a handler returning fmt.Errorf("…: %w", err) would
// otherwise leak it.
func (e *causedError) Error() string { return e.st.Err().Error() }

func (e *causedError) GRPCStatus() *status.Status { return e.st }

func (e *causedError) Unwrap() error { return e.cause }

func withDetails(code codes.Code, msg string, details ...protoadapt.MessageV1) error {
	return mustDetails(status.New(code, msg), details...).Err()
}

// mustDetails attaches details to st. WithDetails fails only when a detail cannot be
// marshalled, which the fixed google.rpc messages built here always can; if it ever did, the
// status without details is still the right answer.
func mustDetails(st *status.Status, details ...protoadapt.MessageV1) *status.Status {
	ds, err := st.WithDetails(details...)
	if err != nil {
		return st
	}
	return ds
}

func quoteName(name string) string {
	if name == "" {
		return "resource"
	}
	return fmt.Sprintf("%q", name)
}
