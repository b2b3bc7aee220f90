package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"
)

// TLSConfig names PEM files for serving TLS. Certificates and CAs mounted from a Kubernetes
// Secret are replaced in place when cert-manager renews them (every 60 days) or an operator
// rotates the CA: every file is checked at each new handshake, and the whole configuration is
// read again when any of them changed, so renewals take effect without a restart.
type TLSConfig struct {
	CertFile string
	KeyFile  string
	// ClientCAFile, when set, turns on mutual TLS: every client must present a certificate
	// signed by one of these CAs.
	ClientCAFile string
	// ClientNames, when set (with ClientCAFile), are the only clients let in: the client
	// certificate must carry one of them as a DNS name (subjectAltName). The shared internal
	// CA signs every district's pods, so without it any of them could call.
	ClientNames []string
}

func (c *TLSConfig) build(logger *slog.Logger) (*tls.Config, error) {
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("server: TLS needs both a certificate and a key file")
	}
	if len(c.ClientNames) > 0 && c.ClientCAFile == "" {
		return nil, errors.New("server: client names need a client CA (mutual TLS)")
	}
	files := []string{c.CertFile, c.KeyFile}
	if c.ClientCAFile != "" {
		files = append(files, c.ClientCAFile)
	}
	w, err := newWatched(files, c.load, logger)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// Each handshake gets the configuration of the files as they are now.
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return w.get(), nil },
	}, nil
}

// load reads the files into a complete server configuration.
func (c *TLSConfig) load() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("server: TLS key pair: %w", err)
	}
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		// gRPC speaks HTTP/2 only; the configuration returned per handshake replaces the one
		// grpc's credentials set it on.
		NextProtos: []string{"h2"},
	}
	if c.ClientCAFile != "" {
		pool, err := readPool(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("server: client CA: %w", err)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		if len(c.ClientNames) > 0 {
			names := slices.Clone(c.ClientNames)
			cfg.VerifyConnection = func(cs tls.ConnectionState) error { return allowedClient(cs, names) }
		}
	}
	return cfg, nil
}

// allowedClient admits a verified client certificate that names one of the allowed clients.
func allowedClient(cs tls.ConnectionState, names []string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("no client certificate")
	}
	leaf := cs.PeerCertificates[0]
	for _, n := range leaf.DNSNames {
		if slices.Contains(names, n) {
			return nil
		}
	}
	return fmt.Errorf("client certificate for %v (%s) is not one of the allowed callers", leaf.DNSNames, leaf.Subject.CommonName)
}

// readPool reads a PEM bundle of CA certificates.
func readPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("no certificate found in %s", file)
	}
	return pool, nil
}

// watched holds a value built from files and builds it again when any of them changes (its
// size, modification time or inode: the kubelet swaps a Secret's files atomically, as new
// files). A change that does not load (a renewal caught half-written by hand) keeps the
// previous value, logged, and is tried again at the files' next change.
type watched[T any] struct {
	files  []string
	load   func() (T, error)
	logger *slog.Logger

	mu    sync.Mutex
	cur   T
	stamp []os.FileInfo
}

func newWatched[T any](files []string, load func() (T, error), logger *slog.Logger) (*watched[T], error) {
	if logger == nil {
		logger = slog.Default()
	}
	w := &watched[T]{files: files, load: load, logger: logger}
	stamp, err := w.stat()
	if err != nil {
		return nil, err
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	w.cur, w.stamp = v, stamp
	return w, nil
}

func (w *watched[T]) stat() ([]os.FileInfo, error) {
	out := make([]os.FileInfo, len(w.files))
	for i, f := range w.files {
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		out[i] = fi
	}
	return out, nil
}

func sameStamp(a, b []os.FileInfo) bool {
	return slices.EqualFunc(a, b, func(x, y os.FileInfo) bool {
		return os.SameFile(x, y) && x.Size() == y.Size() && x.ModTime().Equal(y.ModTime())
	})
}

// get returns the current value, reloading it first if a file changed.
func (w *watched[T]) get() T {
	w.mu.Lock()
	defer w.mu.Unlock()
	stamp, err := w.stat()
	if err != nil || sameStamp(stamp, w.stamp) {
		// A file missing for a moment (mid-swap) keeps the current value.
		return w.cur
	}
	w.stamp = stamp
	v, err := w.load()
	if err != nil {
		w.logger.Warn("TLS files changed but could not be loaded; keeping the previous ones", "files", w.files, "error", err)
		return w.cur
	}
	w.logger.Info("TLS files reloaded", "files", w.files, "at", time.Now().UTC())
	w.cur = v
	return v
}
