// Command sdkworker is a worker written against the Go SDK (app/worker)
// the way an application embeds it: its own handler, "ledger", in Go, and
// the built-in shell handler beside it. The cluster tests run it next to
// pink-worker processes, so faults hit both kinds of worker.
//
//	sdkworker --group cluster --etcd http://127.0.0.1:2379 --id w2 --ledger /tmp/ledger.txt
//
// The ledger handler appends one line per execution to --ledger:
//
//	<run ID> <attempt> <worker ID> <fire ID> <start, Unix ns> <end, Unix ns>
//
// after sleeping for its params' "sleep" (a Go duration; cancelled with
// the run). The shell handler gives commands the worker's environment.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/app/worker/builtin"
)

func main() {
	group := flag.String("group", "", "job group")
	endpoints := flag.String("etcd", "http://127.0.0.1:2379", "comma-separated etcd client URLs")
	id := flag.String("id", "", "worker ID")
	ledger := flag.String("ledger", "", "file the ledger handler appends to")
	ttl := flag.Duration("lease-ttl", 2*time.Second, "registration lease TTL")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if *group == "" || *ledger == "" {
		fmt.Fprintln(os.Stderr, "sdkworker: --group and --ledger are required")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cli, err := etcd.NewClient(etcd.ClientConfig{Endpoints: strings.Split(*endpoints, ",")})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkworker:", err)
		os.Exit(1)
	}
	defer cli.Close()
	store := etcd.NewStore(cli, etcd.Options{Logger: log})
	w, err := worker.New(worker.Config{Group: *group, ID: *id, LeaseTTL: *ttl, Registry: store, Runs: store, Logger: log})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdkworker:", err)
		os.Exit(2)
	}
	w.Handle(builtin.ShellName, builtin.Shell(builtin.ShellOptions{InheritEnv: true, AllowShellSyntax: true}))
	l := &ledgerFile{path: *ledger}
	w.Handle("ledger", func(ctx context.Context, run worker.Run) (worker.Result, error) {
		start := time.Now()
		var p struct {
			Sleep string `json:"sleep"`
		}
		if len(run.Params) > 0 {
			if err := json.Unmarshal(run.Params, &p); err != nil {
				return worker.Result{}, fmt.Errorf("params: %w", err)
			}
		}
		if p.Sleep != "" {
			d, err := time.ParseDuration(p.Sleep)
			if err != nil {
				return worker.Result{}, fmt.Errorf("params.sleep: %w", err)
			}
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return worker.Result{}, ctx.Err()
			}
		}
		if err := l.append(fmt.Sprintf("%s %d %s %s %d %d\n", run.ID, run.Attempt, w.ID(), run.FireID,
			start.UnixNano(), time.Now().UnixNano())); err != nil {
			return worker.Result{}, err
		}
		return worker.Result{Output: "recorded"}, nil
	})
	log.Info("sdkworker starting", "worker", w.ID(), "group", *group)
	if err := w.Run(ctx); err != nil {
		log.Error("sdkworker stopped on a failure", "err", err)
		os.Exit(1)
	}
}

// ledgerFile appends whole lines to a file shared with other processes
// (O_APPEND: each short write lands whole).
type ledgerFile struct {
	mu   sync.Mutex
	path string
}

func (l *ledgerFile) append(line string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
