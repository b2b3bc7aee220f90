package apierr

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/idempotency"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// retryDelay is what UNAVAILABLE and ABORTED from the store suggest to wait before retrying.
const retryDelay = time.Second

// FromStore turns an error from platform/sqlstore into a status error:
// sqlstore.ErrNotFound → NOT_FOUND, ErrAlreadyExists → ALREADY_EXISTS, ErrUnavailable →
// UNAVAILABLE and ErrAborted → ABORTED (both with RetryInfo); anything else as ToStatus does it
// (a status error keeps its status, a cancelled or expired context is CANCELLED /
// DEADLINE_EXCEEDED, the rest is INTERNAL with a generic message). The store's error is kept as the cause (see Cause) for the
// request log and is never sent. Handlers that know the resource name prefer NotFound(name)
// and AlreadyExists(name), which tell the client more.
func FromStore(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(interface{ GRPCStatus() *status.Status }); ok {
		return err
	}
	var st *status.Status
	switch {
	case errors.Is(err, sqlstore.ErrNotFound):
		st = status.New(codes.NotFound, "not found")
	case errors.Is(err, sqlstore.ErrAlreadyExists):
		st = status.New(codes.AlreadyExists, "already exists")
	case errors.Is(err, sqlstore.ErrUnavailable):
		st = mustDetails(status.New(codes.Unavailable, "the service's database is unavailable; retry later"),
			retryInfo())
	case errors.Is(err, sqlstore.ErrAborted):
		st = mustDetails(status.New(codes.Aborted, "the change conflicted with a concurrent one; retry"),
			retryInfo())
	default:
		// Context errors, statuses wrapped on the way up, and the unexpected (INTERNAL).
		return ToStatus(err)
	}
	return &causedError{st: st, cause: err}
}

// FromValidation turns an error from a protovalidate.Validator into INVALID_ARGUMENT: each
// violation named by its field path in the message and in a BadRequest detail (what google.rpc
// clients and the gateway understand), plus the buf.validate.Violations detail with the rule
// ids. A CEL compilation or runtime error is the service's bug, not the caller's: INTERNAL.
func FromValidation(err error) error {
	if err == nil {
		return nil
	}
	return fromValidation("", err)
}

// ToStatus returns the error a server sends for err: err itself when it is a status error;
// the inner status (without the wrapping text, which could carry internal detail) when err
// wraps one; CANCELLED / DEADLINE_EXCEEDED for context errors; and Internal(err) — a generic
// INTERNAL keeping err as the cause — for anything else, so a bare database or driver error
// never reaches a client as UNKNOWN with its own text.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	type grpcStatus interface{ GRPCStatus() *status.Status }
	if _, ok := err.(grpcStatus); ok {
		return err
	}
	// A wrapped error from Internal or FromStore already holds the cause worth logging.
	var ce *causedError
	if errors.As(err, &ce) {
		return ce
	}
	var gs grpcStatus
	if errors.As(err, &gs) && gs.GRPCStatus() != nil {
		return &causedError{st: gs.GRPCStatus(), cause: err}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return &causedError{st: status.New(codes.Canceled, "the request was cancelled"), cause: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &causedError{st: status.New(codes.DeadlineExceeded, "the request's deadline expired"), cause: err}
	}
	return Internal(err)
}

func retryInfo() *errdetails.RetryInfo {
	return &errdetails.RetryInfo{RetryDelay: durationpb.New(retryDelay)}
}

// FromCall turns the error of a handler's work on the resource called name into a status
// error, for the errors every service's store and the platform helpers return: a status error
// as it is; sqlstore.ErrNotFound as NOT_FOUND naming the resource and ErrStale as its stale
// etag; a reused request_id, a bad filter, order_by or page_token as INVALID_ARGUMENT naming
// that field; anything else as FromStore does.
func FromCall(err error, name string) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return ToStatus(err)
	}
	var fe *aip.FilterError
	var oe *aip.OrderError
	switch {
	case errors.Is(err, sqlstore.ErrNotFound):
		return NotFound(name)
	case errors.Is(err, sqlstore.ErrStale):
		return StaleEtag(name)
	case errors.Is(err, idempotency.ErrRequestIDReused):
		return InvalidArgument("request_id", "was already used for a different request")
	case errors.Is(err, aip.ErrBadPageToken):
		return InvalidArgument("page_token", "is malformed or was issued for a different query")
	case errors.As(err, &fe):
		return InvalidArgument("filter", fe.Msg)
	case errors.As(err, &oe):
		return InvalidArgument("order_by", oe.Error())
	}
	return FromStore(err)
}

// peerRetry is what FromPeer suggests to wait before retrying a peer that did not answer.
const peerRetry = 2 * time.Second

// FromPeer turns a failed call to peer (another service of the suite, e.g. "partner"), made
// with this service's own credentials, into this request's error. When the call read name,
// which the request gave in field, a name the peer does not find or does not take is the
// caller's doing: INVALID_ARGUMENT on field, saying no more than that it does not exist (what
// the peer holds out of the caller's scope is never named). A peer down, slow or throttling
// this service is a retry (UNAVAILABLE). Anything else, such as a peer refusing this
// service's role, or a refused call with no field behind it, is the deployment's fault:
// INTERNAL.
func FromPeer(err error, peer, field, name string) error {
	switch status.Code(err) {
	case codes.NotFound:
		if field != "" {
			return InvalidArgument(field, name+" does not exist")
		}
	case codes.InvalidArgument:
		if field != "" {
			return InvalidArgument(field, name+" is not a name the "+peer+" service takes")
		}
	case codes.Unavailable, codes.DeadlineExceeded, codes.Canceled, codes.ResourceExhausted:
		return Unavailable("the "+peer+" service does not answer; nothing was changed, try again", peerRetry)
	}
	return Internal(fmt.Errorf("%s service: %s: %w", peer, name, err))
}
