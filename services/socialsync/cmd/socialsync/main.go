// Command socialsync is the socialsync CLI and all-in-one binary.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/socialsync/socialsync/services/socialsync/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
