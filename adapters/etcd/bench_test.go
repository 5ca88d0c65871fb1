package etcd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// These benchmarks use the package's shared test server (TestMain): an
// embedded etcd with UnsafeNoFsync and fast ticks, so the CreateFires
// figures are the store's and etcd's CPU cost without the disk. With fsync
// on, as in production, see cmd/pink-bench and docs/benchmarks.md.

// benchStore returns a Store under a fresh prefix of the test server and a
// fence made of a plain key.
func benchStore(b *testing.B) (*Store, ports.Fence) {
	b.Helper()
	s := NewStore(testServer.Client(), Options{Prefix: fmt.Sprintf("/pinkbench/%d", prefixSeq.Add(1)),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	key := s.k.p + "/bench-fence"
	resp, err := s.cli.Put(b.Context(), key, "leader")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		// Keep the shared server small for the tests that run after.
		_, _ = s.cli.Delete(context.Background(), s.k.p+"/", clientv3.WithPrefix())
	})
	return s, ports.Fence{Key: key, Token: resp.Header.Revision}
}

// benchFireWrite is the scheduled fire of job number job at nominal, with
// one run already assigned: what the dispatcher writes for a plain job.
func benchFireWrite(job int, nominal time.Time) ports.FireWrite {
	j := domain.Job{ID: fmt.Sprintf("job-%07d", job), Group: "bench", Name: "bench", Schedule: "* * * * * *",
		Handler: "noop", Params: []byte(`{"report":"daily","limit":100}`), PlanFrom: nominal}
	j.Normalize()
	f := domain.Fire{ID: domain.FireID(j.ID, nominal), JobID: j.ID, Group: j.Group, Nominal: nominal,
		Kind: domain.FireScheduled, Status: domain.FireDispatched, CreatedAt: nominal, LeaderToken: 7}
	r := domain.NewRun(&j, &f, 0, nominal)
	_ = r.Assign("worker-042", nominal)
	f.RunIDs = []string{r.ID}
	return ports.FireWrite{Fire: f, Runs: []domain.Run{r}}
}

// BenchmarkEncodeFire encodes one fire record (the ledger value).
func BenchmarkEncodeFire(b *testing.B) {
	w := benchFireWrite(1, st0)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeFire(&w.Fire); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPrepareFire checks and encodes everything CreateFires writes
// for one fire with one run: the fire, its index entry, the run and its
// index entry (4 values).
func BenchmarkPrepareFire(b *testing.B) {
	s := NewStore(testServer.Client(), Options{Prefix: "/pinkbench/prepare"})
	w := benchFireWrite(1, st0)
	fence := ports.Fence{Key: "/pinkbench/prepare/fence", Token: 7}
	b.ReportAllocs()
	var bytes int
	for b.Loop() {
		p, err := s.prepareFire(0, w, fence, map[string]bool{})
		if err != nil {
			b.Fatal(err)
		}
		bytes = p.bytes
	}
	b.ReportMetric(float64(bytes), "bytes/fire")
}

// BenchmarkDecodeJob decodes one stored job: what ScanJobs costs per job
// when a leader loads the store.
func BenchmarkDecodeJob(b *testing.B) {
	j := domain.Job{ID: "job-0000001", Group: "bench", Name: "bench", Schedule: "0 0 3 1 1 *", Handler: "noop", PlanFrom: st0}
	j.Normalize()
	val, err := encodeJob(&j)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeJob("k", []byte(val)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(val)), "bytes/job")
}

// BenchmarkCreateFires writes batches of fires (one assigned run each)
// with one fenced CreateFires call per batch, one call at a time, as the
// leader loop does. fires/s is the sustained rate; fsync is off here.
// Building the batch (a few µs a fire) is inside the timed loop.
func BenchmarkCreateFires(b *testing.B) {
	for _, n := range []int{64, 128, 1000} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			s, fence := benchStore(b)
			ctx := b.Context()
			nominal := st0
			batch := make([]ports.FireWrite, n)
			fires := 0
			b.ReportAllocs()
			for b.Loop() {
				nominal = nominal.Add(time.Second)
				for i := range batch {
					batch[i] = benchFireWrite(i, nominal)
				}
				created, err := s.CreateFires(ctx, fence, batch)
				if err != nil {
					b.Fatal(err)
				}
				if !created[n-1] {
					b.Fatal("fire not created")
				}
				fires += n
			}
			b.ReportMetric(float64(fires)/b.Elapsed().Seconds(), "fires/s")
		})
	}
}
