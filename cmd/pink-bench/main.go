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

	c1, err := measureCeiling(ctx, e)
	if err != nil {
		return err
	}
	e.progress("ceiling: %.0f create-if-absent Txns/s, %.0f keys/s batched (%.0f serial), Txn p50 %s",
		c1.txnPerSec, c1.keysPerSec, c1.keysPerSecSerial, ms(c1.txnLatency.p50))

	// The phases' results, turned into rows once the ceiling has been
	// measured again at the end.
	var rows []func(*table, ceiling)
	// phase runs a phase; a failed phase is reported in the table and the
	// run goes on with the next one, unless it was interrupted.
	var failed []error
	phase := func(name string, f func() error) error {
		t.header = append(t.header, fmt.Sprintf("load average before %s: %s", name, loadAvg()))
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		e.progress("%s failed: %v", name, err)
		failed = append(failed, fmt.Errorf("%s: %w", name, err))
		rows = append(rows, func(t *table, _ ceiling) {
			t.add(row{Figure: name + ": PHASE FAILED", Value: err.Error(), Verdict: "MISSES"})
		})
		return nil
	}
	if o.run("dispatch") {
		if err := phase("dispatch", func() error {
			r, err := runFlow(ctx, e, "dispatch", o.jobs, false)
			if err == nil {
				rows = append(rows, func(t *table, c ceiling) { flowRows(t, r, c, o) })
			}
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
				if err == nil {
					rows = append(rows, func(t *table, c ceiling) { flowRows(t, r, c, o) })
				}
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
			if err == nil {
				rows = append(rows, func(t *table, _ ceiling) { readyRows(t, r) })
			}
			return err
		}); err != nil {
			return err
		}
	}
	if o.run("failover") {
		if err := phase("failover", func() error {
			r, err := runFailover(ctx, e)
			if err == nil {
				rows = append(rows, func(t *table, c ceiling) { failoverRows(t, r, c) })
			}
			return err
		}); err != nil {
			return err
		}
	}

	// The machine is shared: measure the ceiling again and compare with
	// the better of the two.
	c2, err := measureCeiling(ctx, e)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		e.progress("the ceiling could not be measured again (%v); using the first measurement", err)
		c2 = c1
	}
	c := bestCeiling(c1, c2)
	ceilingRows(t, c1, c2, c, o)
	for _, f := range rows {
		f(t, c)
	}
	t.header = append(t.header, "load average at end: "+loadAvg(), fmt.Sprintf("total time: %s", time.Since(start).Round(time.Second)))
	fmt.Fprintln(out)
	t.print(out)
	e.logs.summary(progress)
	if o.jsonOut != "" {
		if err := t.writeJSON(o.jsonOut); err != nil {
			return err
		}
	}
	return errors.Join(failed...)
}
