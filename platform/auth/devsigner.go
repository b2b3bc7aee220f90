package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The issuer and audience of dev tokens.
const (
	DevIssuer   = "jiayuan-dev"
	DevAudience = "jiayuan"
)

// DevSigner issues tokens for `jiayuan dev`, standing in for the identity provider. Its tokens
// are checked by the same [Verifier] as production ones, configured by [DevSigner.VerifierConfig].
type DevSigner struct {
	signer jose.Signer
	pubPEM []byte
	kid    string
}

// LoadOrCreateDevKey loads the ECDSA P-256 signing key kept at path, creating it (mode 0600, in
// a directory created 0700 if missing) on first use, so tokens survive restarts of `jiayuan dev`.
// A key file readable by others is refused.
func LoadOrCreateDevKey(path string) (*DevSigner, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		data, err = createDevKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("dev signing key: %w", err)
	}
	return devSignerFrom(path, data)
}

// LoadDevKey loads the dev signing key at path, which must exist (the error wraps
// os.ErrNotExist when it does not). For tools that sign tokens for a running suite: a key
// they created would sign tokens that suite rejects.
func LoadDevKey(path string) (*DevSigner, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dev signing key: %w", err)
	}
	return devSignerFrom(path, data)
}

func devSignerFrom(path string, data []byte) (*DevSigner, error) {
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("dev signing key: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return nil, fmt.Errorf("dev signing key %s: mode %#o lets others read it; want 0600", path, perm)
		}
	}
	key, err := parseDevKey(data)
	if err != nil {
		return nil, fmt.Errorf("dev signing key %s: %w", path, err)
	}
	return newDevSigner(key)
}

// createDevKey writes a new key to path without ever exposing a half-written file, and without
// overwriting a key another process created meanwhile (it returns that one instead).
func createDevKey(path string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".devkey-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600 already; say so explicitly, as the key depends on it.
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	// Link fails if path exists, unlike Rename: the first process to create the key wins.
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return os.ReadFile(path)
		}
		return nil, err
	}
	return data, nil
}

func parseDevKey(data []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("want a PEM PRIVATE KEY block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("want an ECDSA P-256 key, got %T", k)
	}
	return key, nil
}

func newDevSigner(key *ecdsa.PrivateKey) (*DevSigner, error) {
	thumb, err := (&jose.JSONWebKey{Key: key.Public()}).Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(thumb)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader(jose.HeaderKey("kid"), kid),
	)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return &DevSigner{signer: signer, pubPEM: pubPEM, kid: kid}, nil
}

// Token issues a token for p, valid from now for ttl. p must be valid (see Principal.Validate):
// the dev signer never mints a token the verifier would refuse for its claims.
func (s *DevSigner) Token(p Principal, ttl time.Duration) (string, error) {
	if err := p.Validate(); err != nil {
		return "", fmt.Errorf("dev token: %w", err)
	}
	if ttl <= 0 {
		return "", fmt.Errorf("dev token: ttl %v must be positive", ttl)
	}
	now := time.Now()
	roles := make([]string, len(p.Roles))
	for i, r := range p.Roles {
		roles[i] = string(r)
	}
	tok, err := jwt.Signed(s.signer).
		Claims(jwt.Claims{
			Issuer:    DevIssuer,
			Audience:  jwt.Audience{DevAudience},
			Subject:   p.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			Expiry:    jwt.NewNumericDate(now.Add(ttl)),
		}).
		Claims(claimsExtra{Roles: roles, RegionScope: p.Scope, Partner: p.Partner, Department: p.Department, Name: p.Name}).
		Serialize()
	if err != nil {
		return "", fmt.Errorf("dev token: %w", err)
	}
	return tok, nil
}

type claimsExtra struct {
	Roles       []string `json:"roles"`
	RegionScope []string `json:"region_scope,omitempty"`
	Partner     string   `json:"partner,omitempty"`
	Department  string   `json:"department,omitempty"`
	Name        string   `json:"name,omitempty"`
}

// KeyID returns the key's id (its RFC 7638 thumbprint), sent as "kid" in token headers.
func (s *DevSigner) KeyID() string { return s.kid }

// VerifierConfig returns the configuration that verifies this signer's tokens.
func (s *DevSigner) VerifierConfig() VerifierConfig {
	return VerifierConfig{
		Issuer:       DevIssuer,
		Audience:     DevAudience,
		PublicKeyPEM: append([]byte(nil), s.pubPEM...),
	}
}
