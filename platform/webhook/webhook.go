// Package webhook calls a district's outside systems (its messaging gateway today) with signed
// HTTPS POSTs, and lets a receiver check them. Every call carries:
//
//	Content-Type: application/json
//	Idempotency-Key: <the sender's id for the message; the same on every retry>
//	X-Jiayuan-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the shared secret>
//
// The signature is Stripe's scheme: the receiver recomputes the HMAC over the timestamp, a dot
// and the raw body with the secret both sides hold, compares it in constant time with any v1
// in the header ([Verify] does it), and refuses a timestamp further than a few minutes from
// its clock ([DefaultTolerance]), so a captured call cannot be replayed later. Within the
// window, a replay carries an Idempotency-Key the receiver has already seen.
//
// A URL must be https: the body holds residents' phone numbers. Plain http is accepted only
// for a loopback address, and only when the caller allows it (a development suite, tests).
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The headers of a call.
const (
	SignatureHeader   = "X-Jiayuan-Signature"
	IdempotencyHeader = "Idempotency-Key"
)

// DefaultTolerance is how far a signature's timestamp may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// DefaultTimeout bounds one call, connection to last byte of the answer.
const DefaultTimeout = 10 * time.Second

// MinSecretLen is the least length of a shared secret, in bytes: an HMAC key shorter than this
// is guessable offline from one signed call.
const MinSecretLen = 16

// Sign returns the signature header of body sent at t: "t=<unix>,v1=<hex>".
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// The reasons Verify refuses a call.
var (
	ErrNoSignature  = errors.New("webhook: no valid signature header")
	ErrBadSignature = errors.New("webhook: signature does not match")
	ErrStale        = errors.New("webhook: signature timestamp outside the tolerance")
)

// Verify checks header (the X-Jiayuan-Signature value) against the raw body under secret, and
// that its timestamp is within tolerance of now (DefaultTolerance when tolerance is 0). A
// header may carry several v1 values (a sender between two secrets): one match suffices.
func Verify(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	matched := false
	for _, s := range sigs {
		// Every value compared, in constant time: no early exit tells which one matched.
		if hmac.Equal(s, want) {
			matched = true
		}
	}
	if !matched {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrStale
	}
	return nil
}

// CheckURL accepts an absolute https URL with a host; an http one only when allowLoopbackHTTP
// and its host is a loopback address (localhost, 127.0.0.0/8, ::1). The error says why, and
// never repeats the URL, whose query may hold a credential.
func CheckURL(raw string, allowLoopbackHTTP bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("not an absolute URL with a host (https://…)")
	}
	if u.User != nil {
		return errors.New("credentials in the URL: the shared secret signs the calls instead")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if allowLoopbackHTTP && isLoopback(u.Hostname()) {
			return nil
		}
		if allowLoopbackHTTP {
			return errors.New("http:// is accepted only to a loopback address (localhost, 127.0.0.1, ::1); use https://")
		}
		return errors.New("must be https://: the calls carry residents' phone numbers")
	default:
		return fmt.Errorf("scheme %q: must be https://", u.Scheme)
	}
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Config configures a Client.
type Config struct {
	// URL is where the calls go: https (see CheckURL).
	URL string
	// Secret is the shared secret the calls are signed with, at least MinSecretLen bytes.
	Secret []byte
	// AllowLoopbackHTTP accepts an http URL to a loopback address (a development suite, tests).
	AllowLoopbackHTTP bool
	// Timeout bounds one call; DefaultTimeout when 0.
	Timeout time.Duration
	// Transport sends the requests; http.DefaultTransport when nil (tests: an httptest
	// server's client transport).
	Transport http.RoundTripper
	// RootCAs are the authorities the URL's certificate must chain to, when Transport is nil:
	// a gateway on a district's network with a certificate of the district's own CA. Nil: the
	// system's roots.
	RootCAs *x509.CertPool
	// Now is the clock signatures are stamped with; time.Now when nil.
	Now func() time.Time
	// UserAgent identifies the sender; "jiayuan" when empty.
	UserAgent string
}

// Client posts signed calls to one URL. It is safe for concurrent use.
type Client struct {
	url       string
	secret    []byte
	http      *http.Client
	now       func() time.Time
	userAgent string
}

// New checks cfg and returns its Client.
func New(cfg Config) (*Client, error) {
	if err := CheckURL(cfg.URL, cfg.AllowLoopbackHTTP); err != nil {
		return nil, fmt.Errorf("webhook URL: %w", err)
	}
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("webhook secret: %d bytes, want at least %d", len(cfg.Secret), MinSecretLen)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	ua := cfg.UserAgent
	if ua == "" {
		ua = "jiayuan"
	}
	transport := cfg.Transport
	if transport == nil && cfg.RootCAs != nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}
		transport = t
	}
	return &Client{
		url: cfg.URL, secret: append([]byte(nil), cfg.Secret...), now: now, userAgent: ua,
		http: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			// A redirect is not followed: it could lead the body, phone numbers and all, to
			// another host or to plain http.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// StatusError is an answer other than 2xx.
type StatusError struct {
	Code int
}

func (e *StatusError) Error() string {
	return "the webhook answered HTTP " + strconv.Itoa(e.Code) + " " + http.StatusText(e.Code)
}

// Retryable reports whether a call that failed with err may succeed if made again: a network
// failure, a timeout, or an answer of 408, 409, 425, 429 or 5xx. Any other answer (a 4xx, a
// redirect) says the call itself is wrong, and trying again changes nothing.
func Retryable(err error) bool {
	var se *StatusError
	if !errors.As(err, &se) {
		return err != nil
	}
	switch se.Code {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return se.Code >= 500
}

// Post sends body (JSON) with its Idempotency-Key, signed at the current time. It returns nil
// on a 2xx answer, a *StatusError on another answer, or the transport's failure. The error
// never holds the URL (which may carry a credential) nor anything of the answer's body.
func (c *Client) Post(ctx context.Context, idempotencyKey string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return errors.New("webhook: build the request")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(IdempotencyHeader, idempotencyKey)
	req.Header.Set(SignatureHeader, Sign(c.secret, c.now(), body))
	resp, err := c.http.Do(req)
	if err != nil {
		return transportError(err)
	}
	// Drained (a little) so the connection can be reused, and never read further.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &StatusError{Code: resp.StatusCode}
	}
	return nil
}

// transportError is err without the URL that *url.Error adds to it.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return errTimeout
		}
		return fmt.Errorf("webhook: %w", ue.Err)
	}
	return fmt.Errorf("webhook: %w", err)
}

var errTimeout = errors.New("webhook: no answer within the timeout")
