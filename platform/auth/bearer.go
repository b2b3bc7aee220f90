package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// bearerCredentials attach a caller's own token to every RPC: a service calling another as
// itself (role system), not on behalf of the user whose request it is handling.
type bearerCredentials struct {
	token         func(ctx context.Context) (string, error)
	allowInsecure bool
}

// NewBearerCredentials returns gRPC per-RPC credentials that send "authorization: Bearer
// <token>", asking token for the current one on every call (so it may rotate). Unless
// allowInsecure, they refuse to travel over a connection without privacy and integrity (TLS):
// a bearer token read off the wire is the caller's identity. Allow it only for plaintext
// connections that never leave the host or an enforced network policy.
func NewBearerCredentials(token func(ctx context.Context) (string, error), allowInsecure bool) credentials.PerRPCCredentials {
	return bearerCredentials{token: token, allowInsecure: allowInsecure}
}

func (c bearerCredentials) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if !c.allowInsecure {
		// gRPC checks RequireTransportSecurity when dialling; check the connection too, as
		// grpc's own oauth credentials do, so a misconfigured transport never carries the token.
		ri, _ := credentials.RequestInfoFromContext(ctx)
		if err := credentials.CheckSecurityLevel(ri.AuthInfo, credentials.PrivacyAndIntegrity); err != nil {
			return nil, fmt.Errorf("bearer credentials: refusing to send a token without transport security: %w", err)
		}
	}
	tok, err := c.token(ctx)
	if err != nil {
		return nil, fmt.Errorf("bearer credentials: %w", err)
	}
	if tok == "" {
		return nil, errors.New("bearer credentials: the token source returned an empty token")
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

func (c bearerCredentials) RequireTransportSecurity() bool { return !c.allowInsecure }

// TokenFile returns a token source reading the token in path, as a Kubernetes Secret or
// projected volume provides it: the file is replaced in place when the token rotates, so it is
// read again whenever its modification time or size changes, and served from memory otherwise.
// Surrounding whitespace is trimmed; a missing, unreadable or empty file is an error naming it.
func TokenFile(path string) func(ctx context.Context) (string, error) {
	var (
		mu      sync.Mutex
		token   string
		modTime time.Time
		size    int64
	)
	return func(context.Context) (string, error) {
		// Stat before reading: if the file changes in between, the content read is at least as
		// new as the recorded time, and the next call sees a newer time and reads it again.
		fi, err := os.Stat(path)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		mu.Lock()
		defer mu.Unlock()
		if token != "" && fi.ModTime().Equal(modTime) && fi.Size() == size {
			return token, nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("token file: %w", err)
		}
		tok := strings.TrimSpace(string(data))
		if tok == "" {
			return "", fmt.Errorf("token file %s is empty", path)
		}
		token, modTime, size = tok, fi.ModTime(), fi.Size()
		return token, nil
	}
}

// TokenSource returns a token source for p, as a service in `jiayuan dev` calls another: it
// mints a token valid for ttl and mints a new one once less than a quarter of ttl remains, so
// a call never carries a token about to expire.
func (s *DevSigner) TokenSource(p Principal, ttl time.Duration) func(ctx context.Context) (string, error) {
	var (
		mu      sync.Mutex
		token   string
		expires time.Time
	)
	return func(context.Context) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		// The expiry is counted from before minting: at worst a little early, never late.
		now := time.Now()
		if token != "" && expires.Sub(now) >= ttl/4 {
			return token, nil
		}
		tok, err := s.Token(p, ttl)
		if err != nil {
			return "", err
		}
		token, expires = tok, now.Add(ttl)
		return token, nil
	}
}
