// Package idempotency makes create-style RPCs safe to retry (AIP-155): a request carrying a
// request_id is executed once, and a retry with the same id and the same content gets the
// first response back instead of creating a duplicate.
//
// A request id belongs to its caller: the key is (method, caller subject, request_id), the
// subject read from the context with auth.FromContext. Another caller sending the same id
// runs its own request and gets its own resource: ids are the clients' choice, so they may
// collide, and refusing the second caller would tell it that someone else used the id.
//
// The key is recorded in the same transaction as the effect, so that an attempt that rolls
// back leaves the id free, and concurrent duplicates wait for the first one and then replay
// its response. The keys live in the platform table idempotency_keys
// (applied by sqlstore.DB.Migrate).
package idempotency

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// ErrRequestIDReused reports a request_id already used for a request with different content.
// The API layer maps it to INVALID_ARGUMENT naming the request_id field.
var ErrRequestIDReused = errors.New("request_id was already used for a different request")

var deterministic = proto.MarshalOptions{Deterministic: true}

// Create runs a create-style request at most once per (method, caller, requestID), the caller
// being the subject of the context's auth.Principal (empty outside an RPC): fn runs in a
// transaction on db, and its response is recorded under the key in the same transaction.
//
//   - requestID empty: fn runs, nothing is recorded.
//   - first use: fn's writes and the key commit together.
//   - used before with the same request content (the deterministic encoding of req): the
//     stored response is returned with replayed = true, and nothing fn wrote is kept.
//   - used before with different content: ErrRequestIDReused.
//
// The key is recorded optimistically: queued with fn's writes, it fails them all with a
// unique violation when the id was used before, and only then is the stored response read.
// A first request thus costs no round trip of its own, and a transaction whose fn only queues
// writes reaches PostgreSQL in one round trip. Concurrent duplicates wait on the key of the
// first, fail, and replay its response. Whatever error a repeated request meets (fn may
// refuse it because of what the first one created), the recorded first response is the
// answer. method scopes the ids, e.g. the full gRPC method name.
func Create[Resp proto.Message](ctx context.Context, db *sqlstore.DB, method, requestID string, req proto.Message,
	fn func(ctx context.Context, tx sqlstore.Tx) (Resp, error)) (resp Resp, replayed bool, err error) {
	if requestID == "" {
		err = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
			var err error
			resp, err = fn(ctx, tx)
			return err
		})
		return resp, false, err
	}
	var zero Resp
	if method == "" {
		return zero, false, errors.New("idempotency: empty method")
	}
	reqData, err := deterministic.Marshal(req)
	if err != nil {
		return zero, false, fmt.Errorf("idempotency: encode request: %w", err)
	}
	sum := sha256.Sum256(reqData)
	hash := sum[:]
	caller := callerOf(ctx)
	key := responseKey{reqData, method, caller, requestID}
	err = db.InTx(ctx, func(ctx context.Context, tx sqlstore.Tx) error {
		r, err := fn(ctx, tx)
		if err != nil {
			return err
		}
		data, err := deterministic.Marshal(r)
		if err != nil {
			return fmt.Errorf("idempotency: encode response: %w", err)
		}
		if data, err = key.seal(data); err != nil {
			return err
		}
		tx.Queue(ctx, `INSERT INTO idempotency_keys (method, caller, request_id, request_hash, created_us, response)
			VALUES ($1, $2, $3, $4, $5, $6)`, method, caller, requestID, hash, time.Now().UnixMicro(), data)
		resp = r
		return nil
	})
	if err == nil {
		return resp, false, nil
	}
	stored, found, rerr := replay[Resp](ctx, db, key, hash)
	switch {
	case rerr != nil && errors.Is(rerr, ErrRequestIDReused):
		return zero, false, rerr
	case rerr != nil:
		return zero, false, fmt.Errorf("%w (and reading request_id: %w)", err, rerr)
	case found:
		return stored, true, nil
	}
	return zero, false, err
}

// replay reads the response stored under the key; found is false when there is none.
func replay[Resp proto.Message](ctx context.Context, q sqlstore.Querier, key responseKey, hash []byte) (resp Resp, found bool, err error) {
	var (
		zero       Resp
		storedHash []byte
		stored     []byte
	)
	err = q.QueryRow(ctx, `SELECT request_hash, response FROM idempotency_keys
		WHERE method = $1 AND caller = $2 AND request_id = $3`, key.method, key.caller, key.requestID).Scan(&storedHash, &stored)
	if errors.Is(err, sqlstore.ErrNotFound) {
		return zero, false, nil
	}
	if err != nil {
		return zero, false, fmt.Errorf("idempotency: read request_id: %w", err)
	}
	if !bytes.Equal(storedHash, hash) {
		return zero, false, ErrRequestIDReused
	}
	if stored, err = key.open(stored); err != nil {
		return zero, false, err
	}
	resp = zero.ProtoReflect().New().Interface().(Resp)
	if err := proto.Unmarshal(stored, resp); err != nil {
		return zero, false, fmt.Errorf("idempotency: decode stored response: %w", err)
	}
	return resp, true, nil
}

// callerOf is the subject the request ids of ctx's caller are recorded under.
func callerOf(ctx context.Context) string {
	p, _ := auth.FromContext(ctx)
	return p.Subject
}

// responseKey seals a stored response: a create's response is the created record, personal
// data included, and must not lie in the database in plaintext. Its key is derived from the
// request itself (HMAC-SHA256 over the request's deterministic encoding), which a replay must
// present to be answered anyway, so only a caller holding the request can read the response;
// the key is never stored (request_hash is a different function of the request). The method,
// caller and request id are the associated data.
type responseKey struct {
	request                   []byte
	method, caller, requestID string
}

// sealedResponse marks a sealed response: no protobuf encoding starts with a zero byte (field
// number 0 is invalid), so a response stored in plaintext by an earlier build still replays.
const sealedResponse = 0x00

func (k responseKey) aead() (cipher.AEAD, []byte, error) {
	mac := hmac.New(sha256.New, []byte("jiayuan idempotency response"))
	mac.Write(k.request)
	block, err := aes.NewCipher(mac.Sum(nil))
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency: response key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, fmt.Errorf("idempotency: response key: %w", err)
	}
	ad := []byte(k.method + "\x00" + k.caller + "\x00" + k.requestID)
	return aead, ad, nil
}

func (k responseKey) seal(resp []byte) ([]byte, error) {
	aead, ad, err := k.aead()
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(resp)+aead.Overhead())
	out[0] = sealedResponse
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("idempotency: nonce: %w", err)
	}
	return aead.Seal(out, out[1:], resp, ad), nil
}

func (k responseKey) open(stored []byte) ([]byte, error) {
	if len(stored) == 0 || stored[0] != sealedResponse {
		return stored, nil // stored in plaintext before responses were sealed
	}
	aead, ad, err := k.aead()
	if err != nil {
		return nil, err
	}
	if len(stored) < 1+aead.NonceSize() {
		return nil, errors.New("idempotency: stored response truncated")
	}
	plain, err := aead.Open(nil, stored[1:1+aead.NonceSize()], stored[1+aead.NonceSize():], ad)
	if err != nil {
		return nil, fmt.Errorf("idempotency: open stored response: %w", err)
	}
	return plain, nil
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

// Expire purges the request ids older than retention now and then every interval, until ctx
// ends. A failed purge is logged and tried again at the next interval: a database that is
// briefly away is no reason to stop the service. It returns when ctx ends.
func Expire(ctx context.Context, q sqlstore.Querier, retention, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := Purge(ctx, q, time.Now().Add(-retention))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.WarnContext(ctx, "could not forget old request ids; trying again later", "error", err, "retry_in", interval)
		case n > 0:
			log.InfoContext(ctx, "forgot old request ids", "count", n, "retention", retention)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
