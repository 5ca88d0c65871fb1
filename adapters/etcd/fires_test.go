package etcd

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// storeFire returns the scheduled fire of j at nominal with j.Shards
// pending runs.
func storeFire(j domain.Job, nominal time.Time) ports.FireWrite {
	f := domain.Fire{ID: domain.FireID(j.ID, nominal), JobID: j.ID, Group: j.Group, Nominal: nominal,
		Kind: domain.FireScheduled, Status: domain.FireDispatched, CreatedAt: nominal}
	w := ports.FireWrite{Fire: f}
	for i := range j.Shards {
		r := domain.NewRun(&j, &f, i, nominal)
		w.Runs = append(w.Runs, r)
		w.Fire.RunIDs = append(w.Fire.RunIDs, r.ID)
	}
	return w
}

// manyFires returns n fires of j, a minute apart.
func manyFires(j domain.Job, n int) []ports.FireWrite {
	out := make([]ports.FireWrite, n)
	for i := range n {
		out[i] = storeFire(j, st0.Add(time.Duration(i)*time.Minute))
	}
	return out
}

// revisions returns the distinct ModRevisions of the keys under prefix
// (relative to the store's prefix).
func revisions(t *testing.T, s *Store, prefix string) map[int64]int {
	t.Helper()
	out := map[int64]int{}
	for k, kv := range rawKVs(t, s) {
		if strings.HasPrefix(k, prefix) {
			out[kv.ModRevision]++
		}
	}
	return out
}

func TestCreateFiresKeyLayout(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	j := storeJob("nightly", "etl")
	j.Shards = 2
	w := storeFire(j, st0)
	require.NoError(t, w.Runs[1].Assign("w1", st0)) // created already assigned
	created, err := s.CreateFires(ctx, fence, []ports.FireWrite{w})
	require.NoError(t, err)
	require.Equal(t, []bool{true}, created)

	fid := w.Fire.ID
	r0, r1 := w.Runs[0].ID, w.Runs[1].ID
	kvs := rawKVs(t, s)
	delete(kvs, "/test-fence")
	want := []string{
		"/fire/instances/nightly/" + fid,
		"/fire/index/" + fid,
		"/schedule/snapshots/" + r0,
		"/execute/snapshots/etl/w1/" + r1,
		"/run/index/" + r0,
		"/run/index/" + r1,
		"/fire/last/nightly",
	}
	require.ElementsMatch(t, want, keysOf(kvs))
	require.Equal(t, "2026-11-26T16:00:00.000000000Z", string(kvs["/fire/last/nightly"].Value), "the job's last-fire marker")
	require.Len(t, revisions(t, s, "/fire/"), 1)
	rev := kvs[want[0]].ModRevision
	for _, k := range want {
		require.Equal(t, rev, kvs[k].ModRevision, "%s is written by the same Txn", k)
	}
	require.Equal(t, map[string]any{"version": float64(1),
		"run_ref": map[string]any{"job_id": "nightly", "group": "etl", "state": "assigned", "worker_id": "w1"}},
		rawJSON(t, s, "/run/index/"+r1))
	require.Equal(t, map[string]any{"version": float64(1),
		"fire_ref": map[string]any{"job_id": "nightly", "status": "dispatched", "kind": "scheduled"}},
		rawJSON(t, s, "/fire/index/"+fid))
	// A worker reads the whole run from its assignment key.
	var env struct {
		Version int
		Run     domain.Run
	}
	resp, err := s.cli.Get(ctx, s.k.p+"/execute/snapshots/etl/w1/"+r1)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(resp.Kvs[0].Value, &env))
	require.Equal(t, 1, env.Version)
	require.Equal(t, "echo", env.Run.Handler)
	require.EqualValues(t, fence.Token, rawJSON(t, s, "/fire/instances/nightly/"+fid)["fire"].(map[string]any)["leader_token"],
		"the fire records the writer's token")
}

func TestCreateFiresPacksAboutOneHundredFiresPerTxn(t *testing.T) {
	// 4 puts a fire (fire, fire index, run, run index): etcd's per-level
	// limit of 128 lets a Txn hold n fires while n + 4 <= 128 - 1, and
	// n + 4 + 3 <= 128 - 1 when they carry their job's last-fire marker
	// (as the newest fire of each job in a batch does).
	for _, tc := range []struct {
		name  string
		batch []ports.FireWrite
		txns  int
	}{
		{name: "124 fires of one job", batch: manyFires(storeJob("j1", "g"), 124), txns: 2},
		{name: "121 fires of one job", batch: manyFires(storeJob("j1", "g"), 121), txns: 1},
		{name: "121 jobs", batch: oneFireEach(121), txns: 1},
		{name: "122 jobs", batch: oneFireEach(122), txns: 2},
	} {
		s, ctx := newTestStore(t)
		fence := testFence(t, s)
		created, err := s.CreateFires(ctx, fence, tc.batch)
		require.NoError(t, err)
		require.NotContains(t, created, false)
		require.Len(t, revisions(t, s, "/"), 1+tc.txns, "%s: the fence key, then %d Txn(s)", tc.name, tc.txns)
	}
}

// oneFireEach returns the fires of n jobs at st0.
func oneFireEach(n int) []ports.FireWrite {
	out := make([]ports.FireWrite, n)
	for i := range n {
		out[i] = storeFire(storeJob(fmt.Sprintf("j%03d", i), "g"), st0)
	}
	return out
}

func TestCreateFiresSplitsBigBatches(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	batch := manyFires(storeJob("j1", "g"), 1000)
	created, err := s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)
	require.NotContains(t, created, false)
	revs := revisions(t, s, "/fire/instances/")
	require.Len(t, revs, 9, "ceil(1000/124) fenced Txns")
	for _, n := range revs {
		require.LessOrEqual(t, n, 124)
	}
	// Writing the batch again creates nothing.
	created, err = s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)
	require.NotContains(t, created, true)
	require.Len(t, revisions(t, s, "/fire/instances/"), 9, "nothing rewritten")
}

func TestCreateFiresWithMaxShardsIsOneAtomicTxn(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	j := storeJob("wide", "g")
	j.Shards = domain.MaxShards // 2 + 2*256 puts: more than one level holds
	batch := []ports.FireWrite{storeFire(j, st0), storeFire(storeJob("narrow", "g"), st0)}
	created, err := s.CreateFires(ctx, fence, batch)
	require.NoError(t, err)
	require.Equal(t, []bool{true, true}, created)
	require.Len(t, revisions(t, s, "/"), 2, "the fence key, then one Txn")
	resp, err := s.cli.Get(ctx, s.k.runIndexes(), clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	require.EqualValues(t, domain.MaxShards+1, resp.Count)
}

func TestCreateFiresDuplicateInBatch(t *testing.T) {
	s, ctx := newTestStore(t)
	w := storeFire(storeJob("j1", "g"), st0)
	created, err := s.CreateFires(ctx, testFence(t, s), []ports.FireWrite{w, w})
	require.NoError(t, err)
	require.Equal(t, []bool{true, false}, created)
}

func TestCreateFiresRefusesBadInputWritingNothing(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	j := storeJob("j1", "g")
	big := storeFire(j, st0)
	big.Runs[0].Params = json.RawMessage(`"` + strings.Repeat("x", maxValueSize) + `"`)
	slash := storeFire(j, st0)
	slash.Fire.ID = "20261126T160000.000Z~j1~m/../x"
	foreign := storeFire(j, st0)
	foreign.Runs[0].FireID = domain.FireID("j1", st0.Add(time.Minute))
	noWorker := storeFire(j, st0)
	noWorker.Runs[0].State = domain.RunAssigned
	for name, w := range map[string]ports.FireWrite{"oversized run": big, "slash in ID": slash,
		"run of another fire": foreign, "assigned without worker": noWorker} {
		ok := storeFire(storeJob("j2", "g"), st0)
		_, err := s.CreateFires(ctx, fence, []ports.FireWrite{ok, w})
		require.ErrorIs(t, err, domain.ErrInvalid, name)
		require.Len(t, rawKVs(t, s), 1, "%s: only the fence key", name)
	}
}

func TestCreateFiresStaleFence(t *testing.T) {
	s, ctx := newTestStore(t)
	fence := testFence(t, s)
	_, err := s.cli.Delete(ctx, fence.Key)
	require.NoError(t, err)
	_, err = s.CreateFires(ctx, fence, manyFires(storeJob("j1", "g"), 300))
	require.ErrorIs(t, err, domain.ErrNotLeader)
	require.Empty(t, rawKVs(t, s))
}

func TestLastFiresLooksPastManualFires(t *testing.T) {
	s, ctx := newTestStore(t)
	j := storeJob("j1", "g")
	batch := []ports.FireWrite{storeFire(j, st0)}
	for i := range 2 * lastFiresPeek { // newer than the scheduled fire
		at := st0.Add(time.Duration(i+1) * time.Minute)
		f := domain.Fire{ID: domain.ManualFireID(j.ID, at, fmt.Sprintf("n%d", i)), JobID: j.ID, Group: j.Group,
			Nominal: at, Kind: domain.FireManual, Status: domain.FireDispatched}
		batch = append(batch, ports.FireWrite{Fire: f})
	}
	// Jobs whose key blocks sort around j1's: "j1-x/" < "j1/" < "j10/".
	batch = append(batch, storeFire(storeJob("j1-x", "g"), st0.Add(time.Hour)), storeFire(storeJob("j10", "g"), st0.Add(2*time.Hour)))
	_, err := s.CreateFires(ctx, testFence(t, s), batch)
	require.NoError(t, err)
	last, err := s.LastFires(ctx)
	require.NoError(t, err)
	require.Len(t, last, 3)
	require.True(t, st0.Equal(last["j1"]), "got %v", last)
	require.True(t, st0.Add(time.Hour).Equal(last["j1-x"]))
	require.True(t, st0.Add(2*time.Hour).Equal(last["j10"]))
}
