package idempotency_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"sync/atomic"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/jiayuan/jiayuan/platform/idempotency"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
	"github.com/jiayuan/jiayuan/platform/sqlstore/sqlstoretest"
)

// TestStoredResponseSealed: the response a retry gets back (a created record, personal data
// included) is not stored in plaintext, still replays, and a response stored in plaintext by
// an earlier build replays too.
func TestStoredResponseSealed(t *testing.T) {
	for _, b := range sqlstoretest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			ctx := testContext(t)
			db := openDB(t, b)
			var runs atomic.Int64
			const secret = "13978650421"
			first, _, err := idempotency.Create(ctx, db, method, "11111111-1111-4111-8111-111111111111", wrapperspb.String(secret),
				func(context.Context, sqlstore.Tx) (*wrapperspb.StringValue, error) {
					return wrapperspb.String("reporter " + secret), nil
				})
			if err != nil {
				t.Fatal(err)
			}
			var stored []byte
			if err := db.QueryRow(ctx, `SELECT response FROM idempotency_keys WHERE request_id = $1`, "11111111-1111-4111-8111-111111111111").Scan(&stored); err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(stored, []byte(secret)) {
				t.Errorf("the stored response holds %q in plaintext", secret)
			}
			again, replayed, err := createThing(ctx, db, "11111111-1111-4111-8111-111111111111", secret, &runs)
			if err != nil || !replayed || !proto.Equal(again, first) {
				t.Fatalf("replay = %v, %v, %v; want %v replayed", again, replayed, err, first)
			}

			// An earlier build's plaintext response.
			plain, _ := proto.Marshal(wrapperspb.String("things/old"))
			req, _ := proto.MarshalOptions{Deterministic: true}.Marshal(wrapperspb.String("old"))
			sum := sha256.Sum256(req)
			if _, err := db.Exec(ctx, `INSERT INTO idempotency_keys (method, caller, request_id, request_hash, created_us, response)
				VALUES ($1, '', $2, $3, 1, $4)`, method, "22222222-2222-4222-8222-222222222222", sum[:], plain); err != nil {
				t.Fatal(err)
			}
			old, replayed, err := createThing(ctx, db, "22222222-2222-4222-8222-222222222222", "old", &runs)
			if err != nil || !replayed || old.GetValue() != "things/old" {
				t.Fatalf("replay of a plaintext response = %v, %v, %v", old, replayed, err)
			}
		})
	}
}
