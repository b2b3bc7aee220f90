package limits

import (
	"context"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
)

// ClientAddr returns the address a request came from. That is the peer's address, unless the
// peer is a trusted proxy: then X-Forwarded-For (forwarded, each value a comma-separated list,
// the nearest hop last) is read from the right, skipping trusted proxies, and the first address
// that is not one is the client. Anyone can write X-Forwarded-For, so only the hops we trust
// are believed, and an entry that is not an address stops the walk at the last hop we could
// establish.
func ClientAddr(peerAddr netip.Addr, forwarded []string, trusted []netip.Prefix) netip.Addr {
	client := peerAddr.Unmap()
	if !isTrusted(client, trusted) {
		return client
	}
	var hops []string
	for _, v := range forwarded {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return client
		}
		client = a.Unmap()
		if !isTrusted(client, trusted) {
			return client
		}
	}
	return client
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// addrKey is the bucket key of an address: IPv4 addresses one by one, IPv6 ones by their /64,
// which is what one subscriber gets (rotating addresses within it must not give fresh buckets).
// Calls over a transport without addresses (in-process pipes) share one key.
func addrKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "local"
	case a.Is4():
		return a.String()
	default:
		p, _ := a.Prefix(64)
		return p.String()
	}
}

// grpcClientAddr is ClientAddr for a gRPC call: its peer and its x-forwarded-for metadata
// (which the REST gateway sets).
func grpcClientAddr(ctx context.Context, trusted []netip.Prefix) netip.Addr {
	var peerAddr netip.Addr
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		peerAddr = netAddr(p.Addr)
	}
	if len(trusted) == 0 || !isTrusted(peerAddr.Unmap(), trusted) {
		return peerAddr.Unmap()
	}
	md, _ := metadata.FromIncomingContext(ctx)
	return ClientAddr(peerAddr, md.Get("x-forwarded-for"), trusted)
}

// netAddr is the IP address of a, or the zero Addr when it has none.
func netAddr(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(a.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
