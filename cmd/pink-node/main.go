// Command pink-node runs one Pink scheduler node: with no flags it starts
// an embedded single-member etcd in ./pink-data and serves on
// 127.0.0.1:8002; with --etcd it joins an etcd cluster, where several
// nodes elect one leader and a follower takes over when it goes. Run
// pink-node --help for the flags.
//
// It is a composition root only: it parses the command line and runs the
// graph of package node.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.uber.org/fx"

	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/cmd/pink-node/node"
	"github.com/pink-scheduler/pink/internal/cli"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version string

// Exit codes.
const (
	exitOK    = cli.ExitOK
	exitError = cli.ExitError
	exitUsage = cli.ExitUsage
)

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// run is main without os.Exit, for tests.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, getenv)
	switch {
	case errors.Is(err, cli.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		cli.PrintUsageError(stderr, "pink-node", err)
		return exitUsage
	case o.version:
		fmt.Fprintln(stdout, "pink-node", versionString())
		return exitOK
	}

	log := cli.NewLogger(stderr, o.logLevel, o.logFormat)
	cfg := o.node
	cfg.Logger, cfg.Version = log, versionString()
	logStarting(log, cfg)

	var hs *pinkhttp.Server
	app := node.New(cfg, fx.Populate(&hs))
	if err := app.Err(); err != nil {
		log.Error("pink-node: invalid configuration", "err", err)
		return exitError
	}
	ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	err = app.Start(ctx) // on failure, what started is stopped again
	cancel()
	if err != nil {
		log.Error("pink-node failed to start", "err", err)
		return exitError
	}
	log.Info("pink-node started", "node", cfg.NodeID, "http", hs.Addr())

	sig := <-app.Wait() // SIGINT, SIGTERM, or a component asking to stop
	if sig.Signal != nil {
		log.Info("pink-node stopping", "node", cfg.NodeID, "signal", sig.Signal.String())
	} else {
		log.Info("pink-node stopping", "node", cfg.NodeID, "exit_code", sig.ExitCode)
	}
	ctx, cancel = context.WithTimeout(context.Background(), app.StopTimeout())
	err = app.Stop(ctx)
	cancel()
	if err != nil {
		log.Error("pink-node stopped with an error", "node", cfg.NodeID, "err", err)
		return exitError
	}
	log.Info("pink-node stopped", "node", cfg.NodeID)
	return sig.ExitCode
}

// logStarting logs the configuration the node starts with, and warns about
// the risky parts of it.
func logStarting(log *slog.Logger, cfg node.Config) {
	attrs := []any{"node", cfg.NodeID, "version", cfg.Version}
	if len(cfg.Etcd.Endpoints) > 0 {
		attrs = append(attrs, "etcd", "external", "etcd_endpoints", strings.Join(cfg.Etcd.Endpoints, ","))
		if cfg.Etcd.Username != "" {
			attrs = append(attrs, "etcd_user", cfg.Etcd.Username)
		}
		if cfg.Etcd.CACertFile != "" || cfg.Etcd.CertFile != "" || strings.HasPrefix(cfg.Etcd.Endpoints[0], "https://") {
			attrs = append(attrs, "etcd_tls", true)
		}
	} else {
		attrs = append(attrs, "etcd", "embedded", "etcd_listen", cfg.Embedded.ClientURL,
			"etcd_peer_listen", cfg.Embedded.PeerURL, "data_dir", cfg.Embedded.DataDir)
	}
	attrs = append(attrs, "http", cfg.HTTPAddr, "prefix", cfg.Prefix, "lease_ttl", cfg.LeaseTTL.String(), "dev", cfg.Dev)
	log.Info("pink-node starting", attrs...)
	if cfg.Dev {
		log.Warn("DEVELOPMENT MODE: the API and console accept every request without login. Never use --dev in production.",
			"http", cfg.HTTPAddr)
	}
	if len(cfg.Etcd.Endpoints) == 0 && !pinkhttp.IsLoopback(strings.TrimPrefix(cfg.Embedded.ClientURL, "http://")) {
		log.Warn("the embedded etcd listens beyond loopback without TLS or authentication: anyone who reaches it can read and change Pink's data",
			"etcd_listen", cfg.Embedded.ClientURL)
	}
}

// versionString is the build's version: -X main.version, else the module
// version and VCS revision recorded by the go command.
func versionString() string { return cli.Version(version) }
