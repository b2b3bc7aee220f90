// Command jiayuan runs the Home Partners (家园合伙人) platform: `jiayuan dev` for the whole suite
// on one machine, `jiayuan serve <service>` for one service as Kubernetes runs it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/jiayuan/jiayuan/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, os.Args[1:], cli.IO{Out: os.Stdout, Err: os.Stderr, LookupEnv: os.LookupEnv})
	stop()
	os.Exit(code)
}
