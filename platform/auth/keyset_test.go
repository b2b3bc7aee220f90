package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/jiayuan/jiayuan/platform/auth"
)

// forged returns a token claiming a random key id, signed by a key of its own: what an
// attacker floods a service with to make it fetch the provider's key set again and again.
func forged(t *testing.T, claims map[string]any) string {
	t.Helper()
	i := newIDP(t)
	kid := make([]byte, 12)
	_, _ = rand.Read(kid)
	i.kid = base64.RawURLEncoding.EncodeToString(kid)
	return i.sign(t, claims)
}

// flood verifies tokens from n goroutines at once and returns how many were accepted, refused
// as bad tokens, and failed otherwise (keys unavailable).
func flood(v *auth.Verifier, tokens []string, n int) (accepted, refused, other int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan string)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for tok := range next {
				_, err := v.Verify(context.Background(), tok)
				var te *auth.TokenError
				mu.Lock()
				switch {
				case err == nil:
					accepted++
				case errors.As(err, &te):
					refused++
				default:
					other++
				}
				mu.Unlock()
			}
		}()
	}
	for _, tok := range tokens {
		next <- tok
	}
	close(next)
	wg.Wait()
	return accepted, refused, other
}

// TestJWKSForgedTokenFlood: a flood of forged tokens, each naming a key id never seen, costs
// the identity provider one fetch per floor, not one per token, whether it comes before the
// first fetch or after; a rotation at the provider is still picked up once the floor passes.
func TestJWKSForgedTokenFlood(t *testing.T) {
	good := newIDP(t)
	srv := newJWKSServer(t, good.jwk())
	clk := newClock()
	v := srv.verifier(t, clk)

	forgeries := make([]string, 1000)
	for i := range forgeries {
		forgeries[i] = forged(t, validClaims())
	}
	// Cold: no key fetched yet, 1,000 forgeries from 50 callers at once.
	if _, refused, other := flood(v, forgeries, 50); refused != len(forgeries) {
		t.Errorf("cold flood: %d refused as bad tokens, %d otherwise; want all %d refused", refused, other, len(forgeries))
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("cold flood of %d forged tokens: %d key set fetches, want 1", len(forgeries), n)
	}
	// The genuine key works meanwhile, from the cache.
	if _, err := v.Verify(context.Background(), good.sign(t, validClaims())); err != nil {
		t.Errorf("genuine token during the flood: %v", err)
	}
	// Warm, later: another flood fetches once more, the floor having passed.
	clk.Advance(auth.DefaultJWKSMinFetchInterval)
	if _, refused, _ := flood(v, forgeries, 50); refused != len(forgeries) {
		t.Errorf("warm flood: %d refused, want %d", refused, len(forgeries))
	}
	if n := srv.requests.Load(); n != 2 {
		t.Errorf("after a second flood a floor later: %d fetches, want 2", n)
	}
	t.Logf("2 floods of %d forged tokens with random key ids at 50-way concurrency: %d key set fetches", len(forgeries), srv.requests.Load())

	// The provider rotates in a new key: a token naming it is accepted once the floor since
	// the last fetch has passed.
	rotated := newIDP(t)
	srv.set(http.StatusOK, good.jwk(), rotated.jwk())
	clk.Advance(auth.DefaultJWKSMinFetchInterval)
	if _, err := v.Verify(context.Background(), rotated.sign(t, validClaims())); err != nil {
		t.Errorf("token of the rotated-in key after the floor: %v", err)
	}
}

// TestJWKSOneFetchAtATime: callers arriving together with tokens of a key not cached yet all
// wait for one fetch and are all accepted.
func TestJWKSOneFetchAtATime(t *testing.T) {
	good := newIDP(t)
	srv := newJWKSServer(t, good.jwk())
	v := srv.verifier(t, newClock())
	tokens := make([]string, 200)
	for i := range tokens {
		tokens[i] = good.sign(t, with(validClaims(), map[string]any{"sub": fmt.Sprintf("user-%d", i)}))
	}
	if accepted, refused, other := flood(v, tokens, 100); accepted != len(tokens) {
		t.Errorf("%d of %d genuine tokens accepted (%d refused, %d failed otherwise), want all", accepted, len(tokens), refused, other)
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d fetches for 200 first tokens from 100 callers, want 1", n)
	}
}

// TestJWKSConfiguredFloor: the floor is a setting; with a shorter one, a new key is fetched
// sooner.
func TestJWKSConfiguredFloor(t *testing.T) {
	first := newIDP(t)
	srv := newJWKSServer(t, first.jwk())
	clk := newClock()
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{
		Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL + "/protocol/openid-connect/certs",
		JWKSMinFetchInterval: 10 * time.Second,
	}, auth.WithClock(clk.Now), auth.WithHTTPClient(srv.Client()), auth.WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), first.sign(t, validClaims())); err != nil {
		t.Fatal(err)
	}
	second := newIDP(t)
	srv.set(http.StatusOK, first.jwk(), second.jwk())
	clk.Advance(9 * time.Second)
	if _, err := v.Verify(context.Background(), second.sign(t, validClaims())); err == nil {
		t.Error("a new key was fetched 9s after the last fetch, under a 10s floor")
	}
	clk.Advance(time.Second)
	if _, err := v.Verify(context.Background(), second.sign(t, validClaims())); err != nil {
		t.Errorf("10s after the last fetch: %v", err)
	}
}

// TestJWKSWithdrawnKey: a key the provider removes from its set stops verifying once the
// cached set is an hour old: the refetch then replaces the set rather than adding to it.
func TestJWKSWithdrawnKey(t *testing.T) {
	old, current := newIDP(t), newIDP(t)
	srv := newJWKSServer(t, old.jwk(), current.jwk())
	clk := newClock()
	v := srv.verifier(t, clk)
	if _, err := v.Verify(context.Background(), old.sign(t, validClaims())); err != nil {
		t.Fatal(err)
	}
	srv.set(http.StatusOK, current.jwk())
	clk.Advance(time.Hour)
	claims := with(validClaims(), map[string]any{"iat": clk.Now().Unix(), "nbf": nil, "exp": clk.Now().Add(time.Hour).Unix()})
	// The first token after the hour is served by the keys at hand and starts the refetch.
	_, _ = v.Verify(context.Background(), current.sign(t, claims))
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := v.Verify(context.Background(), old.sign(t, with(claims, map[string]any{"sub": fmt.Sprint("u", time.Now().UnixNano())})))
		var te *auth.TokenError
		if errors.As(err, &te) && te.Reason == "invalid signature" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a withdrawn key still verifies an hour later: %v (fetches: %d)", err, srv.requests.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := v.Verify(context.Background(), current.sign(t, with(claims, map[string]any{"sub": "other"}))); err != nil {
		t.Errorf("the key still published: %v", err)
	}
}

// TestJWKSSkipsUnusableKeys: encryption keys, symmetric keys, short RSA keys and kinds go-jose
// cannot read are skipped, not fatal to the rest of the set; a set of nothing usable is the
// provider's failure (UNAVAILABLE), not the caller's.
func TestJWKSSkipsUnusableKeys(t *testing.T) {
	good := newIDP(t)
	short, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	goodJWK, err := json.Marshal(good.jwk())
	if err != nil {
		t.Fatal(err)
	}
	encJWK := good.jwk()
	encJWK.Use, encJWK.KeyID = "enc", "enc-1"
	enc, _ := json.Marshal(encJWK)
	shortJWK, _ := json.Marshal(jose.JSONWebKey{Key: &short.PublicKey, KeyID: "short", Use: "sig"})
	oct, _ := json.Marshal(jose.JSONWebKey{Key: []byte("0123456789abcdef0123456789abcdef"), KeyID: "oct", Algorithm: "HS256"})
	unknown := []byte(`{"kty":"OKP","crv":"X448","x":"AAAA","kid":"x448"}`)

	for _, tc := range []struct {
		name   string
		keys   [][]byte
		wantOK bool
	}{
		{"a good key among unusable ones", [][]byte{enc, shortJWK, oct, unknown, goodJWK}, true},
		{"nothing usable", [][]byte{enc, shortJWK, oct, unknown}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			body = append(body, `{"keys":[`...)
			for i, k := range tc.keys {
				if i > 0 {
					body = append(body, ',')
				}
				body = append(body, k...)
			}
			body = append(body, "]}"...)
			srv := newRawJWKSServer(t, body)
			v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Issuer: testIssuer, Audience: testAudience, JWKSURL: srv.URL},
				auth.WithClock(fixedClock), auth.WithLogger(quietLogger()))
			if err != nil {
				t.Fatal(err)
			}
			_, err = v.Verify(context.Background(), good.sign(t, validClaims()))
			switch {
			case tc.wantOK && err != nil:
				t.Errorf("Verify: %v", err)
			case !tc.wantOK && !errors.Is(err, auth.ErrKeysUnavailable):
				t.Errorf("Verify = %v, want ErrKeysUnavailable", err)
			}
		})
	}
}

// newRawJWKSServer serves body as the key set, on loopback plain HTTP.
func newRawJWKSServer(t *testing.T, body []byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}
