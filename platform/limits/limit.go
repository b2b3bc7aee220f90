// Package limits keeps one caller from taking what every caller shares: token-bucket rate
// limits per principal (per client address for calls without one), a per-address bucket of
// authentication failures that refuses quickly once spent, and caps on the streams one caller
// holds open. platform/assembly puts them in every service's interceptor chain; the gateway
// uses the same buckets for its own anonymous requests and failed authentications.
//
// A caller over a limit gets RESOURCE_EXHAUSTED with a RetryInfo detail saying when to try
// again (HTTP 429 with Retry-After through the gateway). The buckets live in bounded LRU maps:
// an attacker rotating addresses evicts the buckets of callers idle longest, never grows the
// map.
package limits

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/time/rate"
)

// Limit is a token bucket: Burst calls at once, refilled at Rate calls a second. The zero
// value allows nothing; Unlimited allows everything.
type Limit struct {
	Rate  rate.Limit
	Burst int
}

// Unlimited is no limit at all ("off" in settings).
var Unlimited = Limit{Rate: rate.Inf}

// Off reports whether l limits nothing.
func (l Limit) Off() bool { return l.Rate == rate.Inf }

// String is the setting's spelling: "5:20" (5 a second, bursts of 20), or "off".
func (l Limit) String() string {
	if l.Off() {
		return "off"
	}
	return strconv.FormatFloat(float64(l.Rate), 'f', -1, 64) + ":" + strconv.Itoa(l.Burst)
}

// ParseLimit reads "RATE:BURST" (calls a second, which may be a fraction, and the most at
// once) or "off".
func ParseLimit(s string) (Limit, error) {
	s = strings.TrimSpace(s)
	if s == "off" {
		return Unlimited, nil
	}
	r, b, ok := strings.Cut(s, ":")
	if !ok {
		return Limit{}, fmt.Errorf("%q: want RATE:BURST (calls a second and the most at once, e.g. 5:20) or off", s)
	}
	perSecond, err := strconv.ParseFloat(strings.TrimSpace(r), 64)
	if err != nil || perSecond <= 0 || math.IsInf(perSecond, 0) || math.IsNaN(perSecond) {
		return Limit{}, fmt.Errorf("%q: the rate must be a positive number of calls a second", s)
	}
	burst, err := strconv.Atoi(strings.TrimSpace(b))
	if err != nil || burst < 1 {
		return Limit{}, fmt.Errorf("%q: the burst must be a whole number of at least 1", s)
	}
	return Limit{Rate: rate.Limit(perSecond), Burst: burst}, nil
}

// moreGenerous reports whether a allows more than b: off beats any rate, then the higher rate,
// then the larger burst.
func (a Limit) moreGenerous(b Limit) bool {
	switch {
	case a.Off() || b.Off():
		return a.Off() && !b.Off()
	case a.Rate != b.Rate:
		return a.Rate > b.Rate
	default:
		return a.Burst > b.Burst
	}
}

// limitValue is a flag.Value for one Limit.
type limitValue struct{ l *Limit }

func (v limitValue) String() string {
	if v.l == nil {
		return ""
	}
	return v.l.String()
}

func (v limitValue) Set(s string) error {
	l, err := ParseLimit(s)
	if err != nil {
		return err
	}
	*v.l = l
	return nil
}

var errNoRoles = errors.New("name at least one role: ROLE=RATE:BURST, comma-separated")
