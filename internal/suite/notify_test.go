package suite_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/region"
	"github.com/jiayuan/jiayuan/platform/webhook"
)

// TestDevSendsToAGatewayOnThisMachine: `jiayuan dev` given a messaging gateway on loopback
// (plain http, which only dev accepts) sends the demo's replies there, signed.
func TestDevSendsToAGatewayOnThisMachine(t *testing.T) {
	secret := []byte("a-gateway-stub-secret-of-32-bytes")
	type call struct {
		key    string
		sigErr error
		phone  string
	}
	var mu sync.Mutex
	var calls []call
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var p struct {
			ID        string `json:"id"`
			Recipient struct {
				Phone string `json:"phone"`
			} `json:"recipient"`
		}
		_ = json.Unmarshal(body, &p)
		mu.Lock()
		calls = append(calls, call{key: r.Header.Get(webhook.IdempotencyHeader), phone: p.Recipient.Phone,
			sigErr: webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 0)})
		mu.Unlock()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *suite.Dev, 1)
	done := make(chan error, 1)
	go func() {
		done <- suite.RunDev(ctx, suite.DevConfig{
			DataDir: filepath.Join(t.TempDir(), "data"), Host: "127.0.0.1", EphemeralPorts: true, Tree: region.Demo(),
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Seed: true, TokenTTL: time.Hour,
			Ready:  func(d *suite.Dev) { ready <- d },
			Notify: suite.Notify{WebhookURL: srv.URL + "/hook", WebhookSecret: secret, QuietHours: "off"},
		})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunDev: %v", err)
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("RunDev ended before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("suite not ready after 60s")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(calls)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) == 0 {
		t.Fatal("the demo's replies reached no gateway")
	}
	for _, c := range calls {
		if c.sigErr != nil || c.key == "" || c.phone == "" {
			t.Errorf("call %+v: want signed, with a key and the reporter's phone", c)
		}
	}
}
