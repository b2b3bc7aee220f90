package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	partnerv1 "github.com/jiayuan/jiayuan/gen/jiayuan/partner/v1"
	"github.com/jiayuan/jiayuan/platform/server"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "jiayuan test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for a leaf signed by the CA.
func (ca *testCA) issue(t *testing.T, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "partner"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	cert, key := ca.issue(t, 100, x509.ExtKeyUsageServerAuth)
	writeFile(t, certFile, cert)
	writeFile(t, keyFile, key)
	writeFile(t, caFile, ca.pem)

	srv, err := server.New(server.Options{
		TLS:        &server.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile},
		DrainDelay: -1,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve = %v", err)
		}
	})
	addr := lis.Addr().String()

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	clientCertPEM, clientKeyPEM := ca.issue(t, 200, x509.ExtKeyUsageClientAuth)
	clientCert, err := tls.X509KeyPair(clientCertPEM, clientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}

	check := func(cfg *tls.Config) error {
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
		if err != nil {
			return err
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_, err = healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
		return err
	}
	if err := check(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}}); err != nil {
		t.Errorf("client with a certificate from the CA: %v", err)
	}
	if err := check(&tls.Config{RootCAs: roots}); err == nil {
		t.Errorf("client without a certificate was let in")
	}

	serverSerial := func() int64 {
		c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{clientCert}, NextProtos: []string{"h2"}})
		if err != nil {
			t.Fatalf("tls dial: %v", err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
	}
	if got := serverSerial(); got != 100 {
		t.Fatalf("server certificate serial = %d, want 100", got)
	}

	// A renewal replaces the files in place; new handshakes get the new certificate.
	cert, key = ca.issue(t, 101, x509.ExtKeyUsageServerAuth)
	writeFile(t, certFile, cert)
	writeFile(t, keyFile, key)
	later := time.Now().Add(time.Minute)
	for _, f := range []string{certFile, keyFile} {
		if err := os.Chtimes(f, later, later); err != nil {
			t.Fatal(err)
		}
	}
	if got := serverSerial(); got != 101 {
		t.Errorf("after renewal the server certificate serial = %d, want 101", got)
	}
}

func TestTLSConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.crt")
	writeFile(t, notPEM, []byte("not a certificate"))
	tests := []struct {
		name string
		tls  server.TLSConfig
	}{
		{"missing key", server.TLSConfig{CertFile: filepath.Join(dir, "tls.crt")}},
		{"missing files", server.TLSConfig{CertFile: filepath.Join(dir, "no.crt"), KeyFile: filepath.Join(dir, "no.key")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := server.New(server.Options{TLS: &tt.tls}); err == nil {
				t.Error("New accepted an unusable TLS configuration")
			}
		})
	}
	// A client CA file with no certificate in it.
	ca := newCA(t)
	cert, key := ca.issue(t, 1, x509.ExtKeyUsageServerAuth)
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	writeFile(t, certFile, cert)
	writeFile(t, keyFile, key)
	if _, err := server.New(server.Options{TLS: &server.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: notPEM}}); err == nil {
		t.Error("New accepted a client CA file without certificates")
	}
}

// TestHealthListenerForProbesUnderMutualTLS: the kubelet's gRPC probe has no client
// certificate, so a separate plaintext listener answers the health protocol, and only it.
func TestHealthListenerForProbesUnderMutualTLS(t *testing.T) {
	dir := t.TempDir()
	ca := newCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	cert, key := ca.issue(t, 100, x509.ExtKeyUsageServerAuth)
	writeFile(t, certFile, cert)
	writeFile(t, keyFile, key)
	writeFile(t, caFile, ca.pem)
	probeLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Options{
		TLS:            &server.TLSConfig{CertFile: certFile, KeyFile: keyFile, ClientCAFile: caFile},
		HealthListener: probeLis,
		DrainDelay:     300 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	partnerv1.RegisterPartnerServiceServer(srv.GRPC(), &partnerServer{})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis) }()

	probe, err := grpc.NewClient(probeLis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	if st, err := healthOf(cctx, probe, ""); err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("probe = %v, %v; want SERVING", st, err)
	}
	// Only health is there: the API is not reachable without a certificate.
	_, err = partnerv1.NewPartnerServiceClient(probe).GetPartnerGroup(cctx, &partnerv1.GetPartnerGroupRequest{Name: validGroup})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("API call on the probe port: %v, want Unimplemented", err)
	}
	// During the drain the probe port says NOT_SERVING, as the main port does.
	cancel()
	var st healthpb.HealthCheckResponse_ServingStatus
	for deadline := time.Now().Add(250 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if st, err = healthOf(cctx, probe, ""); err == nil && st == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
	}
	if st != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("probe during drain = %v, %v; want NOT_SERVING", st, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, err := net.DialTimeout("tcp", probeLis.Addr().String(), time.Second); err == nil {
		t.Fatal("the probe port is still open after Serve returned")
	}
}
