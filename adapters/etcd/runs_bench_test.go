package etcd

import (
	"context"
	"testing"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// BenchmarkWorkerWrites is a worker's two writes per run on the shared
// test server (no fsync): start and succeeded result, by ID through
// UpdateRun (locate's 2 reads + 1 Txn each) or from the versions of the
// watch event and of the start through UpdateRunAt (1 Txn each). The
// runs are created assigned, and their watch events collected, before the
// timer starts. reads/op and txns/op are the Store's requests per run.
func BenchmarkWorkerWrites(b *testing.B) {
	for _, at := range []bool{false, true} {
		name := "UpdateRun"
		if at {
			name = "UpdateRunAt"
		}
		b.Run(name, func(b *testing.B) {
			base, fence := benchStore(b)
			s, kv := newCountingStore(b, base.k.p)
			ctx := b.Context()
			wctx, cancel := context.WithCancel(ctx)
			defer cancel()
			_, rev, err := s.ListAssigned(ctx, "bench", "worker-042")
			if err != nil {
				b.Fatal(err)
			}
			ch := s.WatchAssigned(wctx, "bench", "worker-042", rev)
			defer func() {
				cancel()
				for range ch {
				}
			}()
			var ws []ports.FireWrite
			for i := range b.N {
				ws = append(ws, benchFireWrite(i, st0.Add(time.Duration(i)*time.Second)))
			}
			for i := 0; i < len(ws); i += 64 {
				if _, err := base.CreateFires(ctx, fence, ws[i:min(i+64, len(ws))]); err != nil {
					b.Fatal(err)
				}
			}
			evs := make([]ports.RunEvent, 0, b.N)
			for len(evs) < b.N {
				ev := <-ch
				if ev.Err != nil {
					b.Fatal(ev.Err)
				}
				evs = append(evs, ev)
			}
			cancel()
			kv.counts()
			b.ResetTimer()
			for _, ev := range evs {
				start := func(r *domain.Run) error { return r.Start("worker-042", 1, st0) }
				rep := domain.Report{RunID: ev.Run.ID, WorkerID: "worker-042", Attempt: 1, State: domain.RunSucceeded}
				finish := func(r *domain.Run) error { return r.Finish(rep, 0, st0) }
				if at {
					r, v, err := s.UpdateRunAt(ctx, ev.Run, ev.At, start)
					if err == nil {
						_, _, err = s.UpdateRunAt(ctx, r, v, finish)
					}
					if err != nil {
						b.Fatal(err)
					}
					continue
				}
				_, err := s.UpdateRun(ctx, ev.Run.ID, start)
				if err == nil {
					_, err = s.UpdateRun(ctx, ev.Run.ID, finish)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			gets, txns := kv.counts()
			b.ReportMetric(float64(gets)/float64(b.N), "reads/op")
			b.ReportMetric(float64(txns)/float64(b.N), "txns/op")
		})
	}
}
