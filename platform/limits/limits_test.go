package limits_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jiayuan/jiayuan/platform/apierr"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/limits"
)

func TestParseLimit(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    limits.Limit
		wantErr string
	}{
		{"5:20", limits.Limit{Rate: 5, Burst: 20}, ""},
		{" 0.5 : 3 ", limits.Limit{Rate: 0.5, Burst: 3}, ""},
		{"off", limits.Unlimited, ""},
		{"5", limits.Limit{}, "want RATE:BURST"},
		{"0:20", limits.Limit{}, "positive"},
		{"-1:20", limits.Limit{}, "positive"},
		{"NaN:20", limits.Limit{}, "positive"},
		{"Inf:20", limits.Limit{}, "positive"},
		{"5:0", limits.Limit{}, "at least 1"},
		{"5:2.5", limits.Limit{}, "whole number"},
	} {
		got, err := limits.ParseLimit(tc.in)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("ParseLimit(%q) = %v, %v; want an error saying %q", tc.in, got, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || got != tc.want):
			t.Errorf("ParseLimit(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		case tc.wantErr == "" && got.String() != strings.ReplaceAll(strings.TrimSpace(tc.in), " ", ""):
			t.Errorf("ParseLimit(%q).String() = %q", tc.in, got.String())
		}
	}
}

// TestDefaultsCoverEveryRole: a role without a default limit would be unlimited.
func TestDefaultsCoverEveryRole(t *testing.T) {
	d := limits.DefaultRoleLimits()
	for _, r := range auth.Roles() {
		if _, ok := d[r]; !ok {
			t.Errorf("role %s has no default rate limit", r)
		}
	}
	if !d[auth.RoleSystem].Off() || d[auth.RoleResident] != (limits.Limit{Rate: 5, Burst: 20}) {
		t.Errorf("defaults: system %v, resident %v", d[auth.RoleSystem], d[auth.RoleResident])
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(t *testing.T, c limits.Config)
		wantErr string
	}{
		{name: "defaults", check: func(t *testing.T, c limits.Config) {
			if c.Roles[auth.RoleResident] != (limits.Limit{Rate: 5, Burst: 20}) || c.MaxStreams != limits.DefaultMaxStreams || len(c.TrustedProxies) != 6 {
				t.Errorf("config %+v", c)
			}
		}},
		{name: "roles named change, others keep their defaults", args: []string{"--rate-limits", "resident=2:10, admin=off", "--rate-limits", "partner=1:1"},
			check: func(t *testing.T, c limits.Config) {
				if c.Roles[auth.RoleResident] != (limits.Limit{Rate: 2, Burst: 10}) || !c.Roles[auth.RoleAdmin].Off() ||
					c.Roles[auth.RolePartner] != (limits.Limit{Rate: 1, Burst: 1}) || c.Roles[auth.RoleCommunityStaff] != limits.DefaultRoleLimits()[auth.RoleCommunityStaff] {
					t.Errorf("roles %v", c.Roles)
				}
			}},
		{name: "from the environment", env: map[string]string{"JIAYUAN_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.7,fd00::/8", "JIAYUAN_AUTH_FAILURE_LIMIT": "0.2:5"},
			check: func(t *testing.T, c limits.Config) {
				want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.7/32"), netip.MustParsePrefix("fd00::/8")}
				if len(c.TrustedProxies) != 3 || c.TrustedProxies[0] != want[0] || c.TrustedProxies[1] != want[1] || c.TrustedProxies[2] != want[2] {
					t.Errorf("trusted proxies %v", c.TrustedProxies)
				}
				if c.AuthFailures != (limits.Limit{Rate: 0.2, Burst: 5}) {
					t.Errorf("auth failures %v", c.AuthFailures)
				}
			}},
		{name: "trusting none", args: []string{"--trusted-proxies", "none"}, check: func(t *testing.T, c limits.Config) {
			if got := limits.ClientAddr(netip.MustParseAddr("10.0.0.1"), []string{"198.51.100.1"}, c.TrustedProxies); got.String() != "10.0.0.1" {
				t.Errorf("trusting none, the client is %s", got)
			}
		}},
		{name: "by default, a pod's header is believed", check: func(t *testing.T, c limits.Config) {
			if got := limits.ClientAddr(netip.MustParseAddr("10.0.0.1"), []string{"198.51.100.1"}, c.TrustedProxies); got.String() != "198.51.100.1" {
				t.Errorf("by default, behind a pod, the client is %s", got)
			}
			if got := limits.ClientAddr(netip.MustParseAddr("203.0.113.1"), []string{"198.51.100.1"}, c.TrustedProxies); got.String() != "203.0.113.1" {
				t.Errorf("by default, a public peer's header believed: %s", got)
			}
		}},
		{name: "unknown role", args: []string{"--rate-limits", "mayor=1:1"}, wantErr: `unknown role "mayor"`},
		{name: "no role", args: []string{"--rate-limits", ","}, wantErr: "name at least one role"},
		{name: "bad network", args: []string{"--trusted-proxies", "10.0.0.0/33"}, wantErr: "is not a network"},
		{name: "failures cannot be off", args: []string{"--auth-failure-limit", "off"}, wantErr: "cannot be off"},
		{name: "no streams", args: []string{"--max-streams-per-caller", "0"}, wantErr: "must be at least 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := limits.DefaultConfig()
			fs := config.NewFlagSet("test", config.WithLookupEnv(func(k string) (string, bool) {
				v, ok := tc.env[k]
				return v, ok
			}))
			c.RegisterFlags(fs)
			err := fs.Parse(tc.args)
			if err == nil {
				var p config.Problems
				c.Check(&p)
				err = p.Err()
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, c)
		})
	}
}

func TestClientAddr(t *testing.T) {
	trusted, err := limits.ParsePrefixes("10.0.0.0/8,192.168.0.1")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, peer string
		forwarded  []string
		want       string
	}{
		{"untrusted peer: its header is ignored", "203.0.113.9", []string{"198.51.100.1"}, "203.0.113.9"},
		{"trusted peer without a header", "10.1.2.3", nil, "10.1.2.3"},
		{"trusted peer: the client it names", "10.1.2.3", []string{"198.51.100.1"}, "198.51.100.1"},
		{"a client's own header is not believed past the first untrusted hop", "10.1.2.3", []string{"1.2.3.4, 198.51.100.1"}, "198.51.100.1"},
		{"through two trusted hops", "10.1.2.3", []string{"198.51.100.1, 192.168.0.1", "10.9.9.9"}, "198.51.100.1"},
		{"garbage stops the walk at the last hop established", "10.1.2.3", []string{"198.51.100.1, not-an-ip"}, "10.1.2.3"},
		{"only trusted hops", "10.1.2.3", []string{"10.0.0.1"}, "10.0.0.1"},
		{"IPv4 in IPv6", "::ffff:10.1.2.3", []string{"198.51.100.1"}, "198.51.100.1"},
	} {
		got := limits.ClientAddr(netip.MustParseAddr(tc.peer), tc.forwarded, trusted)
		if got.String() != tc.want {
			t.Errorf("%s: ClientAddr = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// clock is a test clock that moves only when told to.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time          { return c.now }
func (c *clock) Advance(d time.Duration) { c.now = c.now.Add(d) }

// fromAddr is a call's context from the address addr (host:port), as gRPC makes it, with
// x-forwarded-for headers.
func fromAddr(addr string, forwarded ...string) context.Context {
	tcp, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		panic(err)
	}
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: tcp})
	if len(forwarded) > 0 {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("x-forwarded-for", strings.Join(forwarded, ", ")))
	}
	return ctx
}

func unary(l *limits.Limiter, ctx context.Context) error {
	_, err := l.UnaryServerInterceptor()(ctx, nil, &grpc.UnaryServerInfo{FullMethod: "/x.Y/Z"}, func(context.Context, any) (any, error) { return "ok", nil })
	return err
}

// TestBucketsRefillAndSayWhen: a bucket spent refuses with the time until its next token, and
// serves again once that has passed; a principal with several roles gets the most generous.
func TestBucketsRefillAndSayWhen(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)}
	l, err := limits.New(limits.DefaultConfig(), limits.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	resident := auth.WithPrincipal(fromAddr("203.0.113.9:4000"), auth.Principal{Subject: "r", Roles: []auth.Role{auth.RoleResident}})
	for i := range 20 {
		if err := unary(l, resident); err != nil {
			t.Fatalf("call %d of the burst: %v", i+1, err)
		}
	}
	err = unary(l, resident)
	if status.Code(err) != codes.ResourceExhausted || !strings.Contains(err.Error(), "retry in 200ms") {
		t.Errorf("21st call: %v, want RESOURCE_EXHAUSTED saying retry in 200ms (5 a second)", err)
	}
	clk.Advance(200 * time.Millisecond)
	if err := unary(l, resident); err != nil {
		t.Errorf("a fifth of a second later: %v", err)
	}
	both := auth.WithPrincipal(fromAddr("203.0.113.9:4000"), auth.Principal{Subject: "rs", Roles: []auth.Role{auth.RoleResident, auth.RoleCommunityStaff}})
	for i := range 100 {
		if err := unary(l, both); err != nil {
			t.Fatalf("resident and staff, call %d: %v", i+1, err)
		}
	}
}

// TestAnonymousByAddress: calls without a principal count against their client address (the
// IPv6 /64, not each address in it), and behind a trusted proxy against the client it names.
func TestAnonymousByAddress(t *testing.T) {
	cfg := limits.DefaultConfig()
	cfg.Anonymous = limits.Limit{Rate: 1, Burst: 2}
	cfg.TrustedProxies, _ = limits.ParsePrefixes("10.0.0.0/8")
	l, err := limits.New(cfg, limits.WithClock((&clock{now: time.Unix(1e9, 0)}).Now))
	if err != nil {
		t.Fatal(err)
	}
	calls := func(ctxs ...context.Context) (ok int) {
		for _, ctx := range ctxs {
			if unary(l, ctx) == nil {
				ok++
			}
		}
		return ok
	}
	if ok := calls(fromAddr("[2001:db8::1]:1"), fromAddr("[2001:db8::2]:1"), fromAddr("[2001:db8::3]:1")); ok != 2 {
		t.Errorf("three addresses of one /64: %d calls allowed, want 2", ok)
	}
	if ok := calls(fromAddr("[2001:db8:0:1::1]:1")); ok != 1 {
		t.Errorf("another /64: %d allowed, want 1", ok)
	}
	if ok := calls(fromAddr("10.0.0.5:1", "198.51.100.1"), fromAddr("10.0.0.6:1", "198.51.100.1"), fromAddr("10.0.0.5:1", "198.51.100.1")); ok != 2 {
		t.Errorf("one client behind two trusted proxies: %d allowed, want 2", ok)
	}
	if ok := calls(fromAddr("10.0.0.5:1", "198.51.100.2")); ok != 1 {
		t.Errorf("another client behind the proxy: %d allowed, want 1", ok)
	}
	// An untrusted peer's header is its own invention: it is counted as itself.
	if ok := calls(fromAddr("203.0.113.5:1", "198.51.100.3"), fromAddr("203.0.113.5:1", "198.51.100.4"), fromAddr("203.0.113.5:1", "198.51.100.5")); ok != 2 {
		t.Errorf("an untrusted peer naming three clients: %d allowed, want 2", ok)
	}
}

// TestBucketsAreBounded: the map of buckets never holds more than MaxClients; a bucket dropped
// comes back full.
func TestBucketsAreBounded(t *testing.T) {
	cfg := limits.DefaultConfig()
	cfg.MaxClients = 100
	clk := &clock{now: time.Unix(1e9, 0)}
	l, err := limits.New(cfg, limits.WithClock(clk.Now))
	if err != nil {
		t.Fatal(err)
	}
	first := auth.WithPrincipal(context.Background(), auth.Principal{Subject: "first", Roles: []auth.Role{auth.RoleResident}})
	for range 20 {
		_ = unary(l, first)
	}
	if unary(l, first) == nil {
		t.Fatal("the first resident's bucket is not spent")
	}
	for i := range 10_000 {
		p := auth.Principal{Subject: "r" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String(), Roles: []auth.Role{auth.RoleResident}}
		_ = unary(l, auth.WithPrincipal(context.Background(), p))
	}
	if n := limits.BucketCount(l); n > 100 {
		t.Errorf("%d buckets kept, want at most 100", n)
	}
	if err := unary(l, first); err != nil {
		t.Errorf("the first resident, dropped and back: %v, want a full bucket", err)
	}
}

// TestRefusalsAsAPIErrors: the refusals are what apierr.ResourceExhausted builds, in its domain.
func TestRefusalsAsAPIErrors(t *testing.T) {
	if limits.Domain != apierr.Domain {
		t.Errorf("limits.Domain %q, apierr.Domain %q", limits.Domain, apierr.Domain)
	}
	got := status.Convert(limits.AuthFailuresError(2 * time.Second)).Proto()
	want := status.Convert(apierr.ResourceExhausted(limits.ReasonAuthFailures, got.GetMessage(), 2*time.Second)).Proto()
	if !proto.Equal(got, want) {
		t.Errorf("refusal %v, apierr's %v", got, want)
	}
}
