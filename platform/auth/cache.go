package auth

import (
	"crypto/sha256"
	"slices"
	"sync"
	"time"
)

// A front end sends the same bearer token with every call until it expires, and checking its
// signature is most of the cost of an authenticated call. The verifier therefore remembers
// tokens it has verified, for a short while: a key withdrawn from the identity provider's JWKS
// stops working at most tokenCacheTTL later. A token is never trusted past its own expiry.
const (
	tokenCacheTTL     = time.Minute
	tokenCacheEntries = 10000
)

type cachedToken struct {
	p       Principal
	expires time.Time // the earlier of the token's exp (+ skew) and when the entry was made + TTL
}

// tokenCache is a bounded map of verified tokens, keyed by their SHA-256.
type tokenCache struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]cachedToken
}

func newTokenCache() *tokenCache {
	return &tokenCache{entries: make(map[[sha256.Size]byte]cachedToken)}
}

func (c *tokenCache) get(raw string, now time.Time) (Principal, bool) {
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	e, ok := c.entries[k]
	if ok && !now.Before(e.expires) {
		delete(c.entries, k)
		ok = false
	}
	c.mu.Unlock()
	if !ok {
		return Principal{}, false
	}
	// Callers may append to the slices; the cached ones stay untouched.
	p := e.p
	p.Roles, p.Scope = slices.Clone(p.Roles), slices.Clone(p.Scope)
	return p, true
}

func (c *tokenCache) put(raw string, p Principal, tokenExpiry, now time.Time) {
	expires := now.Add(tokenCacheTTL)
	if limit := tokenExpiry.Add(clockSkew); limit.Before(expires) {
		expires = limit
	}
	k := sha256.Sum256([]byte(raw))
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= tokenCacheEntries {
		// Drop the expired, and if that is not enough, everything: a refill costs one
		// verification per live token.
		for key, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= tokenCacheEntries {
			clear(c.entries)
		}
	}
	c.entries[k] = cachedToken{p: p, expires: expires}
}
