package auth_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"maps"
	"math/big"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// testNow is the fixed time verifiers in these tests read.
var testNow = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func fixedClock() time.Time { return testNow }

// clock is a test clock that moves only when told to.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: testNow} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const (
	testIssuer   = "https://idp.jiangnan.example/realms/jiayuan"
	testAudience = "jiayuan"
	testPartner  = "partners/01JQ4W3ZK8N6T2V5X7Y9A1B3C4"
)

// idp stands in for the district's identity provider: it holds a signing key and mints tokens
// with whatever claims a test wants, including wrong ones.
type idp struct {
	key *ecdsa.PrivateKey
	kid string
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	thumb, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return &idp{key: key, kid: base64.RawURLEncoding.EncodeToString(thumb)}
}

func (i *idp) publicPEM(t *testing.T) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(i.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

func (i *idp) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: i.key.Public(), KeyID: i.kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// claims returns a valid claim set at testNow for a community staff member; tests override keys.
func validClaims() map[string]any {
	return map[string]any{
		"iss":          testIssuer,
		"aud":          testAudience,
		"sub":          "user-7f3a",
		"iat":          testNow.Add(-time.Minute).Unix(),
		"nbf":          testNow.Add(-time.Minute).Unix(),
		"exp":          testNow.Add(time.Hour).Unix(),
		"roles":        []string{"community_staff"},
		"region_scope": []string{"450105001001"},
		"name":         "张三丰",
	}
}

func with(base map[string]any, changes map[string]any) map[string]any {
	out := maps.Clone(base)
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

func (i *idp) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: i.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", i.kid))
	if err != nil {
		t.Fatal(err)
	}
	return signJSON(t, signer, claims)
}

func signJSON(t *testing.T, signer jose.Signer, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds an "alg": "none" token, which must never be accepted.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc(payload) + "."
}

// hmacWithPublicKey signs with HS256 using the public key's PEM as the secret: the classic
// algorithm-confusion forgery.
func hmacWithPublicKey(t *testing.T, pub []byte, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: pub}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return signJSON(t, signer, claims)
}

func bigOne() *big.Int { return big.NewInt(1) }

// quietLogger discards what it is told: the verifier logs every key set fetch.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
