package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/jiayuan/jiayuan/platform/server"
)

// leaf issues a certificate for dnsNames (and 127.0.0.1) with the usages given, as
// cert-manager issues the pods' certificates (server and client auth both).
func (ca *testCA) leaf(t testing.TB, serial int64, dnsNames ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: dnsNames[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dnsNames,
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

// secretVolume is a directory laid out as the kubelet lays out a mounted Secret: each key a
// symlink into ..data, itself a symlink to a timestamped directory, swapped atomically when
// the Secret changes.
type secretVolume struct {
	dir string
	n   int
}

func newSecretVolume(t testing.TB, files map[string][]byte) *secretVolume {
	t.Helper()
	v := &secretVolume{dir: t.TempDir()}
	v.update(t, files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(v.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return v
}

func (v *secretVolume) path(name string) string { return filepath.Join(v.dir, name) }

// update writes the new contents into a fresh directory and swaps ..data to it in one rename.
func (v *secretVolume) update(t testing.TB, files map[string][]byte) {
	t.Helper()
	v.n++
	ts := fmt.Sprintf("..2026_12_02_00_00_%02d.%d", v.n, v.n)
	if err := os.Mkdir(filepath.Join(v.dir, ts), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range files {
		writeFile(t, filepath.Join(v.dir, ts, name), data)
	}
	tmp := filepath.Join(v.dir, "..data_tmp")
	if err := os.Symlink(ts, tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(v.dir, "..data")); err != nil {
		t.Fatal(err)
	}
}

// TestCertificateRotationUnderTraffic rotates everything cert-manager, trust-manager and an
// operator rotate while clients keep calling, each call on a new connection (a new handshake),
// laid out as the pods mount them: each certificate in its own Secret (tls.crt, tls.key), the
// CA trusted from the trust bundle (ConfigMap jiayuan-internal-ca, ca.crt), each namespace's
// copy updated at its own moment. The leaf certificates of both sides renewed, then the CA
// replaced as docs/deploy.md says: the new CA added to the bundles, the leaves reissued by it,
// the old CA dropped. Server and client pick up every change from their mounted files, with no
// restart and no failed call.
func TestCertificateRotationUnderTraffic(t *testing.T) {
	caA, caB := newCA(t), newCA(t)
	bundle := func(cas ...*testCA) map[string][]byte {
		var b []byte
		for _, ca := range cas {
			b = append(b, ca.pem...)
		}
		return map[string][]byte{"ca.crt": b}
	}
	serial := int64(100)
	secret := func(ca *testCA, name string) map[string][]byte {
		serial++
		cert, key := ca.leaf(t, serial, name)
		return map[string][]byte{"tls.crt": cert, "tls.key": key}
	}
	// The partner's namespace and the gateway's (the city's) each have their copy of the bundle.
	srvVol, srvTrust := newSecretVolume(t, secret(caA, "partner")), newSecretVolume(t, bundle(caA))
	cliVol, cliTrust := newSecretVolume(t, secret(caA, "gateway")), newSecretVolume(t, bundle(caA))

	srv, err := server.New(server.Options{
		TLS:        &server.TLSConfig{CertFile: srvVol.path("tls.crt"), KeyFile: srvVol.path("tls.key"), ClientCAFile: srvTrust.path("ca.crt")},
		DrainDelay: -1,
	})
	if err != nil {
		t.Fatal(err)
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
	creds, err := server.ClientCredentials(cliTrust.path("ca.crt"), cliVol.path("tls.crt"), cliVol.path("tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	call := func() error {
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer ccancel()
		_, err = healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
		return err
	}

	var (
		calls, failed atomic.Int64
		firstErr      atomic.Value
		stop          = make(chan struct{})
		wg            sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				if err := call(); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			}
		}()
	}
	settle := func() {
		// Let traffic run on the new files a while.
		for start := calls.Load(); calls.Load() < start+20; {
			time.Sleep(10 * time.Millisecond)
		}
	}
	settle()
	for _, step := range []struct {
		name string
		do   func()
	}{
		{"renew both leaves", func() {
			srvVol.update(t, secret(caA, "partner"))
			cliVol.update(t, secret(caA, "gateway"))
		}},
		// Step 2 of the runbook: the new CA joins the bundle; trust-manager writes each
		// namespace's copy, the kubelets refresh them, one after the other.
		{"the server's namespace trusts both CAs", func() { srvTrust.update(t, bundle(caA, caB)) }},
		{"the client's namespace trusts both CAs", func() { cliTrust.update(t, bundle(caA, caB)) }},
		// Step 3: the issuer signs with the new CA; the leaves are reissued, in any order.
		{"server leaf from the new CA", func() { srvVol.update(t, secret(caB, "partner")) }},
		{"client leaf from the new CA", func() { cliVol.update(t, secret(caB, "gateway")) }},
		// Step 4: the old CA leaves the bundle.
		{"the client's namespace drops the old CA", func() { cliTrust.update(t, bundle(caB)) }},
		{"the server's namespace drops the old CA", func() { srvTrust.update(t, bundle(caB)) }},
	} {
		step.do()
		settle()
		if n := failed.Load(); n > 0 {
			close(stop)
			wg.Wait()
			t.Fatalf("after %q: %d of %d calls failed, first: %v", step.name, n, calls.Load(), firstErr.Load())
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("%d calls, none failed", calls.Load())

	// Only the new CA is trusted now: a client certificate from the old one is refused.
	oldVol, newTrust := newSecretVolume(t, secret(caA, "gateway")), newSecretVolume(t, bundle(caB))
	creds, err = server.ClientCredentials(newTrust.path("ca.crt"), oldVol.path("tls.crt"), oldVol.path("tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := call(); err == nil {
		t.Error("a client certificate from the dropped CA was accepted")
	}
	// The window the bundle closes: a client still trusting only the old CA (its own
	// certificate's ca.crt) cannot reach a server reissued by the new one.
	oldTrust := newSecretVolume(t, bundle(caA))
	creds, err = server.ClientCredentials(oldTrust.path("ca.crt"), cliVol.path("tls.crt"), cliVol.path("tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := call(); err == nil {
		t.Error("a client trusting only the old CA reached a server holding a certificate from the new one")
	}
}

// TestClientNames: with an allow-list, only client certificates naming an allowed caller get
// in, although every district's pods hold certificates from the same CA.
func TestClientNames(t *testing.T) {
	ca := newCA(t)
	srvVol := newSecretVolume(t, func() map[string][]byte {
		cert, key := ca.leaf(t, 1, "partner", "partner.jiayuan-jiangnan.svc")
		return map[string][]byte{"tls.crt": cert, "tls.key": key, "ca.crt": ca.pem}
	}())
	srv, err := server.New(server.Options{
		TLS: &server.TLSConfig{CertFile: srvVol.path("tls.crt"), KeyFile: srvVol.path("tls.key"), ClientCAFile: srvVol.path("ca.crt"),
			ClientNames: []string{"gateway.jiayuan-jiangnan.svc", "gateway-jiangnan.jiayuan-city.svc"}},
		DrainDelay: -1,
	})
	if err != nil {
		t.Fatal(err)
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
		<-done
	})
	for serial, tc := range []struct {
		names   []string
		allowed bool
	}{
		{[]string{"gateway", "gateway.jiayuan-jiangnan.svc"}, true},
		{[]string{"gateway-jiangnan", "gateway-jiangnan.jiayuan-city.svc"}, true},
		{[]string{"gateway", "gateway.jiayuan-qingxiu.svc"}, false},
		{[]string{"demand", "demand.jiayuan-jiangnan.svc"}, false},
		{[]string{"gateway"}, false},
	} {
		cert, key := ca.leaf(t, int64(10+serial), tc.names...)
		vol := newSecretVolume(t, map[string][]byte{"tls.crt": cert, "tls.key": key, "ca.crt": ca.pem})
		creds, err := server.ClientCredentials(vol.path("ca.crt"), vol.path("tls.crt"), vol.path("tls.key"))
		if err != nil {
			t.Fatal(err)
		}
		conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(creds))
		if err != nil {
			t.Fatal(err)
		}
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err = healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{})
		ccancel()
		conn.Close()
		if (err == nil) != tc.allowed {
			t.Errorf("client %v: err = %v, want allowed %v", tc.names, err, tc.allowed)
		}
	}
}
