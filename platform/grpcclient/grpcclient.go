// Package grpcclient is how every gRPC client of ours calls a jiayuan service: the gateway
// its upstreams, a service its peers. One service config (balancing over every replica,
// retrying what is safe to retry, with a budget so retries never pile onto an outage) and a
// deadline on every call that has none.
package grpcclient

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
)

// ServiceConfig is the default service config of our connections:
//
//   - round robin over every address the target resolves to: behind a headless Kubernetes
//     Service that is every replica, not the one a single connection would stick to;
//   - a retry policy for every method: UNAVAILABLE only (the replica is stopping, restarting,
//     or lost its database for a moment: the call did not take effect, bar a commit whose
//     acknowledgement was lost, which a create's request id and an update's etag make safe
//     to replay), at most 4 attempts, backoff
//     from 100ms doubling to at most 2s with jitter. A server stream (an event feed Watch) is
//     retried only before its first message; after that its consumer resumes from its cursor;
//   - retry throttling: each failure spends a token of 10, each success earns 0.1 back, and
//     retries stop while fewer than half are left, so that when a service is down its
//     callers send it about one call each rather than four.
const ServiceConfig = `{
  "loadBalancingConfig": [{"round_robin": {}}],
  "methodConfig": [{
    "name": [{}],
    "retryPolicy": {
      "maxAttempts": 4,
      "initialBackoff": "0.1s",
      "maxBackoff": "2s",
      "backoffMultiplier": 2,
      "retryableStatusCodes": ["UNAVAILABLE"]
    }
  }],
  "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
}`

// DefaultCallTimeout bounds a unary call made with no deadline of its own: a peer that
// hangs then costs its caller this much, not a goroutine forever.
const DefaultCallTimeout = 10 * time.Second

// ReconnectMaxDelay caps the wait between attempts to reconnect to a replica that went away.
// grpc-go's default grows to 2 minutes, and calls meanwhile fail at once with the last
// connection error: a service back after an outage of a minute stayed unreachable to its
// callers for up to two more (found by internal/chaos). A refused connection on the cluster's
// network costs next to nothing, so every caller tries at least this often.
const ReconnectMaxDelay = 2 * time.Second

// DialOptions are the options a connection to one of our services starts with: the service
// config above, reconnection backoff capped at ReconnectMaxDelay, and callTimeout
// (DefaultCallTimeout when zero) on every unary call whose context has no deadline. Streams
// get none: an event feed Watch lasts as long as its consumer. Options given after these may
// override the service config.
func DialOptions(callTimeout time.Duration) []grpc.DialOption {
	if callTimeout <= 0 {
		callTimeout = DefaultCallTimeout
	}
	bo := backoff.DefaultConfig
	bo.MaxDelay = ReconnectMaxDelay
	return []grpc.DialOption{
		grpc.WithDefaultServiceConfig(ServiceConfig),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: bo, MinConnectTimeout: 20 * time.Second}),
		grpc.WithChainUnaryInterceptor(Deadline(callTimeout)),
	}
}

// Deadline gives a unary call with no deadline one of d; a call with a deadline keeps its own.
func Deadline(d time.Duration) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if _, ok := ctx.Deadline(); !ok {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, d)
			defer cancel()
		}
		return invoker(ctx, method, req, reply, cc, opts...)
	}
}
