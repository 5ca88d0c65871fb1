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
	"github.com/pink-scheduler/pink/ports"
)

const (
	group    = "cluster"
	leaseTTL = 2 * time.Second
	nJobs    = 3
)

// member is one etcd member process.
type member struct {
	*proc
	name, clientURL, peerURL string
}

// pnode is a pink-node process and the fault proxies it reaches etcd by.
type pnode struct {
	*proc
	id, httpAddr string
	proxies      []*faultProxy
}

// cluster is everything one scenario runs on.
type cluster struct {
	t       *testing.T
	dir     string
	members []*member
	nodes   []*pnode
	workers []*proc
	cli     *clientv3.Client
	store   *etcd.Store
	svc     *jobs.Service
	ledger  string
	jobIDs  []string
}

// newCluster starts 3 etcd members, 3 nodes (each behind its own proxies)
// and 2 workers, and waits until they are ready and one node leads.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "pink-cluster-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) }) // registered first: runs after the processes stop
	c := &cluster{t: t, dir: dir, ledger: filepath.Join(dir, "ledger.txt")}

	var initial []string
	for i := range 3 {
		m := &member{name: fmt.Sprintf("m%d", i),
			clientURL: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
			peerURL:   fmt.Sprintf("http://127.0.0.1:%d", freePort(t))}
		c.members = append(c.members, m)
		initial = append(initial, m.name+"="+m.peerURL)
	}
	for _, m := range c.members {
		m.proc = start(t, "etcdmember", "--name", m.name, "--data-dir", filepath.Join(dir, m.name),
			"--listen", m.clientURL, "--peer-listen", m.peerURL, "--initial-cluster", strings.Join(initial, ","),
			"--cluster-state", "new", "--cluster-token", "pink-cluster-test", "--fast")
	}
	for _, m := range c.members {
		eventually(t, 60*time.Second, "etcd member "+m.name+" ready", func() bool {
			return strings.Contains(m.Output(), "etcd ready")
		})
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
		n.proc = start(t, "pink-node", "--etcd", strings.Join(urls, ","), "--http", n.httpAddr,
			"--node-id", n.id, "--lease-ttl", leaseTTL.String(), "--dev")
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
	for i := range 2 {
		c.workers = append(c.workers, start(t, "pink-worker", "--group", group, "--etcd", strings.Join(c.memberURLs(), ","),
			"--id", fmt.Sprintf("w%d", i), "--allow-shell", "--lease-ttl", leaseTTL.String()))
	}
	eventually(t, 30*time.Second, "2 workers registered", func() bool {
		ws, _, err := c.store.ListWorkers(ctx, group)
		return err == nil && len(ws) == 2
	})
	return c
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
	if !n.alive() {
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
	n.proc = start(c.t, "pink-node", n.args...)
	eventually(c.t, 60*time.Second, "node "+n.id+" ready again", func() bool { return n.ready().Ready })
}

// createJobs creates the tick jobs (and a slow one when slow), each
// appending "runID attempt" to the ledger when it runs.
func (c *cluster) createJobs(slow bool) {
	c.t.Helper()
	ctx := context.Background()
	mk := func(name, script string) {
		params, _ := json.Marshal(map[string]any{"command": []string{"sh", "-c", script}})
		j, err := c.svc.CreateJob(ctx, domain.Job{Group: group, Name: name, Schedule: "* * * * * *", Handler: "shell",
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
	line := `echo "$PINK_RUN_ID $PINK_ATTEMPT" >> ` + c.ledger
	for i := range nJobs {
		mk(fmt.Sprintf("tick-%d", i), line)
	}
	if slow {
		mk("slow", line+"; sleep 2")
	}
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
}

func fmtDur(d time.Duration) string {
	if d < 0 {
		return "-"
	}
	return d.Round(10 * time.Millisecond).String()
}

func (r result) header() string {
	return "| scenario | seed | new leader | resume | max gap | fires | late max | late >1s | retries | dup fires | lost | skipped | dup execs |\n" +
		"|---|---|---|---|---|---|---|---|---|---|---|---|---|"
}

func (r result) row() string {
	return fmt.Sprintf("| %s | %d | %s | %s | %s | %d | %s | %d | %d | %d | %d | %d | %d |",
		r.Scenario, r.Seed, fmtDur(r.NewLeader), fmtDur(r.Resume), fmtDur(r.MaxGap), r.Fires,
		fmtDur(r.LateMax), r.LateOver1s, r.Retries, r.Dups, r.Lost, r.Skipped, r.ExecDups)
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
		if first > createdAt.Unix()+3 {
			t.Errorf("job %s: first fire at %s, job created at %s", id, time.Unix(first, 0).UTC(), createdAt.UTC())
		}
		end := max(last, pausedAt.Unix()-2)
		for s := first; s <= end; s++ {
			if perSecond[s] == 0 {
				r.Lost++
				t.Errorf("job %s: no fire record for nominal %s (lost)", id, time.Unix(s, 0).UTC())
			}
		}
		runsPerFire := map[string]int{}
		for _, run := range c.runs(id) {
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
				t.Errorf("fence: fire %s (nominal %s) written with the old leader's token %d after the fault at %s",
					fr.ID, fr.Nominal, f.oldToken, f.at)
			}
		}
	}

	// The ledger: the test's own record of executions.
	execs := c.readLedger()
	for k, n := range execs {
		if n > 1 {
			r.ExecDups += n - 1
			t.Logf("at-least-once: run %s attempt %d executed %d times", k.run, k.attempt, n)
		}
		if _, ok := runState[k.run]; !ok {
			t.Errorf("ledger: run %s executed but not in the store", k.run)
		}
	}
	for id, run := range runState {
		if run.State == domain.RunSucceeded && execs[execKey{id, run.Attempt}] == 0 {
			t.Errorf("ledger: run %s succeeded at attempt %d but never executed", id, run.Attempt)
		}
	}
	return r
}

type execKey struct {
	run     string
	attempt int
}

func (c *cluster) readLedger() map[execKey]int {
	m := map[execKey]int{}
	f, err := os.Open(c.ledger)
	if err != nil {
		c.t.Fatalf("ledger: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.Fields(sc.Text())
		if len(parts) != 2 {
			c.t.Errorf("ledger: malformed line %q", sc.Text())
			continue
		}
		a, err := strconv.Atoi(parts[1])
		if err != nil {
			c.t.Errorf("ledger: malformed line %q", sc.Text())
			continue
		}
		m[execKey{parts[0], a}]++
	}
	return m
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
