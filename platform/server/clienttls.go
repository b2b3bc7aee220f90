package server

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"

	"google.golang.org/grpc/credentials"
)

// ClientCredentials are the gRPC transport credentials a caller (the gateway, another service)
// uses to reach a service: server certificates verified against the CAs in caFile, and a
// client certificate for mutual TLS when certFile and keyFile are set. Like the server's, the
// files are checked at each new handshake and read again when they changed (a renewed client
// certificate, a CA bundle with a new CA added), so a caller never needs a restart for a
// rotation. Each handshake is grpc's own TLS handshake (credentials.NewTLS) with the files as
// they are then: the standard verification, nothing hand-made.
func ClientCredentials(caFile, certFile, keyFile string) (credentials.TransportCredentials, error) {
	files := []string{caFile}
	mutual := certFile != "" || keyFile != ""
	if mutual {
		files = append(files, certFile, keyFile)
	}
	w, err := newWatched(files, func() (credentials.TransportCredentials, error) {
		pool, err := readPool(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA: %w", err)
		}
		cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		if mutual {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("client certificate: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		return credentials.NewTLS(cfg), nil
	}, slog.Default())
	if err != nil {
		return nil, err
	}
	return &reloadingCreds{w: w}, nil
}

// reloadingCreds hands each handshake to the TLS credentials of the files as they are now.
type reloadingCreds struct {
	w          *watched[credentials.TransportCredentials]
	serverName string
}

func (c *reloadingCreds) current() credentials.TransportCredentials {
	cur := c.w.get()
	if c.serverName != "" {
		cur = cur.Clone()
		_ = cur.OverrideServerName(c.serverName) //nolint:staticcheck // kept for Clone's contract
	}
	return cur
}

func (c *reloadingCreds) ClientHandshake(ctx context.Context, authority string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.current().ClientHandshake(ctx, authority, conn)
}

func (c *reloadingCreds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.current().ServerHandshake(conn)
}

func (c *reloadingCreds) Info() credentials.ProtocolInfo {
	info := c.w.get().Info()
	if c.serverName != "" {
		info.ServerName = c.serverName //nolint:staticcheck // the deprecated field grpc still reads
	}
	return info
}

func (c *reloadingCreds) Clone() credentials.TransportCredentials {
	return &reloadingCreds{w: c.w, serverName: c.serverName}
}

// OverrideServerName is deprecated in grpc but part of the interface.
func (c *reloadingCreds) OverrideServerName(name string) error {
	c.serverName = name
	return nil
}
