// Command pink-worker is a ready Pink worker with the built-in handlers of
// package builtin: "shell" runs a job's command, "http" calls a URL. Both
// are off unless enabled (--allow-shell, --allow-http with
// --http-allow-hosts), and it refuses to start with neither:
//
//	pink-worker --group reports --allow-shell --shell-allow pg_dump,gzip
//	pink-worker --group hooks --allow-http --http-allow-hosts hooks.example.com
//
// It registers in its group on Pink's etcd (--etcd, default a pink-node's
// embedded etcd on 127.0.0.1:2379) and runs what the leader assigns to it
// until SIGINT or SIGTERM, then drains: no new runs, running ones get
// --drain-timeout, then it deregisters. Run pink-worker --help for the
// flags; each has an environment variable (PINK_GROUP, PINK_ETCD, ...).
//
// It is a composition root only, a plain main: parse the flags, make the
// etcd client and store, register the handlers on a worker.Worker, run it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"strings"
	"syscall"
	"time"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/app/worker/builtin"
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

// pingTimeout bounds the check, at start, that etcd answers. The worker
// starts anyway, and keeps trying to register, if it does not.
const pingTimeout = 5 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal the worker drains; a second one, no longer
	// caught, ends the process at once.
	context.AfterFunc(ctx, stop)
	// Read the etcd password once and drop it from the environment, so
	// the commands of the shell handler do not get it even with
	// --shell-inherit-env.
	password := os.Getenv(envPassword)
	_ = os.Unsetenv(envPassword)
	getenv := func(k string) string {
		if k == envPassword {
			return password
		}
		return os.Getenv(k)
	}
	code := run(ctx, os.Args[1:], getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without os.Exit and signals, for tests: the worker runs
// until ctx ends, then drains.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseArgs(args, getenv)
	switch {
	case errors.Is(err, cli.ErrHelp):
		printUsage(stdout)
		return exitOK
	case err != nil:
		cli.PrintUsageError(stderr, "pink-worker", err)
		return exitUsage
	case o.version:
		fmt.Fprintln(stdout, "pink-worker", versionString())
		return exitOK
	}
	log := cli.NewLogger(stderr, o.logLevel, o.logFormat)

	cli, err := etcd.NewClient(o.etcd)
	if err != nil {
		log.Error("pink-worker failed to start: etcd client", "etcd", strings.Join(o.etcd.Endpoints, ","), "err", err)
		return exitError
	}
	defer cli.Close()
	store := etcd.NewStore(cli, etcd.Options{Prefix: o.prefix, Logger: log})

	w, err := worker.New(worker.Config{
		Group: o.group, ID: o.id, Labels: o.labels, Capacity: o.capacity,
		LeaseTTL: o.leaseTTL, DrainTimeout: o.drainTimeout,
		Registry: store, Runs: store, Logger: log,
	})
	if err != nil {
		log.Error("pink-worker: invalid configuration", "err", err)
		return exitUsage
	}
	if o.shell != nil {
		w.Handle(builtin.ShellName, builtin.Shell(*o.shell))
	}
	if o.http != nil {
		w.Handle(builtin.HTTPName, builtin.HTTP(*o.http))
	}
	logStarting(log, &o, w.ID())

	pctx, cancel := context.WithTimeout(ctx, pingTimeout)
	err = etcd.Ping(pctx, cli, o.prefix)
	cancel()
	if err != nil && ctx.Err() == nil {
		log.Warn("etcd does not answer yet; the worker keeps trying to register", "etcd", strings.Join(o.etcd.Endpoints, ","), "err", err)
	}

	context.AfterFunc(ctx, func() {
		log.Info("pink-worker stopping: taking no new runs; running ones may finish (a second signal exits at once)",
			"worker", w.ID(), "drain_timeout", o.drainTimeout)
	})
	if err := w.Run(ctx); err != nil {
		log.Error("pink-worker stopped on a failure", "worker", w.ID(), "err", err)
		return exitError
	}
	log.Info("pink-worker stopped", "worker", w.ID())
	return exitOK
}

// logStarting logs what the worker starts with, and warns about what it
// exposes.
func logStarting(log *slog.Logger, o *options, id string) {
	attrs := []any{"group", o.group, "worker", id, "handlers", strings.Join(o.handlers(), ","),
		"etcd", strings.Join(o.etcd.Endpoints, ","), "prefix", o.prefix, "capacity", o.capacity,
		"lease_ttl", o.leaseTTL.String(), "drain_timeout", o.drainTimeout.String(), "version", versionString()}
	if len(o.labels) > 0 {
		attrs = append(attrs, "labels", o.labels)
	}
	if o.etcd.Username != "" {
		attrs = append(attrs, "etcd_user", o.etcd.Username)
	}
	if o.shell != nil {
		allow := "any"
		if len(o.shell.Allow) > 0 {
			allow = strings.Join(o.shell.Allow, ",")
		}
		attrs = append(attrs, "shell_allow", allow, "shell_syntax", o.shell.AllowShellSyntax, "shell_inherit_env", o.shell.InheritEnv)
	}
	if o.http != nil {
		attrs = append(attrs, "http_allow_hosts", strings.Join(o.http.AllowHosts, ","))
	}
	log.Info("pink-worker starting", attrs...)
	if o.shell != nil && len(o.shell.Allow) == 0 {
		who := "this user"
		if u, err := user.Current(); err == nil {
			who = "user " + u.Username
		}
		log.Warn("the shell handler runs ANY command a job of the group names, as "+who+
			": whoever can create jobs in the group can run programs on this machine; limit it with --shell-allow",
			"group", o.group)
	}
}

// versionString is the build's version: -X main.version, else the module
// version and VCS revision recorded by the go command.
func versionString() string { return cli.Version(version) }
