package apierr_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/idempotency"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

func TestFromCall(t *testing.T) {
	const name = "demands/01JAAAAAAAAAAAAAAAAAAAAAAA"
	_, filterErr := aip.ParseFilter("status = = x")
	if filterErr == nil {
		t.Fatal("a malformed filter parsed")
	}
	tests := []struct {
		name      string
		err       error
		code      codes.Code
		field     string // the BadRequest violation, if any
		inMessage string
	}{
		{"not found", fmt.Errorf("get: %w", sqlstore.ErrNotFound), codes.NotFound, "", name},
		{"stale", fmt.Errorf("update: %w", sqlstore.ErrStale), codes.Aborted, "", name},
		{"request id reused", idempotency.ErrRequestIDReused, codes.InvalidArgument, "request_id", "request_id"},
		{"bad page token", fmt.Errorf("list: %w", aip.ErrBadPageToken), codes.InvalidArgument, "page_token", "page_token"},
		{"bad filter", fmt.Errorf("list: %w", filterErr), codes.InvalidArgument, "filter", "filter"},
		{"bad order", &aip.OrderError{Allowed: []string{"create_time", "create_time desc"}}, codes.InvalidArgument, "order_by", `"create_time desc"`},
		{"status kept", apierr.PermissionDenied("ROLE_NOT_ALLOWED", "no"), codes.PermissionDenied, "", "no"},
		{"unavailable", fmt.Errorf("query: %w", sqlstore.ErrUnavailable), codes.Unavailable, "", ""},
		{"anything else", errors.New("disk on fire"), codes.Internal, "", "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apierr.FromCall(tt.err, name)
			st, _ := status.FromError(err)
			if st.Code() != tt.code {
				t.Fatalf("code %v (%v), want %v", st.Code(), err, tt.code)
			}
			if !strings.Contains(st.Message(), tt.inMessage) {
				t.Errorf("message %q does not contain %q", st.Message(), tt.inMessage)
			}
			if tt.field != "" && !slices.ContainsFunc(fieldViolations(err), func(v string) bool { return strings.HasPrefix(v, tt.field+"=") }) {
				t.Errorf("violations %v do not name %q", fieldViolations(err), tt.field)
			}
			if strings.Contains(st.Message(), "disk on fire") {
				t.Errorf("the cause reached the client: %q", st.Message())
			}
		})
	}
	if apierr.FromCall(nil, name) != nil {
		t.Error("FromCall(nil) is not nil")
	}
}
