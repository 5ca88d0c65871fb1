package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/jobs"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/internal/proctest"
	"github.com/pink-scheduler/pink/ports"
)

const (
	group    = "cluster"
	leaseTTL = 2 * time.Second
	nJobs    = 3 // shell jobs tick-0..2; tick-2 is the canary of the fence checks
	// canaryJob is the index in jobIDs of the job paused during a leader
	// fault: a fire of it after the pause is an ex-leader's stale write.
	canaryJob = nJobs - 1
)

// options shape a cluster: extra pink-node flags (retention).
type options struct {
	nodeArgs []string
}

// wproc is a worker process: pink-worker (w0, w1) or the Go SDK worker
// test/cluster/sdkworker (w2).
type wproc struct {
	*proctest.Proc
	id string
}

// member is one etcd member process.
type member struct {
	*proctest.Proc
	name, clientURL, peerURL string
}

// pnode is a pink-node process and the fault proxies it reaches etcd by.
type pnode struct {
	*proctest.Proc
	id, httpAddr string
	proxies      []*faultProxy
}

// cluster is everything one scenario runs on.
type cluster struct {
	t       *testing.T
	dir     string
	members []*member
	nodes   []*pnode
	workers []*wproc
	cli     *clientv3.Client
	store   *etcd.Store
	svc     *jobs.Service
	ledger  string
	jobIDs  []string
}

// newCluster starts 3 etcd members, 3 nodes (each behind its own proxies)
// and 3 workers, and waits until they are ready and one node leads.
func newCluster(t *testing.T, o options) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "pink-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // registered first: runs after the processes stop
	c := &cluster{t: t, dir: dir, ledger: filepath.Join(dir, "ledger.txt")}

	// A port picked free can be taken by another process before etcd binds
	// it (other test suites may run on the machine): a member that exits
	// before it is ready makes the whole etcd cluster start again on new
	// ports.
	for try := 1; ; try++ {
		if c.startEtcd(try) {
			break
		}
		if try == 3 {
			for _, m := range c.members {
				t.Logf("---- etcd member %s output:\n%s", m.name, m.Output())
			}
			t.Fatal("the etcd cluster did not start in 3 tries")
		}
	}
	c.cli, err = clientv3.New(clientv3.Config{Endpoints: c.memberURLs(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cli.Close() })
	c.store = etcd.NewStore(c.cli, etcd.Options{Logger: slog.New(slog.DiscardHandler)})
	c.svc, err = jobs.New(jobs.Config{Groups: c.store, Jobs: c.store, Fires: c.store, Workers: c.store, Clock: clock.System{}})
	if err != nil {
		t.Fatal(err)
	}

	for i := range 3 {
		n := &pnode{id: fmt.Sprintf("n%d", i), httpAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
		var urls []string
		for _, m := range c.members {
			p := newFaultProxy(t, strings.TrimPrefix(m.clientURL, "http://"))
			n.proxies = append(n.proxies, p)
			urls = append(urls, "http://"+p.Addr())
		}
		args := append([]string{"--etcd", strings.Join(urls, ","), "--http", n.httpAddr,
			"--node-id", n.id, "--lease-ttl", leaseTTL.String(), "--dev"}, o.nodeArgs...)
		n.Proc = start(t, "pink-node", args...)
		c.nodes = append(c.nodes, n)
	}
	for _, n := range c.nodes {
		eventually(t, 60*time.Second, "node "+n.id+" ready", func() bool { return n.ready().Ready })
	}
	eventually(t, 30*time.Second, "a leader", func() bool { return c.leader() != nil })

	ctx := context.Background()
	if _, err := c.svc.CreateGroup(ctx, domain.Group{Name: group}); err != nil {
		t.Fatal(err)
	}
	// The ledger lines of shell jobs name the worker through LEDGER_WORKER
	// (commands get the worker's environment).
	etcdURLs := strings.Join(c.memberURLs(), ",")
	for i := range 2 {
		id := fmt.Sprintf("w%d", i)
		c.workers = append(c.workers, &wproc{id: id, Proc: startEnv(t, []string{"LEDGER_WORKER=" + id}, "pink-worker",
			"--group", group, "--etcd", etcdURLs, "--id", id, "--allow-shell", "--shell-inherit-env",
			"--lease-ttl", leaseTTL.String())})
	}
	c.workers = append(c.workers, &wproc{id: "w2", Proc: startEnv(t, []string{"LEDGER_WORKER=w2"}, "sdkworker",
		"--group", group, "--etcd", etcdURLs, "--id", "w2", "--ledger", c.ledger, "--lease-ttl", leaseTTL.String())})
	c.waitWorkers(len(c.workers))
	return c
}

// waitWorkers waits until n workers are registered.
func (c *cluster) waitWorkers(n int) {
	c.t.Helper()
	eventually(c.t, 30*time.Second, fmt.Sprintf("%d workers registered", n), func() bool {
		ws, _, err := c.store.ListWorkers(context.Background(), group)
		return err == nil && len(ws) == n
	})
}

// worker returns the worker process with ID id.
func (c *cluster) worker(id string) *wproc {
	for _, w := range c.workers {
		if w.id == id {
			return w
		}
	}
	c.t.Fatalf("no worker %q", id)
	return nil
}

// startEtcd starts the three etcd members on fresh ports and data
// directories and waits until they serve; false if one exited first.
func (c *cluster) startEtcd(try int) bool {
	t := c.t
	for _, m := range c.members {
		m.Kill9()
	}
	c.members = nil
	var initial []string
	for i := range 3 {
		m := &member{name: fmt.Sprintf("m%d", i),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	for _, m := range c.members {
		m.Proc = start(t, "etcdmember", "--name", m.name, "--data-dir", filepath.Join(c.dir, fmt.Sprintf("%s.%d", m.name, try)),
			"--listen", m.clientURL, "--peer-listen", m.peerURL, "--initial-cluster", strings.Join(initial, ","),
			"--cluster-state", "new", "--cluster-token", "pink-cluster-test", "--fast")
	}
	ok := true
	for _, m := range c.members {
		eventually(t, 60*time.Second, "etcd member "+m.name+" ready", func() bool {
			if !m.Alive() {
				ok = false
				return true
			}
			return strings.Contains(m.Output(), "etcd ready")
		})
	}
	if !ok {
		t.Logf("etcd members exited before serving (try %d); starting again on other ports", try)
	}
	return ok
}

func (c *cluster) memberURLs() []string {
	var u []string
	for _, m := range c.members {
		u = append(u, m.clientURL)
	}
	return u
}

// readiness is a node's /readyz.
type readiness struct {
	Ready    bool   `json:"ready"`
	NodeID   string `json:"node_id"`
	Leader   bool   `json:"leader"`
	LeaderID string `json:"leader_id"`
}

func (n *pnode) ready() readiness {
	var rd readiness
	if !n.Alive() {
		return rd
	}
	_ = getJSON(n.httpAddr, "/readyz", 500*time.Millisecond, &rd)
	return rd
}

// leader returns the node that says it leads, nil if none does. Nodes are
// asked concurrently: a stopped one must not delay the answer.
func (c *cluster) leader() *pnode {
	return c.leaderExcept(nil)
}

func (c *cluster) leaderExcept(old *pnode) *pnode {
	var mu sync.Mutex
	var found *pnode
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n == old {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if n.ready().Leader {
				mu.Lock()
				found = n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return found
}

// restartNode starts a node again with the same flags.
func (c *cluster) restartNode(n *pnode) {
	n.Proc = start(c.t, "pink-node", n.Args...)
	eventually(c.t, 60*time.Second, "node "+n.id+" ready again", func() bool { return n.ready().Ready })
}

// createJobs creates the jobs, each appending a line to the ledger when it
// runs (see ledgerEntry): the shell jobs tick-0..2, run by every worker;
// sdk-tick, whose handler only the Go SDK worker has; and when slow, a
// shell job that sleeps 2 s.
func (c *cluster) createJobs(slow bool) {
	c.t.Helper()
	ctx := context.Background()
	mk := func(name, handler string, params []byte) {
		j, err := c.svc.CreateJob(ctx, domain.Job{Group: group, Name: name, Schedule: "* * * * * *", Handler: handler,
			Params:  params,
			Misfire: domain.Misfire{Policy: domain.MisfireFireAll, Window: domain.Duration(time.Minute)},
			Overlap: domain.OverlapAllow,
			Retry:   domain.Retry{MaxAttempts: 3, Backoff: domain.Duration(100 * time.Millisecond), MaxBackoff: domain.Duration(time.Second)},
			Timeout: domain.Duration(30 * time.Second)})
		if err != nil {
			c.t.Fatal(err)
		}
		c.jobIDs = append(c.jobIDs, j.ID)
	}
	shell := func(sleep string) []byte {
		script := `s=$(date +%s%N); ` + sleep + `echo "$PINK_RUN_ID $PINK_ATTEMPT $LEDGER_WORKER $PINK_FIRE_ID $s $(date +%s%N)" >> ` + c.ledger
		b, _ := json.Marshal(map[string]any{"command": []string{"sh", "-c", script}})
		return b
	}
	for i := range nJobs {
		mk(fmt.Sprintf("tick-%d", i), "shell", shell(""))
	}
	mk("sdk-tick", "ledger", nil)
	if slow {
		mk("slow", "shell", shell("sleep 2; "))
	}
}

// slowJob is the ID of the job that sleeps 2 s (created last).
func (c *cluster) slowJob() string { return c.jobIDs[len(c.jobIDs)-1] }

// pauseCanary pauses the canary job during a leader fault and records
// when the pause was committed.
func (c *cluster) pauseCanary(f *fault) {
	c.t.Helper()
	f.canary = c.jobIDs[canaryJob]
	if _, err := c.svc.PauseJob(context.Background(), f.canary); err != nil {
		c.t.Fatal(err)
	}
	f.canaryAt = time.Now()
}

// pauseAndDrain pauses every job and waits until no run is active.
func (c *cluster) pauseAndDrain() {
	c.t.Helper()
	ctx := context.Background()
	for _, id := range c.jobIDs {
		if _, err := c.svc.PauseJob(ctx, id); err != nil {
			c.t.Fatal(err)
		}
	}
	eventually(c.t, 60*time.Second, "no run left pending, assigned or running", func() bool {
		for _, id := range c.jobIDs {
			for _, r := range c.runs(id) {
				if !r.State.Terminal() {
					return false
				}
			}
		}
		return true
	})
}

func (c *cluster) fires(jobID string) []domain.Fire {
	var all []domain.Fire
	req := ports.FireFilter{JobID: jobID, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	for {
		p, err := c.store.ListFires(context.Background(), req)
		if err != nil {
			c.t.Fatal(err)
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all
		}
		req.Cursor = p.NextCursor
	}
}

func (c *cluster) runs(jobID string) []domain.Run {
	var all []domain.Run
	req := ports.RunFilter{JobID: jobID, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	for {
		p, err := c.store.ListRuns(context.Background(), req)
		if err != nil {
			c.t.Fatal(err)
		}
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all
		}
		req.Cursor = p.NextCursor
	}
}

// eventually polls cond every 50 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fault is what a scenario knows about the fault it injected.
type fault struct {
	at        time.Time // when the fault began
	oldLeader *pnode
	// oldToken is the fencing token of the leader the fault hit; zero when
	// the fault is not meant to end its term (then no fence is checked).
	oldToken  int64
	newLeader time.Duration // time to a new leader; <0: no change seen
	// canary, when set, was paused at canaryAt while the old leader was cut
	// off: it must have no fire for a nominal time after that.
	canary   string
	canaryAt time.Time
	// retention is the nodes' --history-per-job when the scenario sets
	// it: the history is then checked against it, and the first fires
	// may have been pruned.
	retention int
}

// watchLeader polls the nodes from now on and returns a function giving
// the time from f.at to the first node other than old reporting it leads
// (-1 if none did).
func (c *cluster) watchLeader(at time.Time, old *pnode) (stop func() time.Duration) {
	done := make(chan struct{})
	res := make(chan time.Duration, 1)
	go func() {
		for {
			select {
			case <-done:
				res <- -1
				return
			default:
			}
			if c.leaderExcept(old) != nil {
				res <- time.Since(at)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var once sync.Once
	var d time.Duration
	return func() time.Duration {
		once.Do(func() { close(done); d = <-res })
		return d
	}
}

// result is one row of the table.
type result struct {
	Scenario   string
	Seed       int64
	NewLeader  time.Duration // <0: n/a
	Resume     time.Duration // <0: n/a
	MaxGap     time.Duration
	Fires      int
	LateMax    time.Duration
	LateOver1s int
	Retries    int
	Dups       int
	Lost       int
	Skipped    int
	ExecDups   int
	Fence      int // fires written by a faulted ex-leader after the fault (must be 0)
	Early      int // executions started before their nominal time (must be 0)
	History    int // most fire records or runs kept for one job at the end
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(10 * time.Millisecond).String()
}

func (r result) header() string {
	return "| scenario | seed | new leader | resume | max gap | fires | late max | late >1s | retries | dup fires | lost | skipped | stale writes | early | dup execs | history/job |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
}

func (r result) row() string {
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %d | %s | %d | %d | %d | %d | %d | %d | %d | %d | %d |",
		r.Scenario, r.Seed, fmtDur(r.NewLeader), fmtDur(r.Resume), fmtDur(r.MaxGap), r.Fires,
		fmtDur(r.LateMax), r.LateOver1s, r.Retries, r.Dups, r.Lost, r.Skipped, r.Fence, r.Early, r.ExecDups, r.History)
}

// check reads the store and the ledger after the jobs were paused at
// pausedAt, asserts the guarantees and returns the figures.
func (c *cluster) check(name string, seed int64, createdAt, pausedAt time.Time, f fault) result {
	t := c.t
	t.Helper()
	r := result{Scenario: name, Seed: seed, NewLeader: f.newLeader, Resume: -1}
	var allFires []domain.Fire
	runState := map[string]domain.Run{}
	for _, id := range c.jobIDs {
		fires := c.fires(id)
		allFires = append(allFires, fires...)
		perSecond := map[int64]int{}
		var first, last int64
		for i, fr := range fires {
			if fr.Status == domain.FireSkipped {
				n := 1
				if fr.Summary != nil {
					n = fr.Summary.Count
				}
				r.Skipped += n
				t.Errorf("job %s: fire %s skipped: %s", id, fr.ID, fr.Reason)
			}
			s := fr.Nominal.Unix()
			perSecond[s]++
			if i == 0 || s < first {
				first = s
			}
			if i == 0 || s > last {
				last = s
			}
		}
		for s, n := range perSecond {
			if n > 1 {
				r.Dups += n - 1
				t.Errorf("job %s: %d fire records for nominal %s", id, n, time.Unix(s, 0).UTC())
			}
		}
		if len(fires) == 0 {
			t.Errorf("job %s: no fire at all", id)
			continue
		}
		r.History = max(r.History, len(fires))
		if f.retention == 0 && first > createdAt.Unix()+3 {
			t.Errorf("job %s: first fire at %s, job created at %s", id, time.Unix(first, 0).UTC(), createdAt.UTC())
		}
		jobPausedAt := pausedAt
		if id == f.canary {
			jobPausedAt = f.canaryAt
			for _, fr := range fires {
				if fr.Nominal.After(f.canaryAt) {
					r.Fence++
					t.Errorf("fence: job %s was paused at %s while the leader was cut off, yet fire %s (nominal %s) was recorded with token %d (the ex-leader's: %d)",
						id, f.canaryAt.UTC().Format(time.StampMilli), fr.ID, fr.Nominal.UTC().Format(time.StampMilli), fr.LeaderToken, f.oldToken)
				}
			}
		}
		end := max(last, jobPausedAt.Unix()-2)
		if id == f.canary {
			end = jobPausedAt.Unix() - 2 // stale fires after the pause are counted above
		}
		for s := first; s <= end; s++ {
			if perSecond[s] == 0 {
				r.Lost++
				t.Errorf("job %s: no fire record for nominal %s (lost)", id, time.Unix(s, 0).UTC())
			}
		}
		runsPerFire := map[string]int{}
		runs := c.runs(id)
		r.History = max(r.History, len(runs))
		if f.retention > 0 && (len(fires) > f.retention+1 || len(runs) > f.retention+1) {
			t.Errorf("job %s: %d fire records and %d runs kept, retention %d per job", id, len(fires), len(runs), f.retention)
		}
		for _, run := range runs {
			runState[run.ID] = run
			runsPerFire[run.FireID]++
			if !run.State.Terminal() {
				t.Errorf("run %s left %s", run.ID, run.State)
			} else if run.State != domain.RunSucceeded {
				t.Errorf("run %s ended %s: %s", run.ID, run.State, run.Error)
			}
			if run.Attempt > 1 {
				r.Retries++
			}
			if run.Attempt == 1 && !run.AssignedAt.IsZero() {
				late := run.AssignedAt.Sub(run.ScheduledAt)
				r.LateMax = max(r.LateMax, late)
				if late > time.Second {
					r.LateOver1s++
				}
			}
		}
		for fid, n := range runsPerFire {
			if n > 1 {
				r.Dups += n - 1
				t.Errorf("fire %s has %d runs", fid, n)
			}
		}
	}
	r.Fires = len(allFires)

	// Dispatch figures: the largest gap between fire records, and the
	// time from the fault to the first fire written under another token.
	sort.Slice(allFires, func(i, j int) bool { return allFires[i].CreatedAt.Before(allFires[j].CreatedAt) })
	for i := 1; i < len(allFires); i++ {
		r.MaxGap = max(r.MaxGap, allFires[i].CreatedAt.Sub(allFires[i-1].CreatedAt))
	}
	if f.oldToken != 0 {
		for _, fr := range allFires {
			if fr.LeaderToken != f.oldToken && fr.CreatedAt.After(f.at) {
				r.Resume = fr.CreatedAt.Sub(f.at)
				break
			}
		}
		// Fencing: the old leader could not have written a fire for a
		// nominal time after the fault began.
		for _, fr := range allFires {
			if fr.LeaderToken == f.oldToken && fr.Nominal.After(f.at.Add(time.Second)) {
				r.Fence++
				t.Errorf("fence: fire %s (nominal %s) written with the old leader's token %d after the fault at %s",
					fr.ID, fr.Nominal, f.oldToken, f.at)
			}
		}
	}

	// The ledger: the test's own record of executions.
	execs := c.readLedger()
	byKey := map[execKey][]ledgerEntry{}
	for _, e := range execs {
		k := execKey{e.run, e.attempt}
		byKey[k] = append(byKey[k], e)
		run, ok := runState[e.run]
		if !ok {
			if f.retention == 0 {
				t.Errorf("ledger: run %s executed but not in the store", e.run)
			}
			continue
		}
		if e.fire != run.FireID {
			t.Errorf("ledger: run %s executed for fire %s, the store says fire %s", e.run, e.fire, run.FireID)
		}
		if e.start.Before(run.ScheduledAt) {
			r.Early++
			t.Errorf("ledger: run %s attempt %d started on %s at %s, before its nominal time %s",
				e.run, e.attempt, e.worker, e.start.UTC().Format(time.StampMicro), run.ScheduledAt.UTC().Format(time.StampMicro))
		}
	}
	for k, es := range byKey {
		if len(es) > 1 {
			r.ExecDups += len(es) - 1
			t.Logf("at-least-once: run %s attempt %d executed %d times", k.run, k.attempt, len(es))
		}
	}
	for id, run := range runState {
		if run.State != domain.RunSucceeded {
			continue
		}
		// The accepted result is the one of the attempt's own execution,
		// on the worker the store credits.
		found := false
		for _, e := range byKey[execKey{id, run.Attempt}] {
			if e.worker == run.WorkerID {
				found = true
			}
		}
		if !found {
			t.Errorf("ledger: run %s succeeded at attempt %d on %s, but the ledger has no such execution (%v)",
				id, run.Attempt, run.WorkerID, byKey[execKey{id, run.Attempt}])
		}
	}
	return r
}

type execKey struct {
	run     string
	attempt int
}

// ledgerEntry is one line of the ledger: an execution as the handler saw
// it. The attempt is the execution's fencing token: the store accepts a
// result only from the run's current attempt.
type ledgerEntry struct {
	run        string
	attempt    int
	worker     string
	fire       string
	start, end time.Time
}

func (c *cluster) readLedger() []ledgerEntry {
	var out []ledgerEntry
	f, err := os.Open(c.ledger)
	if err != nil {
		c.t.Fatalf("ledger: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Fields(sc.Text())
		var e ledgerEntry
		var err error
		var s, en int64
		if len(p) == 6 {
			e.run, e.worker, e.fire = p[0], p[2], p[3]
			e.attempt, err = strconv.Atoi(p[1])
			if err == nil {
				s, err = strconv.ParseInt(p[4], 10, 64)
			}
			if err == nil {
				en, err = strconv.ParseInt(p[5], 10, 64)
			}
		}
		if len(p) != 6 || err != nil || e.attempt < 1 || en < s {
			c.t.Errorf("ledger: malformed line %q", sc.Text())
			continue
		}
		e.start, e.end = time.Unix(0, s), time.Unix(0, en)
		out = append(out, e)
	}
	return out
}

// latestToken returns the fencing token of the newest fire record.
func (c *cluster) latestToken() int64 {
	var best domain.Fire
	for _, id := range c.jobIDs {
		for _, fr := range c.fires(id) {
			if fr.CreatedAt.After(best.CreatedAt) {
				best = fr
			}
		}
	}
	return best.LeaderToken
}
