package gateway

import (
	"crypto/sha256"
	"net/http"
	"net/netip"
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/jiayuan/jiayuan/platform/limits"
)

// The gateway does not verify tokens (the services do, each for itself), so it cannot limit
// by principal: the services do that, and their RESOURCE_EXHAUSTED reaches the client as 429
// with Retry-After (see handleError). What the gateway limits itself is what it can judge:
//
//   - requests without a token, per client address (/openapi.json, /healthz, which asks every
//     upstream, and API calls bound for a 401);
//   - failed authentications, per client address: each 401 takes a token from the address's
//     bucket, and once it is spent a request from there is refused at once (429), before any
//     upstream is asked, unless its token got an answer from a service in the last minute.
//
// The client address is the connection's, or, from a trusted proxy (a load balancer), the
// rightmost untrusted hop of X-Forwarded-For. The gateway passes the chain on to the services
// (grpc-gateway appends the connection's address to X-Forwarded-For), so a service trusting
// the gateway's network counts the same client.
const (
	// goodTokenTTL is how long a token answered by a service passes the failures check: as
	// long as the services' own cache of verified tokens keeps it.
	goodTokenTTL = time.Minute
	// goodTokens bounds the tokens remembered.
	goodTokens = 10_000
)

// edgeLimiter applies the limits above.
type edgeLimiter struct {
	lim     *limits.Limiter
	trusted []netip.Prefix
	now     func() time.Time
	// good holds the SHA-256 of Authorization headers a service answered with success, and
	// until when they pass.
	good *lru.Cache[[sha256.Size]byte, time.Time]
}

func newEdgeLimiter(cfg limits.Config, opts ...limits.Option) (*edgeLimiter, error) {
	lim, err := limits.NewEdge(cfg, opts...)
	if err != nil {
		return nil, err
	}
	good, err := lru.New[[sha256.Size]byte, time.Time](goodTokens)
	if err != nil {
		return nil, err
	}
	return &edgeLimiter{lim: lim, trusted: cfg.TrustedProxies, now: time.Now, good: good}, nil
}

// clientAddr is the address r came from (see ClientAddr).
func (e *edgeLimiter) clientAddr(r *http.Request) netip.Addr {
	var peer netip.Addr
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		peer = ap.Addr()
	}
	return limits.ClientAddr(peer, r.Header.Values("X-Forwarded-For"), e.trusted)
}

func (e *edgeLimiter) isGood(key [sha256.Size]byte) bool {
	until, ok := e.good.Get(key)
	return ok && e.now().Before(until)
}

// limit wraps next with the limits; refusals are written by refuse.
func (e *edgeLimiter) limit(next http.Handler, refuse func(http.ResponseWriter, *http.Request, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The gateway's own readiness answers its probes whatever a client does.
		if r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		addr := e.clientAddr(r)
		authz := r.Header.Get("Authorization")
		api := strings.HasPrefix(r.URL.Path, "/v1/")
		if authz == "" {
			if retry, ok := e.lim.AllowAnonymous(addr); !ok {
				refuse(w, r, limits.RateLimitedError(e.lim.Config().Anonymous, retry))
				return
			}
		}
		var key [sha256.Size]byte
		if authz != "" {
			key = sha256.Sum256([]byte(authz))
		}
		if (api || authz != "") && !(authz != "" && e.isGood(key)) {
			if retry, ok := e.lim.AdmitAuth(addr); !ok {
				refuse(w, r, limits.AuthFailuresError(retry))
				return
			}
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		switch {
		case rec.status == http.StatusUnauthorized:
			e.lim.FailedAuth(addr)
			if authz != "" {
				e.good.Remove(key)
			}
		case api && authz != "" && rec.status < 300:
			// Every API route needs a token, so a success means a service accepted it.
			e.good.Add(key, e.now().Add(goodTokenTTL))
		}
	})
}
