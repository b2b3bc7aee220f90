package apierr_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"buf.build/gen/go/bufbuild/protovalidate/protocolbuffers/go/buf/validate"
	"buf.build/go/protovalidate"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	eventsv1 "github.com/jiayuan/jiayuan/gen/jiayuan/events/v1"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// fieldViolations returns "field=description" for every BadRequest field violation in err.
func fieldViolations(err error) []string {
	var out []string
	for _, d := range status.Convert(err).Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				out = append(out, v.GetField()+"="+v.GetDescription())
			}
		}
	}
	return out
}

func detail[T any](err error) (T, bool) {
	for _, d := range status.Convert(err).Details() {
		if t, ok := d.(T); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

func TestConstructors(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		code  codes.Code
		msg   string
		check func(t *testing.T, err error)
	}{
		{
			name: "invalid argument",
			err:  apierr.InvalidArgument("partner_group.display_name", "must not be empty"),
			code: codes.InvalidArgument,
			msg:  "partner_group.display_name: must not be empty",
			check: func(t *testing.T, err error) {
				if got := fieldViolations(err); len(got) != 1 || got[0] != "partner_group.display_name=must not be empty" {
					t.Errorf("field violations = %v", got)
				}
			},
		},
		{
			name: "invalid arguments",
			err: apierr.InvalidArguments(
				apierr.FieldViolation{Field: "page_size", Description: "must be at most 1000"},
				apierr.FieldViolation{Field: "filter", Description: "unknown field \"colour\""},
			),
			code: codes.InvalidArgument,
			msg:  `page_size: must be at most 1000; filter: unknown field "colour"`,
			check: func(t *testing.T, err error) {
				if got := fieldViolations(err); len(got) != 2 || !strings.HasPrefix(got[1], "filter=") {
					t.Errorf("field violations = %v", got)
				}
			},
		},
		{
			name: "not found",
			err:  apierr.NotFound("partnerGroups/01JABCDEFGHJKMNPQRSTVWXYZ0"),
			code: codes.NotFound,
			msg:  `"partnerGroups/01JABCDEFGHJKMNPQRSTVWXYZ0" not found`,
			check: func(t *testing.T, err error) {
				ri, ok := detail[*errdetails.ResourceInfo](err)
				if !ok || ri.GetResourceName() != "partnerGroups/01JABCDEFGHJKMNPQRSTVWXYZ0" {
					t.Errorf("ResourceInfo = %v", ri)
				}
			},
		},
		{
			name: "already exists",
			err:  apierr.AlreadyExists("partners/01JABCDEFGHJKMNPQRSTVWXYZ0"),
			code: codes.AlreadyExists,
			msg:  `"partners/01JABCDEFGHJKMNPQRSTVWXYZ0" already exists`,
		},
		{
			name: "failed precondition",
			err:  apierr.FailedPrecondition("GROUP_HAS_MEMBERS", "the group still has 3 members"),
			code: codes.FailedPrecondition,
			msg:  "the group still has 3 members",
			check: func(t *testing.T, err error) {
				ei, ok := detail[*errdetails.ErrorInfo](err)
				if !ok || ei.GetReason() != "GROUP_HAS_MEMBERS" || ei.GetDomain() != apierr.Domain {
					t.Errorf("ErrorInfo = %v", ei)
				}
				pf, ok := detail[*errdetails.PreconditionFailure](err)
				if !ok || pf.GetViolations()[0].GetType() != "GROUP_HAS_MEMBERS" {
					t.Errorf("PreconditionFailure = %v", pf)
				}
			},
		},
		{
			name: "stale etag is ABORTED (AIP-154)",
			err:  apierr.StaleEtag("partners/01JABCDEFGHJKMNPQRSTVWXYZ0"),
			code: codes.Aborted,
			msg:  `"partners/01JABCDEFGHJKMNPQRSTVWXYZ0" was changed since it was read (etag mismatch); read it again and retry`,
			check: func(t *testing.T, err error) {
				ei, ok := detail[*errdetails.ErrorInfo](err)
				if !ok || ei.GetReason() != apierr.ReasonEtagMismatch {
					t.Errorf("ErrorInfo = %v", ei)
				}
			},
		},
		{
			name: "permission denied",
			err:  apierr.PermissionDenied("OUTSIDE_REGION_SCOPE", "450105002 is outside your region"),
			code: codes.PermissionDenied,
			msg:  "450105002 is outside your region",
		},
		{
			name: "resource exhausted",
			err:  apierr.ResourceExhausted("TOO_MANY_ATTEMPTS", "wait", 90*time.Second+time.Millisecond),
			code: codes.ResourceExhausted,
			msg:  "wait",
			check: func(t *testing.T, err error) {
				ri, ok := detail[*errdetails.RetryInfo](err)
				if !ok || ri.GetRetryDelay().AsDuration() != 91*time.Second {
					t.Errorf("RetryInfo = %v, want 91s (rounded up)", ri)
				}
				if ei, ok := detail[*errdetails.ErrorInfo](err); !ok || ei.GetReason() != "TOO_MANY_ATTEMPTS" {
					t.Errorf("ErrorInfo = %v", ei)
				}
			},
		},
		{
			name: "unavailable with retry",
			err:  apierr.Unavailable("try again", 2*time.Second),
			code: codes.Unavailable,
			msg:  "try again",
			check: func(t *testing.T, err error) {
				ri, ok := detail[*errdetails.RetryInfo](err)
				if !ok || ri.GetRetryDelay().AsDuration() != 2*time.Second {
					t.Errorf("RetryInfo = %v", ri)
				}
			},
		},
		{
			name: "resource exhausted",
			err:  apierr.ResourceExhausted("RATE_LIMITED", "too many calls", 1500*time.Millisecond),
			code: codes.ResourceExhausted,
			msg:  "too many calls",
			check: func(t *testing.T, err error) {
				ri, ok := detail[*errdetails.RetryInfo](err)
				info, _ := detail[*errdetails.ErrorInfo](err)
				if !ok || ri.GetRetryDelay().AsDuration() != 2*time.Second || info.GetReason() != "RATE_LIMITED" {
					t.Errorf("RetryInfo = %v, ErrorInfo = %v", ri, info)
				}
			},
		},
		{
			name: "resource exhausted until the caller lets go",
			err:  apierr.ResourceExhausted("TOO_MANY_STREAMS", "too many streams", 0),
			code: codes.ResourceExhausted,
			msg:  "too many streams",
			check: func(t *testing.T, err error) {
				if _, ok := detail[*errdetails.RetryInfo](err); ok {
					t.Error("a RetryInfo for a cap with no time to wait")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, ok := status.FromError(tt.err)
			if !ok {
				t.Fatalf("%v is not a status error", tt.err)
			}
			if st.Code() != tt.code || st.Message() != tt.msg {
				t.Errorf("got %v %q, want %v %q", st.Code(), st.Message(), tt.code, tt.msg)
			}
			if tt.check != nil {
				tt.check(t, tt.err)
			}
		})
	}
}

// TestInternalOfADatabaseOutage: a handler that wraps a store error in Internal still answers
// a database outage UNAVAILABLE (retried by our clients) and a lost conflict ABORTED, with the
// cause kept for the log and not sent; anything else stays INTERNAL.
func TestInternalOfADatabaseOutage(t *testing.T) {
	secret := errors.New(`FATAL: terminating connection due to administrator command (SQLSTATE 57P01) at 10.0.0.7`)
	for _, tt := range []struct {
		name string
		err  error
		code codes.Code
	}{
		{"connection killed", fmt.Errorf("sum aggregates: %w", fmt.Errorf("%w: %w", sqlstore.ErrUnavailable, secret)), codes.Unavailable},
		{"conflict lost", fmt.Errorf("%w: %w", sqlstore.ErrAborted, secret), codes.Aborted},
		{"a bug", fmt.Errorf("scan: %w", secret), codes.Internal},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := apierr.Internal(tt.err)
			st, ok := status.FromError(got)
			if !ok || st.Code() != tt.code {
				t.Fatalf("Internal = %v, want code %v", got, tt.code)
			}
			if strings.Contains(st.Message(), "10.0.0.7") || strings.Contains(got.Error(), "10.0.0.7") {
				t.Errorf("cause leaked: %q", st.Message())
			}
			if !errors.Is(got, secret) || apierr.Cause(got) == nil {
				t.Errorf("cause not kept: %v", apierr.Cause(got))
			}
		})
	}
}

func TestFromStore(t *testing.T) {
	secret := errors.New(`pq: relation "partner_groups_secret" does not exist`)
	tests := []struct {
		name string
		err  error
		code codes.Code
	}{
		{"nil", nil, codes.OK},
		{"not found", fmt.Errorf("get group: %w", fmt.Errorf("%w: %w", sqlstore.ErrNotFound, secret)), codes.NotFound},
		{"already exists", fmt.Errorf("%w: %w", sqlstore.ErrAlreadyExists, secret), codes.AlreadyExists},
		{"unavailable", fmt.Errorf("%w: %w", sqlstore.ErrUnavailable, secret), codes.Unavailable},
		{"aborted", fmt.Errorf("%w: %w", sqlstore.ErrAborted, secret), codes.Aborted},
		{"cancelled", fmt.Errorf("query: %w", context.Canceled), codes.Canceled},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{"anything else", fmt.Errorf("scan: %w", secret), codes.Internal},
		{"already a status", apierr.NotFound("partners/x"), codes.NotFound},
		{"wrapped status", fmt.Errorf("update: %w", apierr.StaleEtag("partners/x")), codes.Aborted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apierr.FromStore(tt.err)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("FromStore(nil) = %v", got)
				}
				return
			}
			st, ok := status.FromError(got)
			if !ok || st.Code() != tt.code {
				t.Fatalf("FromStore = %v (status %v), want code %v", got, ok, tt.code)
			}
			if strings.Contains(st.Message(), "secret") || strings.Contains(got.Error(), "secret") {
				t.Errorf("store error leaked: message %q, Error() %q", st.Message(), got.Error())
			}
			if errors.Is(tt.err, secret) {
				if !errors.Is(got, secret) {
					t.Errorf("cause not kept for errors.Is")
				}
				if c := apierr.Cause(got); c == nil || !strings.Contains(c.Error(), "secret") {
					t.Errorf("Cause = %v, want the store error", c)
				}
			}
		})
	}
}

func TestFromValidation(t *testing.T) {
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	verr := v.Validate(&eventsv1.WatchRequest{AfterCursor: -1, Types: []string{"ok", ""}})
	if verr == nil {
		t.Fatal("invalid WatchRequest passed validation")
	}
	got := apierr.FromValidation(verr)
	st := status.Convert(got)
	if st.Code() != codes.InvalidArgument {
		t.Fatalf("code = %v", st.Code())
	}
	if !strings.Contains(st.Message(), "after_cursor: ") || !strings.Contains(st.Message(), "types[1]: ") {
		t.Errorf("message %q does not name both fields", st.Message())
	}
	fv := fieldViolations(got)
	if len(fv) != 2 || !strings.HasPrefix(fv[0], "after_cursor=") || !strings.HasPrefix(fv[1], "types[1]=") {
		t.Errorf("field violations = %v", fv)
	}
	pv, ok := detail[*validate.Violations](got)
	if !ok || len(pv.GetViolations()) != 2 || pv.GetViolations()[0].GetRuleId() != "int64.gte" {
		t.Errorf("buf.validate.Violations detail = %v", pv)
	}

	if got := apierr.FromValidation(nil); got != nil {
		t.Errorf("FromValidation(nil) = %v", got)
	}
	if got := status.Code(apierr.FromValidation(errors.New("cel: no such overload"))); got != codes.Internal {
		t.Errorf("non-validation error code = %v, want Internal", got)
	}
}

func TestToStatus(t *testing.T) {
	secret := errors.New("dial tcp 10.0.0.7:5432: connection refused")
	internal := apierr.Internal(secret)
	tests := []struct {
		name      string
		err       error
		code      codes.Code
		msg       string
		wantCause bool
	}{
		{"status passes through", apierr.NotFound("partners/x"), codes.NotFound, `"partners/x" not found`, false},
		{"wrapped status loses the wrapping text", fmt.Errorf("load %s: %w", secret, status.Error(codes.FailedPrecondition, "closed")), codes.FailedPrecondition, "closed", true},
		{"wrapped internal keeps its cause", fmt.Errorf("create: %w", internal), codes.Internal, "internal error", true},
		{"plain error", secret, codes.Internal, "internal error", true},
		{"context", fmt.Errorf("wait: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "the request's deadline expired", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := apierr.ToStatus(tt.err)
			st, ok := status.FromError(got)
			if !ok || st.Code() != tt.code || st.Message() != tt.msg {
				t.Fatalf("ToStatus = %v %q (ok %v), want %v %q", st.Code(), st.Message(), ok, tt.code, tt.msg)
			}
			if strings.Contains(st.Message(), "10.0.0.7") {
				t.Errorf("message leaks the cause: %q", st.Message())
			}
			if c := apierr.Cause(got); (c != nil) != tt.wantCause {
				t.Errorf("Cause = %v, want present %v", c, tt.wantCause)
			}
		})
	}
	if apierr.ToStatus(nil) != nil {
		t.Error("ToStatus(nil) != nil")
	}
}
