// Package idempotency makes create-style RPCs safe to retry (AIP-155): a request carrying a
// request_id is executed once, and a retry with the same id and the same content gets the
// first response back instead of creating a duplicate.
//
// The key is recorded in the caller's transaction, together with the effect, so that an
// attempt that rolls back leaves the id free, and concurrent duplicates wait for the first
// one and then replay its response. The keys live in the platform table idempotency_keys
// (applied by sqlstore.DB.Migrate).
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// ErrRequestIDReused reports a request_id already used for a request with different content.
// The API layer maps it to INVALID_ARGUMENT naming the request_id field.
var ErrRequestIDReused = errors.New("request_id was already used for a different request")

var deterministic = proto.MarshalOptions{Deterministic: true}

// Do runs fn at most once per (method, requestID), inside tx:
//
//   - requestID empty: fn runs, nothing is recorded.
//   - first use: fn runs; its response is stored with the key when tx commits.
//   - used before with the same request content (the deterministic encoding of req): fn does
//     not run; the stored response is returned with replayed = true.
//   - used before with different content: ErrRequestIDReused.
//
// method scopes the ids, e.g. the full gRPC method name. If fn fails, the key is released (and
// the caller's transaction should roll back anyway), so a retry runs fn again. On PostgreSQL a
// concurrent duplicate blocks until the first transaction ends. A nil response is replayed as
// an empty message.
func Do[Resp proto.Message](ctx context.Context, tx sqlstore.Tx, method, requestID string,
	req proto.Message, fn func() (Resp, error)) (resp Resp, replayed bool, err error) {
	if requestID == "" {
		resp, err = fn()
		return resp, false, err
	}
	var zero Resp
	if method == "" {
		return zero, false, errors.New("idempotency: empty method")
	}
	hash, err := requestHash(req)
	if err != nil {
		return zero, false, err
	}
	n, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (method, request_id, request_hash, created_us)
		VALUES ($1, $2, $3, $4) ON CONFLICT (method, request_id) DO NOTHING`,
		method, requestID, hash, time.Now().UnixMicro())
	if err != nil {
		return zero, false, fmt.Errorf("idempotency: record request_id: %w", err)
	}
	if n == 0 {
		resp, err := replay[Resp](ctx, tx, method, requestID, hash)
		return resp, err == nil, err
	}

	resp, err = fn()
	if err != nil {
		// Release the key even if the caller commits despite the error: only successes are
		// replayed. On PostgreSQL this fails harmlessly when fn's error aborted the transaction.
		_, _ = tx.Exec(ctx, `DELETE FROM idempotency_keys WHERE method = $1 AND request_id = $2`, method, requestID)
		return zero, false, err
	}
	data, err := deterministic.Marshal(resp)
	if err != nil {
		return zero, false, fmt.Errorf("idempotency: encode response: %w", err)
	}
	if data == nil {
		data = []byte{} // an empty message is a response, not NULL
	}
	// Queued with the caller's writes; a failure fails the transaction.
	tx.Queue(ctx, `UPDATE idempotency_keys SET response = $3 WHERE method = $1 AND request_id = $2`,
		method, requestID, data)
	return resp, false, nil
}

func replay[Resp proto.Message](ctx context.Context, tx sqlstore.Tx, method, requestID string, hash []byte) (Resp, error) {
	var (
		zero       Resp
		storedHash []byte
		stored     []byte
		complete   bool
	)
	err := tx.QueryRow(ctx, `SELECT request_hash, response, response IS NOT NULL FROM idempotency_keys
		WHERE method = $1 AND request_id = $2`, method, requestID).Scan(&storedHash, &stored, &complete)
	if err != nil {
		return zero, fmt.Errorf("idempotency: read request_id: %w", err)
	}
	if !bytes.Equal(storedHash, hash) {
		return zero, ErrRequestIDReused
	}
	if !complete {
		// Only possible within the transaction that recorded the key, i.e. fn re-entering Do
		// with its own request_id.
		return zero, fmt.Errorf("idempotency: request %q of %s is still in progress", requestID, method)
	}
	resp := zero.ProtoReflect().New().Interface().(Resp)
	if err := proto.Unmarshal(stored, resp); err != nil {
		return zero, fmt.Errorf("idempotency: decode stored response: %w", err)
	}
	return resp, nil
}

func requestHash(req proto.Message) ([]byte, error) {
	data, err := deterministic.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("idempotency: encode request: %w", err)
	}
	sum := sha256.Sum256(data)
	return sum[:], nil
}

// Purge forgets the request ids recorded before cutoff, returning how many. AIP-155 lets a
// service keep request ids for a limited time; a retry after that runs again.
func Purge(ctx context.Context, q sqlstore.Querier, cutoff time.Time) (int64, error) {
	n, err := q.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_us < $1`, cutoff.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("idempotency: purge: %w", err)
	}
	return n, nil
}
