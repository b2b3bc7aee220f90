package gateway

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"golang.org/x/net/netutil"

	"github.com/jiayuan/jiayuan/platform/config"
)

// ServerConfig bounds what one HTTP client may hold of the REST server: how long it may take to
// send its request, how long a response may take, how long an idle keep-alive connection stays,
// and how many connections are open at once. Without these, clients trickling a body a byte at
// a time hold connections (and their goroutines and buffers) for ever.
//
// The gateway serves no streaming route (the event feed's Watch is gRPC only), so the write
// timeout bounds every response; a streaming REST route would need its own deadline.
type ServerConfig struct {
	// ReadHeaderTimeout bounds reading the request line and headers.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading the whole request, body included.
	ReadTimeout time.Duration
	// WriteTimeout bounds the time from the end of the request headers to the end of the
	// response, the upstream call included.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle this long.
	IdleTimeout time.Duration
	// MaxConns caps the connections open at once; further clients wait in the accept queue.
	MaxConns int
}

// DefaultServerConfig returns the defaults: a 1 MiB body arrives well within 30 s on any
// working link, and no RPC of the services takes a minute.
func DefaultServerConfig() ServerConfig {
	return ServerConfig{
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxConns:          4096,
	}
}

// RegisterFlags declares the settings on fs, writing into c; c's values are the defaults.
func (c *ServerConfig) RegisterFlags(fs *config.FlagSet) {
	fs.DurationVar(&c.ReadHeaderTimeout, "http-read-header-timeout", c.ReadHeaderTimeout, "longest time to read a request's headers")
	fs.DurationVar(&c.ReadTimeout, "http-read-timeout", c.ReadTimeout, "longest time to read a whole request, body included")
	fs.DurationVar(&c.WriteTimeout, "http-write-timeout", c.WriteTimeout, "longest time from a request's headers to the end of its response")
	fs.DurationVar(&c.IdleTimeout, "http-idle-timeout", c.IdleTimeout, "how long an idle keep-alive connection stays open")
	fs.IntVar(&c.MaxConns, "http-max-conns", c.MaxConns, "most HTTP connections open at once")
}

// Check adds every invalid setting to p.
func (c ServerConfig) Check(p *config.Problems) {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"http-read-header-timeout", c.ReadHeaderTimeout}, {"http-read-timeout", c.ReadTimeout},
		{"http-write-timeout", c.WriteTimeout}, {"http-idle-timeout", c.IdleTimeout},
	} {
		if d.v <= 0 {
			p.Addf(d.flag, "must be positive, got %s", d.v)
		}
	}
	if c.ReadHeaderTimeout > c.ReadTimeout && c.ReadTimeout > 0 {
		p.Addf("http-read-header-timeout", "%s is longer than %s (%s)", c.ReadHeaderTimeout, config.Setting("http-read-timeout"), c.ReadTimeout)
	}
	if c.MaxConns <= 0 {
		p.Addf("http-max-conns", "must be positive, got %d", c.MaxConns)
	}
}

// Server returns an HTTP server for h with c's timeouts.
func (c ServerConfig) Server(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
	}
}

// Listen listens on the TCP address addr, accepting at most c.MaxConns connections at once.
func (c ServerConfig) Listen(addr string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return c.Limit(lis), nil
}

// Limit caps lis at c.MaxConns connections open at once.
func (c ServerConfig) Limit(lis net.Listener) net.Listener {
	return netutil.LimitListener(lis, c.MaxConns)
}
