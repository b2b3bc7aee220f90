package gateway_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/gateway"
	"github.com/jiayuan/jiayuan/platform/limits"
)

// TestServiceRateLimitIs429WithRetryAfter: a service's RESOURCE_EXHAUSTED with a RetryInfo is
// 429 with Retry-After in whole seconds, rounded up, and the detail in the body.
func TestServiceRateLimitIs429WithRetryAfter(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	req := newRequest(t, http.MethodGet, gw.URL+"/v1/partnerGroups/"+limitedID, nil)
	req.Header.Set("Authorization", "Bearer resident.token.sig")
	resp, raw := do(t, req)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("HTTP %d, want 429: %s", resp.StatusCode, raw)
	}
	if got := resp.Header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2 (1.5s rounded up)", got)
	}
	e := decodeError(t, raw)
	if e.Status != "RESOURCE_EXHAUSTED" || !strings.Contains(string(raw), `"retryDelay":"1.500s"`) || !strings.Contains(string(raw), "RATE_LIMITED") {
		t.Errorf("body %s", raw)
	}
}

// get sends GET path with the Authorization header authz (none when empty) and X-Forwarded-For
// forwarded (none when empty).
func get(t *testing.T, url, authz, forwarded string) *http.Response {
	t.Helper()
	req := newRequest(t, http.MethodGet, url, nil)
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	resp, _ := do(t, req)
	return resp
}

// TestAnonymousRequestsAreLimited: requests without a token (/healthz: cheap, so a slow -race
// run spends the burst before it refills) count against their address (100
// at once, then 20 a second by default) and are refused 429 with Retry-After beyond; the
// gateway's own readiness is never limited.
func TestAnonymousRequestsAreLimited(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	counts := map[int]int{}
	var retryAfter string
	start := time.Now()
	// Eight at a time, so that the burst is spent faster than a slow (-race) run refills it.
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	next := make(chan struct{}, 150)
	for range 150 {
		next <- struct{}{}
	}
	close(next)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				resp := get(t, gw.URL+"/healthz", "", "")
				mu.Lock()
				counts[resp.StatusCode]++
				if resp.StatusCode == http.StatusTooManyRequests {
					retryAfter = resp.Header.Get("Retry-After")
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// The burst of 100, then 20 a second for as long as the run took.
	allowed := 100 + int(20*time.Since(start).Seconds()) + 1
	if counts[http.StatusOK] < 100 || counts[http.StatusOK] > allowed || counts[http.StatusTooManyRequests] != 150-counts[http.StatusOK] {
		t.Errorf("150 requests without a token: %v; want 100 to %d OK and the rest 429", counts, allowed)
	}
	if retryAfter != "1" {
		t.Errorf("Retry-After %q, want 1 (%v)", retryAfter, counts)
	}
	if resp := get(t, gw.URL+"/readyz", "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("/readyz from the limited address: %d", resp.StatusCode)
	}
}

// TestAuthFailuresAreSlowedAtTheGateway: 300 requests with a refused token from one address
// reach the service 20 times (401), then are refused 429 at once; a token the service accepted
// before still passes from that address, a fresh one does not.
func TestAuthFailuresAreSlowedAtTheGateway(t *testing.T) {
	u := startUpstream(t)
	gw := startGateway(t, u, gateway.Options{})
	if resp := get(t, gw.URL+"/v1/partnerGroups/"+groupID, "Bearer working.token.sig", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("working token: %d", resp.StatusCode)
	}
	before := u.partner.calls.Load()
	counts := map[int]int{}
	start := time.Now()
	for range 300 {
		counts[get(t, gw.URL+"/v1/partnerGroups/"+refusedID, "Bearer forged.token.sig", "").StatusCode]++
	}
	reached := u.partner.calls.Load() - before
	allowed := 20 + int(time.Since(start).Seconds()) + 1 // the burst, then 1 a second
	if counts[http.StatusUnauthorized] < 20 || counts[http.StatusUnauthorized] > allowed || counts[http.StatusTooManyRequests] != 300-counts[http.StatusUnauthorized] || reached != int64(counts[http.StatusUnauthorized]) {
		t.Errorf("300 refused tokens: %v, %d reached the service; want about 20 401s reaching it and the rest 429", counts, reached)
	}
	if resp := get(t, gw.URL+"/v1/partnerGroups/"+groupID, "", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("no token from the spent address: %d, want 429", resp.StatusCode)
	}
	if resp := get(t, gw.URL+"/v1/partnerGroups/"+groupID, "Bearer working.token.sig", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("the working token from the spent address: %d, want 200", resp.StatusCode)
	}
	if resp := get(t, gw.URL+"/v1/partnerGroups/"+groupID, "Bearer fresh.token.sig", ""); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a fresh token from the spent address: %d, want 429", resp.StatusCode)
	}
}

// TestTrustedProxiesNameTheClient: behind a trusted proxy each client named in X-Forwarded-For
// has its own buckets; an untrusted peer's header changes nothing.
func TestTrustedProxiesNameTheClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted string
		want    int // 401s for the second client after the first spent its bucket
	}{
		{"trusted", "127.0.0.0/8", 20},
		{"not trusted", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := startUpstream(t)
			cfg := limits.DefaultConfig()
			cfg.TrustedProxies, _ = limits.ParsePrefixes(tc.trusted)
			gw := startGateway(t, u, gateway.Options{Limits: &cfg})
			start := time.Now()
			for range 40 {
				get(t, gw.URL+"/v1/partnerGroups/"+refusedID, "Bearer forged.token.sig", "198.51.100.1")
			}
			got := 0
			for range 40 {
				if get(t, gw.URL+"/v1/partnerGroups/"+refusedID, "Bearer forged.token.sig", "198.51.100.2").StatusCode == http.StatusUnauthorized {
					got++
				}
			}
			if slack := int(time.Since(start).Seconds()) + 1; got < tc.want || got > tc.want+slack {
				t.Errorf("second client: %d requests reached the service, want %d", got, tc.want)
			}
			// The chain goes on to the service, the gateway's own peer last, so a service
			// trusting the gateway counts the same client.
			if xff := u.partner.seen().Get("x-forwarded-for"); len(xff) != 1 || !strings.HasPrefix(xff[0], "198.51.100.") || !strings.HasSuffix(xff[0], ", 127.0.0.1") {
				t.Errorf("x-forwarded-for at the service: %q", xff)
			}
		})
	}
}
