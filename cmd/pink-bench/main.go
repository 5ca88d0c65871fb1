package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	o, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pink-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "pink-bench:", err)
		stop()
		os.Exit(1)
	}
}

// run starts the environment, runs the phases o asks for, and prints the
// table to out; progress and the log summary go to progress.
func run(ctx context.Context, o *options, out, progress io.Writer) error {
	start := time.Now()
	t := &table{header: []string{
		"pink-bench " + start.UTC().Format(time.RFC3339) + " -mode " + o.mode,
		"machine: " + machine(),
		"load average at start: " + loadAvg(),
		"etcd: embedded, single member, fsync on, default ticks; scheduler and workers on the in-process client",
	}}
	e, err := startEnv(ctx, o, progress)
	if err != nil {
		return err
	}
	defer e.close()
	e.progress("etcd ready in %s", e.dir)

	c, err := measureCeiling(ctx, e)
	if err != nil {
		return err
	}
	e.progress("ceiling: %.0f create-if-absent Txns/s, %.0f keys/s batched (%.0f serial), Txn p50 %s",
		c.txnPerSec, c.keysPerSec, c.keysPerSecSerial, ms(c.txnLatency.p50))
	ceilingRows(t, c, o)

	phase := func(name string, f func() error) error {
		t.header = append(t.header, fmt.Sprintf("load average before %s: %s", name, loadAvg()))
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	if o.run("dispatch") {
		if err := phase("dispatch", func() error {
			r, err := runFlow(ctx, e, "dispatch", o.jobs, false)
			flowRows(t, r, c, o)
			return err
		}); err != nil {
			return err
		}
	}
	if o.run("e2e") {
		for _, n := range o.e2eJobs {
			name := fmt.Sprintf("e2e-%d", n)
			if err := phase(name, func() error {
				r, err := runFlow(ctx, e, name, n, true)
				flowRows(t, r, c, o)
				return err
			}); err != nil {
				return err
			}
		}
	}
	if o.run("ready") {
		idle := o.mode == "all" || o.mode == "idle"
		if err := phase("ready", func() error {
			r, err := runReady(ctx, e, idle)
			readyRows(t, r)
			return err
		}); err != nil {
			return err
		}
	}
	if o.run("failover") {
		if err := phase("failover", func() error {
			r, err := runFailover(ctx, e)
			failoverRows(t, r, c)
			return err
		}); err != nil {
			return err
		}
	}
	t.header = append(t.header, "load average at end: "+loadAvg(), fmt.Sprintf("total time: %s", time.Since(start).Round(time.Second)))
	fmt.Fprintln(out)
	t.print(out)
	e.logs.summary(progress)
	if o.jsonOut != "" {
		return t.writeJSON(o.jsonOut)
	}
	return nil
}
