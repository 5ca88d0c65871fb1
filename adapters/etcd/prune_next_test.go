package etcd

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/ports"
)

// TestPruneNextJobWalksEveryJobInOrder: the windowed probes of nextJob
// find the same jobs, in the same order ("<job>/" order), as reading
// every key would, whatever the names' shapes and which of the two
// prefixes (history, ledger) holds a job's records.
func TestPruneNextJobWalksEveryJobInOrder(t *testing.T) {
	s, ctx := newTestStore(t)
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_."
	names := map[string]bool{"a": true, "a-b": true, "a.b": true, "a0": true, "a9": true, "b": true,
		"j1": true, "j1-x": true, "j10": true, "j1.": true, "j1_": true, "zz": true, "z-": true}
	for i := range 60 {
		names[fmt.Sprintf("bench-%06d", i*7)] = true
	}
	for range 120 {
		b := make([]byte, 1+rng.IntN(14))
		b[0] = alphabet[rng.IntN(36)] // names start with a letter or digit
		for i := 1; i < len(b); i++ {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		names[string(b)] = true
	}
	var ops []clientv3.Op
	for name := range names {
		n := 1 + rng.IntN(3)
		for r := range n {
			id := fmt.Sprintf("20261126T16%04d.000Z~%s", r, name)
			switch rng.IntN(3) {
			case 0:
				ops = append(ops, clientv3.OpPut(s.k.historyRun(name, id+"~0"), "r"))
			case 1:
				ops = append(ops, clientv3.OpPut(s.k.fire(name, id), "f"))
			default:
				ops = append(ops, clientv3.OpPut(s.k.historyRun(name, id+"~0"), "r"), clientv3.OpPut(s.k.fire(name, id), "f"))
			}
		}
		if len(ops) >= 100 {
			_, err := s.cli.Txn(ctx).Then(ops...).Commit()
			require.NoError(t, err)
			ops = ops[:0]
		}
	}
	_, err := s.cli.Txn(ctx).Then(ops...).Commit()
	require.NoError(t, err)
	// Keys right around the two prefixes, which are not records.
	for _, k := range []string{s.k.p + "/execute/history/snapshots", s.k.p + "/execute/history/snapshots0",
		s.k.p + "/fire/instances", s.k.p + "/fire/instances0", s.k.p + "/fire/index/x"} {
		_, err := s.cli.Put(ctx, k, "x")
		require.NoError(t, err)
	}
	want := slices.Collect(func(yield func(string) bool) {
		for n := range names {
			if !yield(n) {
				return
			}
		}
	})
	slices.SortFunc(want, func(a, b string) int { return strings.Compare(a+"/", b+"/") })

	p := &pruner{s: s}
	var got []string
	after := ""
	for range len(want) + 1 {
		job, ok, err := p.nextJob(ctx, after)
		require.NoError(t, err)
		if !ok {
			break
		}
		got = append(got, job)
		after = job
	}
	require.Equal(t, want, got)
}

// BenchmarkPrune is one Prune call over 2,000 jobs with 20 fire records
// each and nothing due: what the leader's loop pays for a call that
// examines pruneMaxJobs jobs.
func BenchmarkPrune(b *testing.B) {
	s, fence := benchStore(b)
	ctx := b.Context()
	const jobs, perJob = 2000, 20
	var batch []ports.FireWrite
	for i := range jobs {
		for r := range perJob {
			batch = append(batch, benchFireWrite(i, st0.Add(time.Duration(r)*time.Minute)))
		}
		if len(batch) >= 1000 || i == jobs-1 {
			if _, err := s.CreateFires(ctx, fence, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		runs, fires, err := s.Prune(ctx, fence, ports.Retention{PerJob: 100}, st0.Add(time.Hour))
		if err != nil || runs+fires > 0 {
			b.Fatal(runs, fires, err)
		}
	}
}
