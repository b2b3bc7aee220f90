package limits

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
)

// Flag names of the settings (see Config.RegisterFlags and RegisterEdgeFlags).
const (
	FlagRateLimits       = "rate-limits"
	FlagAnonymous        = "anonymous-rate-limit"
	FlagAuthFailures     = "auth-failure-limit"
	FlagMaxClients       = "rate-limit-clients"
	FlagTrustedProxies   = "trusted-proxies"
	FlagMaxStreams       = "max-streams-per-caller"
	FlagMaxSystemStreams = "max-system-streams"
)

// Defaults, and why.
const (
	// DefaultMaxClients bounds each map of buckets: about 200 bytes a bucket, so 20 MB at most.
	DefaultMaxClients = 100_000
	// DefaultMaxStreams caps the streams (event feed Watch, health Watch, reflection) one
	// principal, or one address without a token, holds open on a node. A console watches one
	// feed per tab; 16 leaves room and keeps a stolen token from holding a thousand.
	DefaultMaxStreams = 16
	// DefaultMaxSystemStreams is the cap for system principals: each replica of each service
	// following this one's feed holds a stream under one principal.
	DefaultMaxSystemStreams = 256
)

// officials are the roles of people (and systems acting as a department) doing the
// platform's work, with one generous limit.
var officials = []auth.Role{
	auth.RoleGridWorker, auth.RoleCommunityStaff, auth.RoleStreetOfficer, auth.RoleDistrictOfficer,
	auth.RoleDepartment, auth.RoleAdmin, auth.RoleAuditor,
}

// DefaultRoleLimits are the per-principal limits by role:
//
//   - residents 5 calls a second, bursts of 20: a phone app opening a screen makes a handful of
//     calls; a script hammering the API as one resident is what this stops;
//   - partners 10:40, an organisation's front end used by a few people;
//   - officials (grid workers, staff, officers, departments, admins, auditors) 10,000:20,000:
//     a ceiling for a runaway client at about what one node serves one caller, never met by
//     work, whether people's or `make bench`'s 16 callers sharing one admin token;
//   - system principals (the services calling each other, each carrying all of its own users'
//     work) no limit: their users are limited where they come in.
func DefaultRoleLimits() map[auth.Role]Limit {
	m := map[auth.Role]Limit{
		auth.RoleResident: {Rate: 5, Burst: 20},
		auth.RolePartner:  {Rate: 10, Burst: 40},
		auth.RoleSystem:   Unlimited,
	}
	for _, r := range officials {
		m[r] = Limit{Rate: 10_000, Burst: 20_000}
	}
	return m
}

// DefaultAnonymous is the limit per client address on calls without a token (health checks,
// the gateway's /openapi.json and /healthz): probes call every few seconds.
var DefaultAnonymous = Limit{Rate: 20, Burst: 100}

// PrivateNetworks are loopback and the private address ranges (RFC 1918, RFC 4193): where a
// cluster's pods, and so the gateway and the ingress controller in front of it, live. They are
// the default trusted proxies: without them every client of the gateway would share the
// ingress controller's address at the gateway, and the gateway's at the services, and one
// client's failures would lock out everyone's new tokens. The cost: a caller connecting from a
// private address (in the cluster, or an intranet user) is believed about X-Forwarded-For, so
// can move its own failures to other buckets. Narrow the setting to the real proxies' networks
// where they are known.
func PrivateNetworks() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// DefaultAuthFailures is the per-address bucket of failed authentications: 20 at once (a
// client with an expired token retries a few times), then one a second.
var DefaultAuthFailures = Limit{Rate: 1, Burst: 20}

// Config is what the limits allow.
type Config struct {
	// Roles are the per-principal limits; a principal with several roles gets the most
	// generous of theirs. A role missing here is unlimited.
	Roles map[auth.Role]Limit
	// Anonymous is the limit per client address on calls without a principal.
	Anonymous Limit
	// AuthFailures is the per-address bucket of failed authentications (no, a malformed, a
	// forged or an expired token). Once it is spent, a call from that address whose token was
	// not verified in the last minute is refused before its token is even read.
	AuthFailures Limit
	// MaxClients bounds each map of buckets (principals, addresses); least recently seen go.
	MaxClients int
	// TrustedProxies are the networks whose X-Forwarded-For is believed (the gateway, load
	// balancers): a call from one of them is counted against the rightmost address in that
	// header that is not itself a trusted proxy. Others' headers are ignored. Nil trusts none;
	// DefaultConfig trusts PrivateNetworks.
	TrustedProxies []netip.Prefix
	// MaxStreams caps the streams one principal (or address without a token) holds open on a
	// node; MaxSystemStreams is the cap for system principals.
	MaxStreams, MaxSystemStreams int
	// Disabled turns every limit off, to measure what they cost (jiayuan-bench, benchmarks).
	Disabled bool
}

// DefaultConfig returns the defaults, as `jiayuan serve` and `jiayuan dev` use them.
func DefaultConfig() Config {
	return Config{
		Roles:            DefaultRoleLimits(),
		Anonymous:        DefaultAnonymous,
		AuthFailures:     DefaultAuthFailures,
		MaxClients:       DefaultMaxClients,
		TrustedProxies:   PrivateNetworks(),
		MaxStreams:       DefaultMaxStreams,
		MaxSystemStreams: DefaultMaxSystemStreams,
	}
}

// RegisterFlags declares a service's settings on fs, writing into c; c's values are the
// defaults (start from DefaultConfig).
func (c *Config) RegisterFlags(fs *config.FlagSet) {
	if c.Roles == nil {
		c.Roles = map[auth.Role]Limit{}
	}
	fs.Var(roleLimits{c.Roles}, FlagRateLimits, "per-caller rate limits by role, as ROLE=RATE:BURST (calls a second, most at once) or ROLE=off, comma-separated; "+
		"roles not named keep their defaults")
	c.RegisterEdgeFlags(fs)
	fs.IntVar(&c.MaxStreams, FlagMaxStreams, c.MaxStreams, "most streams (event feed Watch and the like) one caller holds open on a node")
	fs.IntVar(&c.MaxSystemStreams, FlagMaxSystemStreams, c.MaxSystemStreams, "most streams one system principal (a service) holds open on a node")
}

// RegisterEdgeFlags declares the settings the gateway shares with the services: the limit on
// calls without a token, the failed authentication bucket, the bound on buckets kept and the
// trusted proxies.
func (c *Config) RegisterEdgeFlags(fs *config.FlagSet) {
	fs.Var(limitValue{&c.Anonymous}, FlagAnonymous, "rate limit per client address on calls without a token, RATE:BURST or off")
	fs.Var(limitValue{&c.AuthFailures}, FlagAuthFailures, "failed authentications allowed per client address, RATE:BURST; once spent, calls from there are refused (429) until it refills")
	fs.IntVar(&c.MaxClients, FlagMaxClients, c.MaxClients, "most callers whose rate limit buckets are kept in memory (the least recently seen are dropped)")
	fs.Func(FlagTrustedProxies, "comma-separated networks (CIDR) whose X-Forwarded-For names the client: the gateway's and load balancers'; "+
		"none to trust none (default loopback and the private ranges 10/8, 172.16/12, 192.168/16, fc00::/7)", func(s string) error {
		if strings.TrimSpace(s) == "none" {
			c.TrustedProxies = []netip.Prefix{}
			return nil
		}
		p, err := ParsePrefixes(s)
		if err != nil {
			return err
		}
		c.TrustedProxies = p
		return nil
	})
}

// Check adds every invalid setting to p.
func (c Config) Check(p *config.Problems) {
	c.CheckEdge(p)
	for r, l := range c.Roles {
		if !r.Valid() {
			p.Addf(FlagRateLimits, "unknown role %q", r)
		}
		if !l.Off() && (l.Rate <= 0 || l.Burst < 1) {
			p.Addf(FlagRateLimits, "%s: %s allows nothing", r, l)
		}
	}
	if c.MaxStreams < 1 {
		p.Addf(FlagMaxStreams, "must be at least 1, got %d", c.MaxStreams)
	}
	if c.MaxSystemStreams < 1 {
		p.Addf(FlagMaxSystemStreams, "must be at least 1, got %d", c.MaxSystemStreams)
	}
}

// CheckEdge adds every invalid setting of RegisterEdgeFlags' to p.
func (c Config) CheckEdge(p *config.Problems) {
	if !c.Anonymous.Off() && (c.Anonymous.Rate <= 0 || c.Anonymous.Burst < 1) {
		p.Addf(FlagAnonymous, "%s allows nothing", c.Anonymous)
	}
	if c.AuthFailures.Off() {
		p.Addf(FlagAuthFailures, "cannot be off: repeated failures must be slowed down")
	} else if c.AuthFailures.Rate <= 0 || c.AuthFailures.Burst < 1 {
		p.Addf(FlagAuthFailures, "%s allows nothing", c.AuthFailures)
	}
	if c.MaxClients < 1 {
		p.Addf(FlagMaxClients, "must be at least 1, got %d", c.MaxClients)
	}
}

// ParsePrefixes reads comma-separated CIDR networks; a bare address is a network of one.
func ParsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or a network (CIDR)", f)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a network (CIDR, e.g. 10.0.0.0/8)", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// roleLimits is the flag.Value of --rate-limits: it changes the roles it names in m.
type roleLimits struct{ m map[auth.Role]Limit }

func (v roleLimits) String() string {
	if v.m == nil {
		return ""
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(v.m)) {
		parts = append(parts, string(r)+"="+v.m[r].String())
	}
	return strings.Join(parts, ",")
}

func (v roleLimits) Set(s string) error {
	set := map[auth.Role]Limit{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, spec, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("%q: want ROLE=RATE:BURST or ROLE=off", f)
		}
		r, err := auth.ParseRole(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		l, err := ParseLimit(spec)
		if err != nil {
			return fmt.Errorf("%s: %w", r, err)
		}
		set[r] = l
	}
	if len(set) == 0 {
		return errNoRoles
	}
	maps.Copy(v.m, set)
	return nil
}

// roleLimit is the limit of a principal holding roles: the most generous of theirs (a missing
// role is unlimited).
func (c Config) roleLimit(roles []auth.Role) Limit {
	var best Limit
	for i, r := range roles {
		l, ok := c.Roles[r]
		if !ok {
			return Unlimited
		}
		if i == 0 || l.moreGenerous(best) {
			best = l
		}
	}
	if len(roles) == 0 {
		return c.Anonymous
	}
	return best
}
