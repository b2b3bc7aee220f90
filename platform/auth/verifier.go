package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/jiayuan/jiayuan/platform/config"
)

// Flag names of the verifier's settings (see [VerifierConfig.RegisterFlags]).
const (
	FlagIssuer        = "auth-issuer"
	FlagAudience      = "auth-audience"
	FlagJWKSURL       = "auth-jwks-url"
	FlagPublicKeyFile = "auth-public-key-file"
	FlagMaxLifetime   = "auth-max-token-lifetime"
	FlagMaxSystemLife = "auth-max-system-token-lifetime"
	FlagJWKSInterval  = "auth-jwks-min-fetch-interval"
)

// DefaultMaxTokenLifetime bounds a token's lifetime when VerifierConfig.MaxTokenLifetime is
// zero: a day, so a token that leaks is useful for a day at most.
const DefaultMaxTokenLifetime = 24 * time.Hour

// VerifierConfig says which tokens to accept: those issued by Issuer for Audience and signed by
// a key from JWKSURL (the identity provider's key set, fetched and cached, refreshed when a
// token names an unknown key) or from PublicKeyPEM (one or more PEM public keys or
// certificates). Exactly one of JWKSURL and PublicKeyPEM is set.
//
// A token living longer than MaxTokenLifetime (exp − iat, or exp − now without iat) is
// refused, however valid otherwise: identity providers issue short tokens, and a long one is
// a mistake or a forgery with a stolen key that should not outlive the day. System principals
// (services calling each other) get MaxSystemTokenLifetime when it is set, else the same limit:
// they hold the widest access, so a longer life is a deployment's explicit choice.
type VerifierConfig struct {
	Issuer       string
	Audience     string
	JWKSURL      string
	PublicKeyPEM []byte
	// MaxTokenLifetime is the longest lifetime accepted; zero means DefaultMaxTokenLifetime.
	MaxTokenLifetime time.Duration
	// MaxSystemTokenLifetime is the longest for tokens with the system role; zero means
	// MaxTokenLifetime.
	MaxSystemTokenLifetime time.Duration
	// JWKSMinFetchInterval is the floor between two fetches of the key set at JWKSURL; zero
	// means DefaultJWKSMinFetchInterval.
	JWKSMinFetchInterval time.Duration
}

// RegisterFlags declares the settings on fs, writing into c. The public key is given as a file,
// which is read when the flag is set.
func (c *VerifierConfig) RegisterFlags(fs *config.FlagSet) {
	fs.StringVar(&c.Issuer, FlagIssuer, c.Issuer, "expected token issuer (`iss`), e.g. the identity provider's URL")
	fs.StringVar(&c.Audience, FlagAudience, c.Audience, "expected token audience (`aud`)")
	fs.StringVar(&c.JWKSURL, FlagJWKSURL, c.JWKSURL, "`URL` of the identity provider's JSON Web Key Set (https)")
	fs.DurationVar(&c.MaxTokenLifetime, FlagMaxLifetime, c.lifetime(), "longest token lifetime accepted (exp − iat)")
	fs.DurationVar(&c.MaxSystemTokenLifetime, FlagMaxSystemLife, c.MaxSystemTokenLifetime,
		"longest lifetime accepted for tokens with the system role (default: the same as --"+FlagMaxLifetime+")")
	fs.DurationVar(&c.JWKSMinFetchInterval, FlagJWKSInterval, c.jwksInterval(),
		"least time between two fetches of the key set at --"+FlagJWKSURL+": a token naming an unseen key fetches it at most this often")
	fs.Func(FlagPublicKeyFile, "`file` holding PEM public keys or certificates that sign tokens (instead of a JWKS URL)", func(path string) error {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		c.PublicKeyPEM = data
		return nil
	})
}

// lifetime is the limit for people's tokens, the default filled in.
func (c VerifierConfig) lifetime() time.Duration {
	if c.MaxTokenLifetime == 0 {
		return DefaultMaxTokenLifetime
	}
	return c.MaxTokenLifetime
}

// jwksInterval is the floor between key set fetches, the default filled in.
func (c VerifierConfig) jwksInterval() time.Duration {
	if c.JWKSMinFetchInterval == 0 {
		return DefaultJWKSMinFetchInterval
	}
	return c.JWKSMinFetchInterval
}

// systemLifetime is the limit for system principals' tokens, the defaults filled in.
func (c VerifierConfig) systemLifetime() time.Duration {
	if c.MaxSystemTokenLifetime == 0 {
		return c.lifetime()
	}
	return c.MaxSystemTokenLifetime
}

// Validate reports every invalid setting, named by its environment variable and flag.
func (c VerifierConfig) Validate() error {
	var p config.Problems
	if c.MaxTokenLifetime < 0 {
		p.Addf(FlagMaxLifetime, "must be positive, got %s", c.MaxTokenLifetime)
	}
	if c.MaxSystemTokenLifetime < 0 {
		p.Addf(FlagMaxSystemLife, "must be positive, got %s", c.MaxSystemTokenLifetime)
	}
	if c.JWKSMinFetchInterval < 0 {
		p.Addf(FlagJWKSInterval, "must be positive, got %s", c.JWKSMinFetchInterval)
	}
	p.Check(FlagIssuer, config.Required(c.Issuer))
	if strings.ContainsAny(c.Issuer, " \t\n") {
		p.Addf(FlagIssuer, "%q must not contain spaces", c.Issuer)
	}
	p.Check(FlagAudience, config.Required(c.Audience))
	switch {
	case c.JWKSURL == "" && len(c.PublicKeyPEM) == 0:
		p.Addf(FlagJWKSURL, "set it or %s to say which keys sign tokens", config.Setting(FlagPublicKeyFile))
	case c.JWKSURL != "" && len(c.PublicKeyPEM) > 0:
		p.Addf(FlagJWKSURL, "set either it or %s, not both", config.Setting(FlagPublicKeyFile))
	case c.JWKSURL != "":
		p.Check(FlagJWKSURL, checkJWKSURL(c.JWKSURL))
	default:
		_, err := parsePublicKeys(c.PublicKeyPEM)
		p.Check(FlagPublicKeyFile, err)
	}
	return p.Err()
}

// checkJWKSURL accepts https, and plain http only on the loopback interface (a local identity
// provider in development and tests): keys fetched in the clear could be replaced on the way.
func checkJWKSURL(s string) error {
	if err := config.URL(s, "https", "http"); err != nil {
		return err
	}
	u, _ := url.Parse(s)
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return fmt.Errorf("%q: must be https (plain http only for localhost)", u.Redacted())
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parsePublicKeys reads every PUBLIC KEY, RSA PUBLIC KEY and CERTIFICATE block in data.
func parsePublicKeys(data []byte) ([]crypto.PublicKey, error) {
	var keys []crypto.PublicKey
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var key any
		var err error
		switch block.Type {
		case "PUBLIC KEY":
			key, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			key, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				key = cert.PublicKey
			}
		default:
			// Most likely a private key pasted by mistake: refuse rather than ship it around.
			return nil, fmt.Errorf("PEM block %d is %q; want PUBLIC KEY or CERTIFICATE blocks only", n, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("PEM block %d (%s): %w", n, block.Type, err)
		}
		switch k := key.(type) {
		case *rsa.PublicKey:
			if k.N.BitLen() < 2048 {
				return nil, fmt.Errorf("PEM block %d: RSA key of %d bits is too short (want at least 2048)", n, k.N.BitLen())
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			return nil, fmt.Errorf("PEM block %d: unsupported key type %T (want RSA, ECDSA or Ed25519)", n, key)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("holds no PEM public key")
	}
	return keys, nil
}

// acceptedAlgs are the asymmetric JWS algorithms accepted. Never "none", never HMAC: a
// verifier holding only public keys must not accept a token whose "key" is public.
var acceptedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// anyAlg is used only to tell a token signed with a refused algorithm from a malformed one.
var anyAlg = append([]jose.SignatureAlgorithm{jose.HS256, jose.HS384, jose.HS512, "none"}, acceptedAlgs...)

const (
	// clockSkew is tolerated on exp, nbf and iat between the identity provider and us.
	clockSkew = time.Minute
	// maxTokenBytes bounds what is parsed at all; real tokens are a few hundred bytes to a few KiB.
	maxTokenBytes = 16 << 10
)

// ErrKeysUnavailable is wrapped by Verify's error when the identity provider's key set could not
// be fetched: the token may be fine, the caller should retry (UNAVAILABLE, not UNAUTHENTICATED).
var ErrKeysUnavailable = errors.New("identity provider keys unavailable")

// TokenError is a token Verify refused.
type TokenError struct {
	// Reason is safe to show the caller ("token expired"); it never contains the token.
	Reason string
	// Err has the details, for logs.
	Err error
}

func (e *TokenError) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *TokenError) Unwrap() error { return e.Err }

func tokenError(reason string, format string, args ...any) *TokenError {
	var err error
	if format != "" {
		err = fmt.Errorf(format, args...)
	}
	return &TokenError{Reason: reason, Err: err}
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	issuer   string
	audience string
	// maxLife and maxSystemLife bound exp − iat for people's and system principals' tokens.
	maxLife, maxSystemLife time.Duration
	keys                   keySet
	now                    func() time.Time
	logger                 *slog.Logger
	cache                  *tokenCache
}

type verifierOptions struct {
	now        func() time.Time
	httpClient *http.Client
	logger     *slog.Logger
}

// VerifierOption configures a Verifier.
type VerifierOption func(*verifierOptions)

// WithClock makes the verifier read the time from now (for tests).
func WithClock(now func() time.Time) VerifierOption {
	return func(o *verifierOptions) { o.now = now }
}

// WithHTTPClient sets the client that fetches the JWKS, e.g. to trust a private CA. The
// default has a 10-second timeout.
func WithHTTPClient(c *http.Client) VerifierOption {
	return func(o *verifierOptions) { o.httpClient = c }
}

// WithLogger sets where the interceptors log refused calls (default slog.Default()).
func WithLogger(l *slog.Logger) VerifierOption {
	return func(o *verifierOptions) { o.logger = l }
}

// NewVerifier validates cfg and returns a verifier for it. With a JWKS URL nothing is fetched
// yet: keys are fetched on the first token and cached by key id (see remoteKeys); ctx only
// carries configuration for those fetches (its cancellation is ignored).
func NewVerifier(ctx context.Context, cfg VerifierConfig, opts ...VerifierOption) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth: invalid verifier config:\n%w", err)
	}
	o := verifierOptions{now: time.Now, httpClient: &http.Client{Timeout: 10 * time.Second}, logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	v := &Verifier{issuer: cfg.Issuer, audience: cfg.Audience, now: o.now, logger: o.logger, cache: newTokenCache(),
		maxLife: cfg.lifetime(), maxSystemLife: cfg.systemLifetime()}
	if cfg.JWKSURL != "" {
		v.keys = newRemoteKeys(ctx, cfg.JWKSURL, o.httpClient, cfg.jwksInterval(), o.now, o.logger)
	} else {
		keys, err := parsePublicKeys(cfg.PublicKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("auth: %s: %w", config.Setting(FlagPublicKeyFile), err)
		}
		v.keys = staticKeys(keys)
	}
	return v, nil
}

// claims are the token claims the system reads.
type claims struct {
	jwt.Claims
	Roles       []string `json:"roles"`
	RegionScope []string `json:"region_scope"`
	Partner     string   `json:"partner"`
	Department  string   `json:"department"`
	Name        string   `json:"name"`
}

// Verify checks a raw JWT — signature, algorithm, issuer, audience, expiry, not-before — and
// returns the principal it names. A refused token gives a *TokenError; an unreachable key set
// gives an error wrapping ErrKeysUnavailable.
func (v *Verifier) Verify(ctx context.Context, raw string) (Principal, error) {
	if p, ok := v.cache.get(raw, v.now()); ok {
		return p, nil
	}
	if len(raw) > maxTokenBytes {
		return Principal{}, tokenError("malformed token", "token is %d bytes, over the %d-byte limit", len(raw), maxTokenBytes)
	}
	// The algorithm is checked here, before any key is tried.
	jws, err := jose.ParseSignedCompact(raw, acceptedAlgs)
	if err != nil {
		if jws, err2 := jose.ParseSignedCompact(raw, anyAlg); err2 == nil && len(jws.Signatures) == 1 {
			return Principal{}, tokenError("signing algorithm not accepted", "alg %q", jws.Signatures[0].Header.Algorithm)
		}
		return Principal{}, tokenError("malformed token", "%v", err)
	}
	if len(jws.Signatures) != 1 {
		return Principal{}, tokenError("malformed token", "%d signatures, want 1", len(jws.Signatures))
	}
	payload, err := v.keys.verify(ctx, jws)
	if err != nil {
		if errors.Is(err, ErrKeysUnavailable) {
			return Principal{}, fmt.Errorf("auth: %w", err)
		}
		return Principal{}, tokenError("invalid signature", "%v", err)
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Principal{}, tokenError("invalid claims", "%v", err)
	}
	now := v.now()
	switch {
	case c.Issuer != v.issuer:
		return Principal{}, tokenError("wrong issuer", "iss %q, want %q", c.Issuer, v.issuer)
	case !c.Audience.Contains(v.audience):
		return Principal{}, tokenError("wrong audience", "aud %q, want %q", []string(c.Audience), v.audience)
	case c.Expiry == nil:
		return Principal{}, tokenError("invalid claims", "no exp claim")
	case now.Add(-clockSkew).After(c.Expiry.Time()):
		return Principal{}, tokenError("token expired", "expired at %s", c.Expiry.Time().UTC().Format(time.RFC3339))
	case c.NotBefore != nil && now.Add(clockSkew).Before(c.NotBefore.Time()):
		return Principal{}, tokenError("token not yet valid", "nbf %s", c.NotBefore.Time().UTC().Format(time.RFC3339))
	case c.IssuedAt != nil && now.Add(clockSkew).Before(c.IssuedAt.Time()):
		return Principal{}, tokenError("token issued in the future", "iat %s", c.IssuedAt.Time().UTC().Format(time.RFC3339))
	}
	p := Principal{Subject: c.Subject, Scope: c.RegionScope, Partner: c.Partner, Department: c.Department, Name: c.Name}
	for _, r := range c.Roles {
		p.Roles = append(p.Roles, Role(r))
	}
	if err := p.Validate(); err != nil {
		return Principal{}, tokenError("invalid claims", "%v", err)
	}
	if err := v.checkLifetime(c, p, now); err != nil {
		return Principal{}, err
	}
	v.cache.put(raw, p, c.Expiry.Time(), now)
	return p, nil
}

// checkLifetime refuses a token that lives longer than the limit for p: exp − iat, or, with no
// iat, exp − now (what is left of it is then all that can be judged). Both ends come from the
// identity provider when iat is present, so no clock skew is allowed for; without it, the
// skew is.
func (v *Verifier) checkLifetime(c claims, p Principal, now time.Time) error {
	limit := v.maxLife
	if p.HasRole(RoleSystem) {
		limit = v.maxSystemLife
	}
	start, slack := now, clockSkew
	if c.IssuedAt != nil {
		start, slack = c.IssuedAt.Time(), 0
	}
	if life := c.Expiry.Time().Sub(start); life > limit+slack {
		return tokenError("token lifetime too long", "exp − iat is %s, over the %s limit", life.Round(time.Second), limit)
	}
	return nil
}
