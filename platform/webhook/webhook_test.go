package webhook_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/platform/webhook"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url      string
		loopback bool
		ok       bool
		want     string
	}{
		{"https://sms.jiangnan.example/hooks/jiayuan", false, true, ""},
		{"https://10.1.2.3:8443/notify", false, true, ""},
		{"http://sms.jiangnan.example/hooks", false, false, "must be https"},
		{"http://127.0.0.1:8080/hook", false, false, "must be https"},
		{"http://127.0.0.1:8080/hook", true, true, ""},
		{"http://[::1]:8080/hook", true, true, ""},
		{"http://localhost/hook", true, true, ""},
		{"http://sms.jiangnan.example/hooks", true, false, "only to a loopback"},
		{"ftp://sms.jiangnan.example/", false, false, "scheme"},
		{"sms.jiangnan.example/hooks", false, false, "absolute"},
		{"https://user:pass@sms.example/", false, false, "credentials"},
		{"", false, false, "absolute"},
		{"https://", false, false, "absolute"},
	}
	for _, tt := range tests {
		err := webhook.CheckURL(tt.url, tt.loopback)
		if (err == nil) != tt.ok || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("CheckURL(%q, %v) = %v; want ok %v (%q)", tt.url, tt.loopback, err, tt.ok, tt.want)
		}
		if err != nil && strings.Contains(tt.url, ".") && strings.Contains(err.Error(), tt.url) {
			t.Errorf("CheckURL(%q): the error repeats the URL: %v", tt.url, err)
		}
	}
}

func TestSignVerify(t *testing.T) {
	at := time.Unix(1767225600, 0)
	body := []byte(`{"id":"01J","message":"已受理"}`)
	good := webhook.Sign(secret, at, body)
	if !strings.HasPrefix(good, "t=1767225600,v1=") || len(good) != len("t=1767225600,v1=")+64 {
		t.Fatalf("Sign = %q", good)
	}
	other := webhook.Sign([]byte("another secret of enough length"), at, body)
	tests := []struct {
		name   string
		header string
		body   []byte
		now    time.Time
		want   error
	}{
		{"valid", good, body, at, nil},
		{"valid a minute later", good, body, at.Add(time.Minute), nil},
		{"two signatures, one good (secret rotation)", other + ",v1=" + strings.TrimPrefix(good, "t=1767225600,v1="), body, at, nil},
		{"tampered body", good, []byte(`{"id":"01J","message":"已办结"}`), at, webhook.ErrBadSignature},
		{"another secret", other, body, at, webhook.ErrBadSignature},
		{"replayed after the window", good, body, at.Add(webhook.DefaultTolerance + time.Second), webhook.ErrStale},
		{"from the future", good, body, at.Add(-webhook.DefaultTolerance - time.Second), webhook.ErrStale},
		{"no timestamp", "v1=" + strings.Repeat("0", 64), body, at, webhook.ErrNoSignature},
		{"no v1", "t=1767225600", body, at, webhook.ErrNoSignature},
		{"empty", "", body, at, webhook.ErrNoSignature},
		{"timestamp changed", strings.Replace(good, "t=1767225600", "t=1767225601", 1), body, at, webhook.ErrBadSignature},
	}
	for _, tt := range tests {
		if err := webhook.Verify(secret, tt.header, tt.body, tt.now, 0); !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v, want %v", tt.name, err, tt.want)
		}
	}
}

// receiver is a gateway recording what it was sent and answering with code.
type receiver struct {
	mu    sync.Mutex
	code  int
	calls []*http.Request
	body  [][]byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.calls = append(r.calls, req)
	r.body = append(r.body, b)
	code := r.code
	r.mu.Unlock()
	if code == http.StatusFound {
		http.Redirect(w, req, "http://elsewhere.example/", code)
		return
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(`{"echo":"13800001111"}`))
}

func TestClientPost(t *testing.T) {
	now := time.Unix(1767225600, 0)
	rcv := &receiver{code: http.StatusOK}
	srv := httptest.NewTLSServer(rcv)
	defer srv.Close()
	c, err := webhook.New(webhook.Config{URL: srv.URL + "/hook?token=s3cr3t", Secret: secret, Transport: srv.Client().Transport, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"id":"01JKEY"}`)
	tests := []struct {
		code      int
		ok        bool
		retryable bool
	}{
		{http.StatusOK, true, false},
		{http.StatusAccepted, true, false},
		{http.StatusBadRequest, false, false},
		{http.StatusUnauthorized, false, false},
		{http.StatusFound, false, false},
		{http.StatusRequestTimeout, false, true},
		{http.StatusConflict, false, true},
		{http.StatusTooManyRequests, false, true},
		{http.StatusInternalServerError, false, true},
		{http.StatusServiceUnavailable, false, true},
	}
	for _, tt := range tests {
		rcv.mu.Lock()
		rcv.code = tt.code
		rcv.mu.Unlock()
		err := c.Post(context.Background(), "01JKEY", body)
		if (err == nil) != tt.ok || webhook.Retryable(err) != tt.retryable {
			t.Errorf("answer %d: Post = %v (retryable %v); want ok %v, retryable %v", tt.code, err, webhook.Retryable(err), tt.ok, tt.retryable)
		}
		if err != nil && (strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), "13800001111")) {
			t.Errorf("answer %d: the error holds the URL or the answer: %v", tt.code, err)
		}
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.calls) != len(tests) {
		t.Fatalf("%d calls, want %d (a redirect is not followed)", len(rcv.calls), len(tests))
	}
	req := rcv.calls[0]
	if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" || req.Header.Get(webhook.IdempotencyHeader) != "01JKEY" {
		t.Errorf("request %s, headers %v", req.Method, req.Header)
	}
	if err := webhook.Verify(secret, req.Header.Get(webhook.SignatureHeader), rcv.body[0], now, 0); err != nil {
		t.Errorf("the receiver cannot verify the call: %v", err)
	}
}

func TestClientTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
	}))
	defer srv.Close()
	defer close(release)
	c, err := webhook.New(webhook.Config{URL: srv.URL + "/hook?token=s3cr3t", Secret: secret, Transport: srv.Client().Transport, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Post(context.Background(), "k", []byte("{}"))
	if err == nil || !webhook.Retryable(err) || strings.Contains(err.Error(), "s3cr3t") || strings.Contains(err.Error(), srv.URL) {
		t.Errorf("Post to a gateway that does not answer = %v; want a retryable error without the URL", err)
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name string
		cfg  webhook.Config
		want string
	}{
		{"http in production", webhook.Config{URL: "http://sms.jiangnan.example/hook", Secret: secret}, "must be https"},
		{"loopback http not allowed", webhook.Config{URL: "http://127.0.0.1:9/hook", Secret: secret}, "must be https"},
		{"short secret", webhook.Config{URL: "https://sms.jiangnan.example/hook", Secret: []byte("short")}, "at least 16"},
		{"no secret", webhook.Config{URL: "https://sms.jiangnan.example/hook"}, "at least 16"},
	}
	for _, tt := range tests {
		if _, err := webhook.New(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
	if _, err := webhook.New(webhook.Config{URL: "http://127.0.0.1:9/hook", Secret: secret, AllowLoopbackHTTP: true}); err != nil {
		t.Errorf("loopback http in a development suite: %v", err)
	}
}

// TestClientRootCAs: a gateway whose certificate chains to a district's own CA is reached with
// that CA as RootCAs, and refused without it (the system's roots do not know it).
func TestClientRootCAs(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	for _, tc := range []struct {
		name  string
		roots *x509.CertPool
		ok    bool
	}{
		{"the district's CA", roots, true},
		{"the system's roots", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := webhook.New(webhook.Config{URL: srv.URL + "/hook", Secret: secret, RootCAs: tc.roots})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Post(t.Context(), "key-1", []byte(`{"id":"key-1"}`))
			if tc.ok && err != nil {
				t.Fatalf("Post: %v", err)
			}
			if !tc.ok && (err == nil || !strings.Contains(err.Error(), "certificate")) {
				t.Fatalf("Post = %v, want a certificate error", err)
			}
		})
	}
}
