// Package apierrtest asserts the shape of API errors in tests: the canonical code, and for bad
// input a BadRequest violation and a message that both name the field.
package apierrtest

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// WantCode fails the test unless err carries code, and returns its status.
func WantCode(t testing.TB, err error, code codes.Code) *status.Status {
	t.Helper()
	st, _ := status.FromError(err)
	if st.Code() != code {
		t.Fatalf("got %v (%v), want %v", st.Code(), err, code)
	}
	return st
}

// WantField fails the test unless err is INVALID_ARGUMENT with a BadRequest violation naming
// field, and a message naming it too.
func WantField(t testing.TB, err error, field string) {
	t.Helper()
	st := WantCode(t, err, codes.InvalidArgument)
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if !slices.Contains(fields, field) {
		t.Fatalf("violations %v (%v) do not name %q", fields, st.Message(), field)
	}
	if !strings.Contains(st.Message(), field) {
		t.Fatalf("message %q does not name %q", st.Message(), field)
	}
}
