package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// TLSConfig names PEM files for serving TLS. Certificates mounted from a Kubernetes Secret
// are replaced in place when they are renewed: the key pair is read again whenever either
// file's modification time changes, so renewals take effect without a restart.
type TLSConfig struct {
	CertFile string
	KeyFile  string
	// ClientCAFile, when set, turns on mutual TLS: every client must present a certificate
	// signed by one of these CAs. It is read once, at New.
	ClientCAFile string
}

func (c *TLSConfig) build(logger *slog.Logger) (*tls.Config, error) {
	if c.CertFile == "" || c.KeyFile == "" {
		return nil, errors.New("server: TLS needs both a certificate and a key file")
	}
	kp := &keyPair{certFile: c.CertFile, keyFile: c.KeyFile, logger: logger}
	if err := kp.load(); err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: kp.get,
	}
	if c.ClientCAFile != "" {
		pem, err := os.ReadFile(c.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("server: read client CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("server: no certificate found in client CA file %s", c.ClientCAFile)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// keyPair serves a certificate from files and reloads it when they change.
type keyPair struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	modTime [2]time.Time
}

func (k *keyPair) modTimes() ([2]time.Time, error) {
	var mt [2]time.Time
	for i, f := range []string{k.certFile, k.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return mt, fmt.Errorf("server: TLS key pair: %w", err)
		}
		mt[i] = fi.ModTime()
	}
	return mt, nil
}

func (k *keyPair) load() error {
	mt, err := k.modTimes()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(k.certFile, k.keyFile)
	if err != nil {
		return fmt.Errorf("server: TLS key pair: %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cert, k.modTime = &cert, mt
	return nil
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	mt, err := k.modTimes()
	k.mu.Lock()
	changed := err == nil && mt != k.modTime
	cert := k.cert
	k.mu.Unlock()
	if changed {
		// A renewal may be caught half-written (cert and key not yet matching): keep serving
		// the old pair, and try again when the files change next.
		if err := k.load(); err != nil {
			k.mu.Lock()
			k.modTime = mt
			k.mu.Unlock()
			k.logger.Warn("TLS certificate changed but could not be loaded; serving the previous one", "error", err)
			return cert, nil
		}
		k.mu.Lock()
		cert = k.cert
		k.mu.Unlock()
	}
	return cert, nil
}
