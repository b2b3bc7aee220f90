package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/jiayuan/jiayuan/platform/auth"
)

// fuzzVerifier is a verifier of a fresh key, and a token that key signed for the seeds.
func fuzzVerifier(f *testing.F) (*auth.Verifier, string) {
	f.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		f.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.VerifierConfig{Issuer: testIssuer, Audience: testAudience,
		PublicKeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})}, auth.WithClock(fixedClock), auth.WithLogger(quietLogger()))
	if err != nil {
		f.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		f.Fatal(err)
	}
	payload, _ := json.Marshal(validClaims())
	jws, err := signer.Sign(payload)
	if err != nil {
		f.Fatal(err)
	}
	tok, err := jws.CompactSerialize()
	if err != nil {
		f.Fatal(err)
	}
	return v, tok
}

// tokenSeeds are tokens of every shape the verifier must refuse, and one it accepts.
func tokenSeeds(valid string) []string {
	parts := strings.Split(valid, ".")
	return []string{
		valid, "", "a.b.c", "not-a-jwt", parts[0] + "." + parts[1] + ".",
		`eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.` + parts[1] + ".",
		`eyJhbGciOiJIUzI1NiJ9.` + parts[1] + "." + parts[2],
		parts[0] + ".eyJzdWIiOiJ4In0." + parts[2],
		parts[0] + "." + parts[1] + "." + parts[2] + "." + parts[2],
		strings.Repeat("A", 20000),
	}
}

// FuzzVerify: whatever a caller sends as a token, Verify refuses it with a TokenError or
// accepts it as the one principal the key really signed; it never panics and never fails in
// another way (static keys cannot be unavailable).
func FuzzVerify(f *testing.F) {
	v, valid := fuzzVerifier(f)
	for _, s := range tokenSeeds(valid) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		p, err := v.Verify(context.Background(), raw)
		if err != nil {
			var te *auth.TokenError
			if !errors.As(err, &te) || te.Reason == "" {
				t.Fatalf("Verify(%q) error %v (%T), want a TokenError", raw, err, err)
			}
			if raw != "" && len(raw) > 8 && strings.Contains(te.Reason, raw) {
				t.Fatalf("the refusal's reason repeats the token: %q", te.Reason)
			}
			return
		}
		if p.Subject != "user-7f3a" || !p.HasRole(auth.RoleCommunityStaff) {
			t.Fatalf("Verify(%q) accepted %+v, which the key never signed", raw, p)
		}
	})
}

// FuzzAuthorizationHeader: whatever authorization metadata a call carries, the interceptor
// lets it through only with the principal the key signed and otherwise answers
// UNAUTHENTICATED, never another code, never a panic.
func FuzzAuthorizationHeader(f *testing.F) {
	v, valid := fuzzVerifier(f)
	for _, s := range tokenSeeds(valid) {
		f.Add("Bearer " + s)
	}
	for _, s := range []string{"bearer " + valid, "Bearer  " + valid + " ", "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Bearer\t" + valid, "BEARER " + valid} {
		f.Add(s)
	}
	const method = "/x.Y/Z"
	intercept := auth.UnaryServerInterceptor(v, auth.Policies{method: auth.Allow(auth.RoleCommunityStaff)})
	f.Fuzz(func(t *testing.T, header string) {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("authorization", header))
		var seen auth.Principal
		_, err := intercept(ctx, nil, &grpc.UnaryServerInfo{FullMethod: method}, func(ctx context.Context, _ any) (any, error) {
			seen, _ = auth.FromContext(ctx)
			return nil, nil
		})
		switch {
		case err == nil && seen.Subject != "user-7f3a":
			t.Fatalf("header %q let through as %+v", header, seen)
		case err != nil && status.Code(err) != codes.Unauthenticated:
			t.Fatalf("header %q: %v, want UNAUTHENTICATED", header, err)
		}
	})
}
