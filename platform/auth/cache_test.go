package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestTokenCache(t *testing.T) {
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	p := Principal{Subject: "s", Roles: []Role{RoleAdmin}, Scope: []string{"450105"}}
	tests := []struct {
		name   string
		expiry time.Time
		at     time.Duration
		hit    bool
	}{
		{"fresh", now.Add(time.Hour), 59 * time.Second, true},
		{"past the cache TTL", now.Add(time.Hour), 61 * time.Second, false},
		{"token expiring soon stays until exp plus skew", now.Add(10 * time.Second), 69 * time.Second, false},
		{"token expiring soon, before exp", now.Add(10 * time.Second), 9 * time.Second, true},
		{"token already past exp within skew", now.Add(-30 * time.Second), 29 * time.Second, true},
		{"token past exp plus skew", now.Add(-30 * time.Second), 31 * time.Second, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTokenCache()
			c.put("tok", p, tt.expiry, now)
			if _, hit := c.get("tok", now.Add(tt.at)); hit != tt.hit {
				t.Fatalf("hit = %v, want %v", hit, tt.hit)
			}
			if _, hit := c.get("other", now); hit {
				t.Fatal("a token never put was found")
			}
		})
	}

	c := newTokenCache()
	c.put("tok", p, now.Add(time.Hour), now)
	got, _ := c.get("tok", now)
	got.Roles[0], got.Scope[0] = RoleResident, "x"
	if again, _ := c.get("tok", now); again.Roles[0] != RoleAdmin || again.Scope[0] != "450105" {
		t.Fatalf("a caller's change reached the cache: %+v", again)
	}

	// Bounded: a full cache makes room rather than grow.
	for i := range tokenCacheEntries + 10 {
		c.put(fmt.Sprint(i), p, now.Add(time.Hour), now)
	}
	if n := len(c.entries); n > tokenCacheEntries {
		t.Fatalf("%d entries, over the bound %d", n, tokenCacheEntries)
	}
}
