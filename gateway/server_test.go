package gateway_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jiayuan/jiayuan/gateway"
	"github.com/jiayuan/jiayuan/platform/config"
)

// serveWith serves h under cfg on a loopback port and returns its address.
func serveWith(t *testing.T, cfg gateway.ServerConfig, h http.Handler) string {
	t.Helper()
	lis, err := cfg.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := cfg.Server(h)
	go func() { _ = hs.Serve(lis) }()
	t.Cleanup(func() { _ = hs.Close() })
	return lis.Addr().String()
}

func readsBody(w http.ResponseWriter, r *http.Request) {
	if _, err := io.Copy(io.Discard, r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	_, _ = w.Write([]byte("ok"))
}

func TestServerCutsOffTricklingClient(t *testing.T) {
	cfg := gateway.DefaultServerConfig()
	cfg.ReadHeaderTimeout, cfg.ReadTimeout = 200*time.Millisecond, 500*time.Millisecond
	addr := serveWith(t, cfg, http.HandlerFunc(readsBody))

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "POST /v1/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// One byte every 100 ms would take 10 s; the server must hang up after its read timeout.
	start := time.Now()
	for i := 0; i < 100; i++ {
		if _, err := conn.Write([]byte("x")); err != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
		if time.Since(start) > 5*time.Second {
			t.Fatalf("a client trickling its body was still connected after %s", time.Since(start))
		}
		_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := conn.Read(make([]byte, 512)); !isTimeout(err) {
			break // the server answered (408 or 400) or closed: cut off
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("cut off after %s, want about the 500ms read timeout", took)
	}
}

// isTimeout reports whether err is a read deadline passing: the server has said nothing yet.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestServerCutsOffSlowHeaders(t *testing.T) {
	cfg := gateway.DefaultServerConfig()
	cfg.ReadHeaderTimeout = 200 * time.Millisecond
	addr := serveWith(t, cfg, http.HandlerFunc(readsBody))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = fmt.Fprintf(conn, "GET / HTTP/1.1\r\n")
	_ = conn.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(conn)
	if isTimeout(err) {
		t.Fatalf("headers never finished and the server kept the connection for %s", time.Since(start))
	}
}

func TestServerCapsConnections(t *testing.T) {
	cfg := gateway.DefaultServerConfig()
	cfg.MaxConns = 1
	addr := serveWith(t, cfg, http.HandlerFunc(readsBody))
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// The first connection holds the only slot (it is accepted once it sends a request).
	_, _ = fmt.Fprintf(first, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(first), nil); err != nil {
		t.Fatal(err)
	}
	second, err := net.Dial("tcp", addr) // the kernel accepts; the server does not serve it
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	_, _ = fmt.Fprintf(second, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	_ = second.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := http.ReadResponse(bufio.NewReader(second), nil); err == nil {
		t.Fatal("a second connection was served while the cap of 1 was taken")
	}
	first.Close()
	_ = second.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := http.ReadResponse(bufio.NewReader(second), nil); err != nil {
		t.Fatalf("after the first closed, the second was not served: %v", err)
	}
}

func TestServerConfigFlags(t *testing.T) {
	env := map[string]string{"JIAYUAN_HTTP_READ_TIMEOUT": "17s", "JIAYUAN_HTTP_MAX_CONNS": "12"}
	fs := config.NewFlagSet("t", config.WithLookupEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }))
	cfg := gateway.DefaultServerConfig()
	cfg.RegisterFlags(fs)
	if err := fs.Parse([]string{"--http-idle-timeout=3s"}); err != nil {
		t.Fatal(err)
	}
	if cfg.ReadTimeout != 17*time.Second || cfg.MaxConns != 12 || cfg.IdleTimeout != 3*time.Second || cfg.WriteTimeout != 60*time.Second {
		t.Errorf("parsed %+v", cfg)
	}
	var p config.Problems
	cfg.Check(&p)
	if err := p.Err(); err != nil {
		t.Errorf("defaults refused: %v", err)
	}
	cfg.MaxConns, cfg.WriteTimeout = 0, 0
	p = config.Problems{}
	cfg.Check(&p)
	if p.Err() == nil {
		t.Error("zero max conns and write timeout accepted")
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to write while a test reads.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
