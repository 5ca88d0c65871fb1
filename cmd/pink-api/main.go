// Command pink-api serves Pink's REST API, web console and HTTP worker
// protocol without scheduling anything: a stateless front end for an etcd
// cluster that pink-nodes schedule on. Run as many as you like behind a
// load balancer (HTTP workers stick to one). Run pink-api --help for the
// flags.
//
// It is a composition root only: the same graph as pink-node (package
// node) in its API-only mode.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"go.uber.org/fx"

	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/cmd/pink-node/node"
	"github.com/pink-scheduler/pink/internal/cli"
)

// version is set at build time: -ldflags "-X main.version=v1.2.3".
var version string

var flags = []cli.Flag{
	{Name: "etcd", Env: "PINK_ETCD", Usage: "etcd client URLs, comma-separated (required)"},
	{Name: "prefix", Env: "PINK_PREFIX", Default: node.DefaultPrefix, Usage: "root of Pink's etcd keys"},
	{Name: "http", Env: "PINK_HTTP", Default: node.DefaultHTTPAddr, Usage: "address the API and console listen on"},
	{Name: "id", Env: "PINK_API_ID", Usage: "this server's name in logs (default: generated)"},
	{Name: "etcd-cacert", Env: "PINK_ETCD_CACERT", Usage: "PEM CA certificates of the etcd servers"},
	{Name: "etcd-cert", Env: "PINK_ETCD_CERT", Usage: "PEM client certificate for etcd"},
	{Name: "etcd-key", Env: "PINK_ETCD_KEY", Usage: "PEM key of --etcd-cert"},
	{Name: "etcd-user", Env: "PINK_ETCD_USER", Usage: "etcd user (password in PINK_ETCD_PASSWORD)"},
	{Name: "log-level", Env: "PINK_LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error"},
	{Name: "log-format", Env: "PINK_LOG_FORMAT", Default: "text", Usage: "text or json"},
	{Name: "dev", Env: "PINK_DEV", Bool: true, Usage: "development mode: no login (loopback --http only)"},
}

func main() {
	os.Exit(run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// parseArgs turns the command line and environment into a node config in
// API-only mode, or every error found.
func parseArgs(args []string, getenv func(string) string, stderr io.Writer) (node.Config, bool, error) {
	p, ver, err := cli.Parse("pink-api", flags, args, getenv)
	if err != nil || ver {
		return node.Config{}, ver, err
	}
	cfg := node.Config{APIOnly: true}
	ev := p.Get("etcd")
	if ev.S == "" {
		p.Fail("--etcd (or PINK_ETCD) is required: pink-api serves the data of an existing etcd cluster")
	}
	for _, item := range strings.Split(ev.S, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		u, err := url.Parse(item)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Port() == "" {
			p.Bad(ev, "endpoint %q: want a URL such as http://10.0.0.1:2379", item)
			continue
		}
		cfg.Etcd.Endpoints = append(cfg.Etcd.Endpoints, u.Scheme+"://"+u.Host)
	}
	p.EtcdTLSAndAuth(&cfg.Etcd, "PINK_ETCD_PASSWORD")
	cfg.Prefix = p.Prefix("prefix")
	cfg.HTTPAddr = p.Get("http").S
	cfg.Dev, _ = p.GetBool("dev")
	if cfg.Dev && !pinkhttp.IsLoopback(cfg.HTTPAddr) {
		p.Fail("--dev serves the API and console without login, so --http must be a loopback address such as 127.0.0.1:8002, not %q", cfg.HTTPAddr)
	}
	cfg.NodeID = p.Get("id").S
	if cfg.NodeID == "" {
		h, _ := os.Hostname()
		cfg.NodeID = "api-" + node.GenerateID(h)
		if len(cfg.NodeID) > 63 {
			cfg.NodeID = cfg.NodeID[:63]
		}
	}
	level, format := p.LogLevel("log-level"), p.LogFormat("log-format")
	cfg.Logger = cli.NewLogger(stderr, level, format)
	return cfg, false, p.Err()
}

// run is main without os.Exit, for tests.
func run(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, ver, err := parseArgs(args, getenv, stderr)
	switch {
	case errors.Is(err, cli.ErrHelp):
		fmt.Fprintln(stdout, "Usage: pink-api --etcd URL[,URL...] [flags]")
		cli.PrintFlags(stdout, flags)
		return cli.ExitOK
	case err != nil:
		cli.PrintUsageError(stderr, "pink-api", err)
		return cli.ExitUsage
	case ver:
		fmt.Fprintln(stdout, "pink-api", cli.Version(version))
		return cli.ExitOK
	}
	log := cfg.Logger
	cfg.Version = cli.Version(version)
	log.Info("pink-api starting", "id", cfg.NodeID, "etcd", strings.Join(cfg.Etcd.Endpoints, ","),
		"http", cfg.HTTPAddr, "prefix", cfg.Prefix, "dev", cfg.Dev, "version", cfg.Version)
	if cfg.Dev {
		log.Warn("DEVELOPMENT MODE: the API and console accept every request without login. Never use --dev in production.")
	}
	var hs *pinkhttp.Server
	app := node.New(cfg, fx.Populate(&hs))
	if err := app.Err(); err != nil {
		log.Error("pink-api: invalid configuration", "err", err)
		return cli.ExitError
	}
	ctx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	err = app.Start(ctx)
	cancel()
	if err != nil {
		log.Error("pink-api failed to start", "err", err)
		return cli.ExitError
	}
	log.Info("pink-api started", "http", hs.Addr())
	sig := <-app.Wait()
	ctx, cancel = context.WithTimeout(context.Background(), app.StopTimeout())
	err = app.Stop(ctx)
	cancel()
	if err != nil {
		log.Error("pink-api stopped with an error", "err", err)
		return cli.ExitError
	}
	log.Info("pink-api stopped")
	return sig.ExitCode
}
