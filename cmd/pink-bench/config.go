package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// modes in the order "all" runs them.
var modes = []string{"dispatch", "e2e", "ready", "idle", "failover"}

// options are the harness's flags.
type options struct {
	mode         string
	jobs         int
	e2eJobs      []int
	readyJobs    int
	failJobs     int
	readyFires   bool
	readyTimeout time.Duration
	failLead     time.Duration
	schedule     string
	idleSchedule string
	workers      int
	capacity     int
	shards       int
	batch        int
	duration     time.Duration
	warmup       time.Duration
	idle         time.Duration
	ttl          time.Duration
	concurrency  int
	putsPerTxn   int
	ceilingFor   time.Duration
	loaders      int
	profileDir   string
	jsonOut      string
	verbose      bool
}

// run reports whether phase runs under the chosen mode.
func (o *options) run(phase string) bool {
	switch {
	case o.mode == "all":
		return true
	case phase == "ready":
		return o.mode == "ready" || o.mode == "idle" // idle measures after a ready phase
	}
	return o.mode == phase
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("pink-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	e2e := "1000,10000"
	fs.StringVar(&o.mode, "mode", "all", "phase to run: "+strings.Join(modes, ", ")+" or all")
	fs.IntVar(&o.jobs, "jobs", 20000, "jobs of the dispatch phase (each fires on -schedule)")
	fs.StringVar(&e2e, "e2e-jobs", e2e, "comma-separated job counts of the e2e phase, one run each")
	fs.IntVar(&o.readyJobs, "ready-jobs", 50000, "jobs stored for the ready and idle phases")
	fs.IntVar(&o.failJobs, "failover-jobs", 1000, "jobs of the failover phase")
	fs.BoolVar(&o.readyFires, "ready-fires", true, "then store one past fire per job and time a new leader again (it reads each job's last fire)")
	fs.DurationVar(&o.readyTimeout, "ready-timeout", 20*time.Second, "longest wait for the leader with fires stored to be ready")
	fs.DurationVar(&o.failLead, "failover-lead", 2*time.Second, "how long the first leader leads before it goes (its fires fill the ledger the next one reads)")
	fs.StringVar(&o.schedule, "schedule", "* * * * * *", "schedule of the dispatch, e2e and failover jobs")
	fs.StringVar(&o.idleSchedule, "idle-schedule", "0 0 3 1 1 *", "schedule of the ready and idle jobs (none due during the run)")
	fs.IntVar(&o.workers, "workers", 4, "in-process workers")
	fs.IntVar(&o.capacity, "capacity", domain.MaxCapacity, "capacity of each worker")
	fs.IntVar(&o.shards, "shards", 1, "runs per fire")
	fs.IntVar(&o.batch, "batch", 0, "scheduler BatchSize (0: the scheduler's default)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "measured window of the dispatch and e2e phases")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "time after the leader is ready before the window opens")
	fs.DurationVar(&o.idle, "idle", 10*time.Second, "idle CPU window (measured twice: with and without the scheduler)")
	fs.DurationVar(&o.ttl, "ttl", 2*time.Second, "election TTL of the failover phase")
	fs.IntVar(&o.concurrency, "concurrency", 64, "goroutines of the ceiling measurement")
	fs.IntVar(&o.putsPerTxn, "puts-per-txn", 100, "puts per Txn of the batched ceiling")
	fs.DurationVar(&o.ceilingFor, "ceiling-for", 1500*time.Millisecond, "duration of each ceiling measurement")
	fs.IntVar(&o.loaders, "loaders", 8, "goroutines that bulk-load jobs")
	fs.StringVar(&o.profileDir, "profile-dir", "", "write a CPU profile per phase and a heap profile after ready into this directory")
	fs.StringVar(&o.jsonOut, "json", "", "also write the table as JSON to this file")
	fs.BoolVar(&o.verbose, "v", false, "print the scheduler's and workers' warnings as they come")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.mode != "all" && !slices.Contains(modes, o.mode) {
		return nil, fmt.Errorf("-mode %q: want one of %s or all", o.mode, strings.Join(modes, ", "))
	}
	for _, s := range strings.Split(e2e, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-e2e-jobs: %q is not a positive count", s)
		}
		o.e2eJobs = append(o.e2eJobs, n)
	}
	var errs []error
	positive := func(name string, v int) {
		if v < 1 {
			errs = append(errs, fmt.Errorf("-%s must be at least 1, got %d", name, v))
		}
	}
	positive("jobs", o.jobs)
	positive("ready-jobs", o.readyJobs)
	positive("failover-jobs", o.failJobs)
	positive("workers", o.workers)
	positive("shards", o.shards)
	positive("concurrency", o.concurrency)
	positive("loaders", o.loaders)
	if o.capacity < 1 || o.capacity > domain.MaxCapacity {
		errs = append(errs, fmt.Errorf("-capacity must be between 1 and %d, got %d", domain.MaxCapacity, o.capacity))
	}
	if o.shards > domain.MaxShards {
		errs = append(errs, fmt.Errorf("-shards must be at most %d", domain.MaxShards))
	}
	if o.putsPerTxn < 1 || o.putsPerTxn > 128 {
		errs = append(errs, fmt.Errorf("-puts-per-txn must be between 1 and 128 (etcd's --max-txn-ops), got %d", o.putsPerTxn))
	}
	if o.duration <= 0 || o.idle <= 0 || o.ceilingFor <= 0 || o.warmup < 0 {
		errs = append(errs, errors.New("-duration, -idle and -ceiling-for must be positive, -warmup not negative"))
	}
	for _, s := range []string{o.schedule, o.idleSchedule} {
		if _, err := domain.ParseSchedule(s, ""); err != nil {
			errs = append(errs, err)
		}
	}
	return o, errors.Join(errs...)
}
