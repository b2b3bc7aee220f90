package cli

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jiayuan/jiayuan/internal/suite"
	"github.com/jiayuan/jiayuan/platform/auth"
	"github.com/jiayuan/jiayuan/platform/config"
	"github.com/jiayuan/jiayuan/platform/server"
	"github.com/jiayuan/jiayuan/platform/telemetry"
)

// peerFlags are the settings of a service that calls other services (suite.Spec.Peers): where
// each one is, the service's own token, and TLS to them. A service without peers has none.
type peerFlags struct {
	service                string
	names                  []string
	addrs                  map[string]*string
	tokenFile              string
	tlsCA, tlsCert, tlsKey string
}

func (f *peerFlags) register(fs *config.FlagSet, spec suite.Spec, s *Settings) {
	if len(spec.Peers) == 0 {
		return
	}
	f.service, f.names, f.addrs = spec.Name, spec.Peers, map[string]*string{}
	for _, name := range spec.Peers {
		f.addrs[name] = fs.String(name+"-addr", "", "the "+name+" service's gRPC address (host:port), which "+spec.Name+" calls")
		s.require(name + "-addr")
		s.hostPorts(name + "-addr")
	}
	s.require("peer-token-file")
	s.files("peer-token-file", "peer-tls-ca", "peer-tls-cert", "peer-tls-key")
	fs.StringVar(&f.tokenFile, "peer-token-file", "",
		"file holding this service's own bearer token for calling "+strings.Join(spec.Peers, ", ")+
			" (a system principal's, issued by the identity\nprovider); read again whenever it changes, as a mounted Secret does on rotation")
	fs.StringVar(&f.tlsCA, "peer-tls-ca", "",
		"CA file (PEM) to verify the peers' TLS certificates. When empty the peers are called in plaintext, and the bearer\ntoken crosses the network unencrypted: only where network policies confine the traffic")
	fs.StringVar(&f.tlsCert, "peer-tls-cert", "", "client certificate (PEM) for mutual TLS to the peers")
	fs.StringVar(&f.tlsKey, "peer-tls-key", "", "client key (PEM) for mutual TLS to the peers")
}

func (f *peerFlags) check(p *config.Problems) {
	if len(f.names) == 0 {
		return
	}
	for _, name := range f.names {
		p.Check(name+"-addr", config.HostPort(*f.addrs[name]))
	}
	if strings.TrimSpace(f.tokenFile) == "" {
		p.Addf("peer-token-file", "must be set: %s calls %s as itself, with a token the identity provider issues for its system principal",
			f.service, strings.Join(f.names, ", "))
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		p.Addf("peer-tls-cert", "set both --peer-tls-cert and --peer-tls-key, or neither")
	}
	if f.tlsCert != "" && f.tlsCA == "" {
		p.Addf("peer-tls-ca", "mutual TLS to the peers needs --peer-tls-ca too")
	}
}

// dial connects to every peer with the service's own token, and returns the connections by
// name and a function closing them. The token file is read once here, so a missing or empty
// one stops the start instead of failing every call later.
func (f *peerFlags) dial(ctx context.Context, tel *telemetry.Providers) (map[string]grpc.ClientConnInterface, func(), error) {
	conns := map[string]grpc.ClientConnInterface{}
	var opened []*grpc.ClientConn
	closeAll := func() {
		for _, c := range opened {
			_ = c.Close()
		}
	}
	if len(f.names) == 0 {
		return conns, closeAll, nil
	}
	token := auth.TokenFile(f.tokenFile)
	if _, err := token(ctx); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", config.Setting("peer-token-file"), err)
	}
	transport := insecure.NewCredentials()
	if f.tlsCA != "" {
		tc, err := server.ClientCredentials(f.tlsCA, f.tlsCert, f.tlsKey)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", config.Setting("peer-tls-ca"), err)
		}
		transport = tc
	}
	// The token may travel in plaintext only when the whole connection does: with TLS the
	// credentials insist on it.
	creds := auth.NewBearerCredentials(token, f.tlsCA == "")
	for _, name := range f.names {
		conn, err := suite.DialPeer(*f.addrs[name], tel, grpc.WithTransportCredentials(transport), grpc.WithPerRPCCredentials(creds))
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("%s: %w", config.Setting(name+"-addr"), err)
		}
		opened = append(opened, conn)
		conns[name] = conn
	}
	return conns, closeAll, nil
}
