package apierr_test

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/platform/apierr"
)

// A peer's refusal becomes the caller's error on the field only when the caller's name
// caused it; a peer down or throttling is a retry, and the rest an internal error.
func TestFromPeer(t *testing.T) {
	const name = "partners/01M8X5EC5KBC6KH0092G6RN6ER"
	for _, tc := range []struct {
		peer  codes.Code
		field string
		want  codes.Code
	}{
		{codes.NotFound, "partners[0]", codes.InvalidArgument},
		{codes.InvalidArgument, "partners[0]", codes.InvalidArgument},
		{codes.NotFound, "", codes.Internal},
		{codes.InvalidArgument, "", codes.Internal},
		{codes.Unavailable, "partners[0]", codes.Unavailable},
		{codes.DeadlineExceeded, "", codes.Unavailable},
		{codes.Canceled, "", codes.Unavailable},
		{codes.ResourceExhausted, "partners[0]", codes.Unavailable},
		{codes.PermissionDenied, "partners[0]", codes.Internal},
		{codes.Unknown, "partners[0]", codes.Internal},
	} {
		t.Run(tc.peer.String()+"/"+tc.field, func(t *testing.T) {
			st, _ := status.FromError(apierr.ToStatus(apierr.FromPeer(status.Error(tc.peer, "peer says no"), "partner", tc.field, name)))
			if st.Code() != tc.want {
				t.Fatalf("peer %v: got %v (%v), want %v", tc.peer, st.Code(), st.Message(), tc.want)
			}
			field := ""
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
					field = br.GetFieldViolations()[0].GetField()
				}
			}
			if want := map[bool]string{true: tc.field, false: ""}[tc.want == codes.InvalidArgument]; field != want {
				t.Fatalf("peer %v: field %q, want %q", tc.peer, field, want)
			}
		})
	}
}
