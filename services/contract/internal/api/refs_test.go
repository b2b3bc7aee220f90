package api

import (
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/platform/apierr"
)

// A peer's refusal becomes the caller's error only when the caller's name caused it; a peer
// down or throttling is a retry, and the rest an internal error.
func TestPeerErr(t *testing.T) {
	for _, tc := range []struct {
		peer  codes.Code
		want  codes.Code
		field bool
	}{
		{codes.NotFound, codes.InvalidArgument, true},
		{codes.InvalidArgument, codes.InvalidArgument, true},
		{codes.Unavailable, codes.Unavailable, false},
		{codes.DeadlineExceeded, codes.Unavailable, false},
		{codes.ResourceExhausted, codes.Unavailable, false},
		{codes.PermissionDenied, codes.Internal, false},
		{codes.Unknown, codes.Internal, false},
	} {
		t.Run(tc.peer.String(), func(t *testing.T) {
			err := apierr.ToStatus(peerErr(status.Error(tc.peer, "peer says no"), "partners[0]", "partners/01M8X5EC5KBC6KH0092G6RN6ER", "partner"))
			st, _ := status.FromError(err)
			if st.Code() != tc.want {
				t.Fatalf("peer %v: got %v (%v), want %v", tc.peer, st.Code(), err, tc.want)
			}
			var named bool
			for _, d := range st.Details() {
				if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) > 0 {
					named = br.GetFieldViolations()[0].GetField() == "partners[0]"
				}
			}
			if named != tc.field {
				t.Fatalf("peer %v: field named %v, want %v", tc.peer, named, tc.field)
			}
		})
	}
}
