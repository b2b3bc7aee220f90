package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// DefaultJWKSMinFetchInterval is the floor between two fetches of the identity provider's key
// set when VerifierConfig.JWKSMinFetchInterval is zero. A token naming a key not in the cached
// set triggers a fetch only when the last one is at least this old, so a flood of forged
// tokens with made-up key ids costs the provider one request a minute, not one per token.
const DefaultJWKSMinFetchInterval = time.Minute

const (
	// jwksMaxAge is how long a fetched key set is used without asking the provider again. A
	// key the provider withdraws stops working at most this long after (plus the token cache's
	// minute). The refetch happens in the background on the first token after it; a failed one
	// keeps the keys we have.
	jwksMaxAge = time.Hour
	// jwksRetryAfterFailure is the floor after a fetch that failed, when shorter than the
	// configured one: the provider being down a moment must not lock every caller out for a
	// whole interval.
	jwksRetryAfterFailure = 5 * time.Second
	// jwksMaxBytes bounds the key set document read; real ones are a few KiB.
	jwksMaxBytes = 1 << 20
)

// errUnknownKey is a token signed by a key the key set does not hold (after a fetch, or within
// the floor since the last one).
var errUnknownKey = errors.New("no key of the key set verifies the signature")

// keySet verifies a token's signature with the keys that may have signed it and returns the
// payload. A token no key verifies gives an error wrapping errUnknownKey or a signature error;
// keys that could not be had at all give one wrapping ErrKeysUnavailable.
type keySet interface {
	verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error)
}

// staticKeys are keys given in configuration (PEM): every one is tried.
type staticKeys []crypto.PublicKey

func (s staticKeys) verify(_ context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	for _, k := range s {
		if payload, err := jws.Verify(k); err == nil {
			return payload, nil
		}
	}
	return nil, errUnknownKey
}

// remoteKeys is the identity provider's JSON Web Key Set, fetched over HTTPS and cached by key
// id. It replaces go-oidc's RemoteKeySet, which fetched again for every token naming an unknown
// key (one fetch at a time, but with no pause between them) and needed a retry to see a fetch
// that had just finished. Here:
//
//   - a token naming a cached key id is verified with no fetch;
//   - a token naming an unseen key id fetches the set, at most once per minInterval (a token
//     arriving sooner is refused as signed by an unknown key);
//   - at most one fetch runs at a time; callers needing it wait for that one;
//   - a set older than jwksMaxAge is refetched in the background, the old keys serving
//     meanwhile and after a failed fetch.
type remoteKeys struct {
	url         string
	client      *http.Client
	now         func() time.Time
	logger      *slog.Logger
	minInterval time.Duration
	// base carries the configuration NewVerifier's context held (never its cancellation):
	// a fetch serves every caller waiting for it and must not end with the first one's call.
	base context.Context

	mu sync.Mutex
	// byKid holds the keys of the last good fetch by key id ("" for keys without one).
	byKid map[string][]jose.JSONWebKey
	all   []jose.JSONWebKey
	// fetched is when the last good fetch ended; attempted when the last fetch began;
	// failed whether that one failed.
	fetched, attempted time.Time
	failed             bool
	lastErr            error
	inflight           *keyFetch
}

// keyFetch is one fetch in progress; done is closed when it ends, with err set.
type keyFetch struct {
	done chan struct{}
	err  error
}

func newRemoteKeys(ctx context.Context, url string, client *http.Client, minInterval time.Duration, now func() time.Time, logger *slog.Logger) *remoteKeys {
	return &remoteKeys{url: url, client: client, minInterval: minInterval, now: now, logger: logger,
		base: context.WithoutCancel(ctx), byKid: map[string][]jose.JSONWebKey{}}
}

func (r *remoteKeys) verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	h := jws.Signatures[0].Header
	candidates, have, stale := r.lookup(h.KeyID)
	if have {
		if stale {
			// Refresh for the next callers; this one is served by the keys at hand.
			r.startFetch()
		}
		if payload, err := verifyWith(jws, candidates); err == nil || h.KeyID != "" {
			// A key id we hold that does not verify is a forgery, not a rotation: no fetch.
			return payload, err
		}
	}
	// An unseen key id (or, without one, no key verifying): perhaps the provider rotated
	// its keys. Fetch, unless the last fetch was too recent.
	fetch := r.startFetch()
	if fetch == nil {
		if !have && r.empty() {
			return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, r.lastError())
		}
		return nil, fmt.Errorf("key id %q: %w (the key set was fetched less than %s ago)", h.KeyID, errUnknownKey, r.minInterval)
	}
	select {
	case <-fetch.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: waiting for the key set: %w", ErrKeysUnavailable, ctx.Err())
	}
	candidates, have, _ = r.lookup(h.KeyID)
	if fetch.err != nil && r.empty() {
		return nil, fmt.Errorf("%w: %v", ErrKeysUnavailable, fetch.err)
	}
	if !have {
		return nil, fmt.Errorf("key id %q: %w", h.KeyID, errUnknownKey)
	}
	return verifyWith(jws, candidates)
}

// lookup returns the keys that may have signed a token naming kid ("" names none: every key),
// whether there are any, and whether the set is due for a refresh.
func (r *remoteKeys) lookup(kid string) ([]jose.JSONWebKey, bool, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	keys := r.byKid[kid]
	if kid == "" {
		keys = r.all
	}
	stale := !r.fetched.IsZero() && r.now().Sub(r.fetched) >= jwksMaxAge
	return keys, len(keys) > 0, stale
}

func (r *remoteKeys) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.all) == 0
}

func (r *remoteKeys) lastError() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lastErr == nil {
		return errors.New("the key set was not fetched yet")
	}
	return r.lastErr
}

// startFetch returns the fetch in progress, or starts one if the floor since the last allows,
// or returns nil when it does not.
func (r *remoteKeys) startFetch() *keyFetch {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inflight != nil {
		return r.inflight
	}
	now := r.now()
	if !r.attempted.IsZero() {
		floor := r.minInterval
		if r.failed {
			floor = min(floor, jwksRetryAfterFailure)
		}
		if now.Sub(r.attempted) < floor {
			return nil
		}
	}
	f := &keyFetch{done: make(chan struct{})}
	r.inflight, r.attempted = f, now
	go r.fetch(f)
	return f
}

// fetch gets the key set and, if it holds usable keys, replaces the cached ones with it: keys
// the provider withdrew are dropped.
func (r *remoteKeys) fetch(f *keyFetch) {
	keys, err := r.get()
	r.mu.Lock()
	r.inflight, r.failed, r.lastErr = nil, err != nil, err
	if err == nil {
		r.fetched = r.now()
		r.all = keys
		r.byKid = make(map[string][]jose.JSONWebKey, len(keys))
		for _, k := range keys {
			r.byKid[k.KeyID] = append(r.byKid[k.KeyID], k)
		}
	}
	f.err = err
	r.mu.Unlock()
	if err != nil {
		r.logger.Error("auth: fetching the identity provider's key set failed", slog.String("url", r.url), slog.Any("error", err))
	} else {
		r.logger.Info("auth: fetched the identity provider's key set", slog.String("url", r.url), slog.Int("keys", len(keys)))
	}
	close(f.done)
}

// get fetches and parses the key set. Keys that are not asymmetric public signing keys this
// verifier accepts are skipped (a provider's set also holds encryption keys, and kinds go-jose
// does not know); a set with none left is an error.
func (r *remoteKeys) get() ([]jose.JSONWebKey, error) {
	ctx, cancel := context.WithTimeout(r.base, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return nil, fmt.Errorf("key set request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read key set: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch key set: HTTP %s", resp.Status)
	}
	return parseJWKS(body)
}

// parseJWKS reads a JSON Web Key Set document, one key at a time so that one key of an
// unknown kind does not hide the others.
func parseJWKS(body []byte) ([]jose.JSONWebKey, error) {
	if len(body) > jwksMaxBytes {
		return nil, fmt.Errorf("key set is larger than %d bytes", jwksMaxBytes)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("key set is not a JWKS document: %w", err)
	}
	var keys []jose.JSONWebKey
	var skipped []error
	for i, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			skipped = append(skipped, fmt.Errorf("key %d: %w", i, err))
			continue
		}
		if err := usableSigningKey(k); err != nil {
			skipped = append(skipped, fmt.Errorf("key %d (kid %q): %w", i, k.KeyID, err))
			continue
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("key set holds no usable signing key: %w", errors.Join(append(skipped, errors.New("no keys"))...))
	}
	return keys, nil
}

// usableSigningKey accepts public RSA (2048 bits or more), ECDSA and Ed25519 keys meant for
// signatures.
func usableSigningKey(k jose.JSONWebKey) error {
	if k.Use != "" && k.Use != "sig" {
		return fmt.Errorf("use %q, not sig", k.Use)
	}
	if !k.Valid() || !k.IsPublic() {
		return errors.New("not a valid public key")
	}
	switch key := k.Key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < 2048 {
			return fmt.Errorf("RSA key of %d bits is too short", key.N.BitLen())
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return fmt.Errorf("unsupported key type %T", k.Key)
	}
	return nil
}

// verifyWith verifies jws with the first of keys that does, honouring a key's declared
// algorithm: a key published for ES256 does not verify an ES384 token.
func verifyWith(jws *jose.JSONWebSignature, keys []jose.JSONWebKey) ([]byte, error) {
	alg := jws.Signatures[0].Header.Algorithm
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != alg {
			continue
		}
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, errUnknownKey
}
