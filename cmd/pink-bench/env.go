package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// env is the embedded etcd every phase shares, and the harness's logs.
type env struct {
	opts *options
	dir  string
	srv  *etcd.Server
	cli  *clientv3.Client // in-process
	logs *logSink
	out  io.Writer // progress lines
}

// startEnv starts the embedded etcd as production runs it: fsync on,
// default raft ticks, in a temporary directory, on random loopback ports.
func startEnv(ctx context.Context, o *options, progress io.Writer) (*env, error) {
	dir, err := os.MkdirTemp("", "pink-bench-")
	if err != nil {
		return nil, err
	}
	srv, err := etcd.StartServer(ctx, etcd.ServerConfig{
		DataDir:   filepath.Join(dir, "etcd"),
		ClientURL: "http://127.0.0.1:0", PeerURL: "http://127.0.0.1:0",
		QuotaBytes: 8 << 30, // room for a million jobs with their fires
	})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &env{opts: o, dir: dir, srv: srv, cli: srv.Client(), logs: newLogSink(progress, o.verbose), out: progress}, nil
}

// close stops etcd and removes the temporary directory.
func (e *env) close() {
	e.srv.Close()
	_ = os.RemoveAll(e.dir)
}

func (e *env) progress(format string, args ...any) {
	fmt.Fprintf(e.out, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, args...)...)
}

// store returns a store on the in-process client under prefix.
func (e *env) store(prefix string) *etcd.Store {
	return etcd.NewStore(e.cli, etcd.Options{Prefix: prefix, Logger: e.logs.logger(slog.LevelWarn, "component", "store")})
}

// newScheduler returns a scheduler on cli under prefix, campaigning as
// node with an election TTL of ttl (0: the elector's default). With p, its
// fire writes are timed.
func (e *env) newScheduler(cli *clientv3.Client, prefix, node string, ttl time.Duration, p *probes) (*scheduler.Scheduler, error) {
	log := e.logs.logger(slog.LevelInfo, "node", node)
	st := etcd.NewStore(cli, etcd.Options{Prefix: prefix, Logger: log})
	el := etcd.NewElector(cli, etcd.ElectorOptions{Prefix: prefix, NodeID: node, TTL: ttl, Logger: log})
	var fires ports.FireStore = st
	if p != nil {
		fires = fireProbe{FireStore: st, p: p}
	}
	return scheduler.New(scheduler.Config{
		Jobs: st, Fires: fires, Runs: st, Workers: st, Elector: el, Clock: clock.System{},
		Logger: log, BatchSize: e.opts.batch,
	})
}

// cleanup deletes every key under prefix, so that the next phase starts
// on a smaller store. It does not compact: etcd's own periodic compaction
// (5 minutes) runs as it would in production. A delete of millions of keys
// can outlast etcd's request timeout while it is still being applied: then
// cleanup waits until the prefix is empty.
func (e *env) cleanup(prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t0 := time.Now()
	resp, err := e.cli.Delete(ctx, prefix+"/", clientv3.WithPrefix())
	for err != nil && ctx.Err() == nil {
		var n *clientv3.GetResponse
		if n, err = e.cli.Get(ctx, prefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err == nil && n.Count > 0 {
			resp, err = e.cli.Delete(ctx, prefix+"/", clientv3.WithPrefix())
		}
		if err != nil {
			sleep(ctx, time.Second)
		}
	}
	switch {
	case err != nil:
		e.progress("cleanup of %s failed: %v", prefix, err)
	case time.Since(t0) > time.Second:
		var n int64
		if resp != nil {
			n = resp.Deleted
		}
		e.progress("cleanup of %s: done in %s (%d keys in the last delete)", prefix, ms(time.Since(t0)), n)
	}
}

// running is a scheduler running in a goroutine.
type running struct {
	s       *scheduler.Scheduler
	node    string
	started time.Time
	cancel  context.CancelFunc
	done    chan struct{}
}

func startScheduler(ctx context.Context, s *scheduler.Scheduler, node string) *running {
	ctx, cancel := context.WithCancel(ctx)
	r := &running{s: s, node: node, started: time.Now(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = s.Run(ctx)
	}()
	return r
}

// stop cancels the scheduler (it resigns) and waits for it.
func (r *running) stop() {
	r.cancel()
	<-r.done
}

// profile starts a CPU profile of a phase when -profile-dir is set; the
// returned function stops it.
func (e *env) profile(phase string) func() {
	if e.opts.profileDir == "" {
		return func() {}
	}
	if err := os.MkdirAll(e.opts.profileDir, 0o755); err != nil {
		e.progress("profile: %v", err)
		return func() {}
	}
	f, err := os.Create(filepath.Join(e.opts.profileDir, phase+".cpu.pprof"))
	if err != nil {
		e.progress("profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		e.progress("profile: %v", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// heapProfile writes a heap profile when -profile-dir is set.
func (e *env) heapProfile(name string) {
	if e.opts.profileDir == "" {
		return
	}
	f, err := os.Create(filepath.Join(e.opts.profileDir, name+".heap.pprof"))
	if err != nil {
		e.progress("profile: %v", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		e.progress("profile: %v", err)
	}
}

// benchJob returns job number i of a phase.
func benchJob(i int, group, schedule string, shards int, planFrom time.Time) domain.Job {
	j := domain.Job{
		ID: fmt.Sprintf("job-%07d", i), Group: group, Name: fmt.Sprintf("bench job %d", i),
		Schedule: schedule, Handler: "noop", State: domain.JobActive, Shards: shards,
		// Runs of the dispatch phase never finish: with the default
		// (forbid) every fire after the first would be a skip.
		Overlap:  domain.OverlapAllow,
		PlanFrom: planFrom, CreatedAt: planFrom, UpdatedAt: planFrom,
	}
	j.Normalize()
	return j
}
