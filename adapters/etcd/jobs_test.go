package etcd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// storeJob returns a valid job.
func storeJob(id, group string) domain.Job {
	j := domain.Job{ID: id, Group: group, Name: "job " + id, Schedule: "*/5 * * * *", Handler: "echo",
		PlanFrom: st0, CreatedAt: st0, UpdatedAt: st0}
	j.Normalize()
	return j
}

func TestJobKeyLayoutOneTxn(t *testing.T) {
	s, ctx := newTestStore(t)
	_, err := s.CreateGroup(ctx, domain.Group{Name: "alpha"})
	require.NoError(t, err)
	_, err = s.CreateJob(ctx, storeJob("nightly", "alpha"))
	require.NoError(t, err)

	kvs := rawKVs(t, s)
	job, index := kvs["/job/instances/alpha/nightly"], kvs["/job/index/nightly"]
	require.NotNil(t, job)
	require.NotNil(t, index)
	require.Len(t, kvs, 3, "group, job, index: %v", keysOf(kvs))
	require.Equal(t, job.ModRevision, index.ModRevision, "job and index are written by one Txn")
	require.Equal(t, map[string]any{"version": float64(1), "job_ref": map[string]any{"group": "alpha"}},
		rawJSON(t, s, "/job/index/nightly"))
	v := rawJSON(t, s, "/job/instances/alpha/nightly")
	require.EqualValues(t, 1, v["version"])
	require.Equal(t, "nightly", v["job"].(map[string]any)["id"])

	// Deleting removes both, in one Txn.
	_, err = s.DeleteJob(ctx, "nightly")
	require.NoError(t, err)
	require.Len(t, rawKVs(t, s), 1)
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestListJobsGroupOrderDiffersFromKeyOrder(t *testing.T) {
	s, ctx := newTestStore(t)
	// Key order is "a-b/" < "a.b/" < "a/"; the listing is by group name:
	// "a" < "a-b" < "a.b".
	for _, g := range []string{"a.b", "a-b", "a"} {
		_, err := s.CreateGroup(ctx, domain.Group{Name: g})
		require.NoError(t, err)
		for _, id := range []string{"x", "y"} {
			_, err := s.CreateJob(ctx, storeJob(g+"-"+id, g))
			require.NoError(t, err)
		}
	}
	want := []string{"a-x", "a-y", "a-b-x", "a-b-y", "a.b-x", "a.b-y"}
	for _, limit := range []int{1, 2, 4, 100} {
		var got []string
		f := ports.JobFilter{PageRequest: ports.PageRequest{Limit: limit}}
		for {
			page, err := s.ListJobs(ctx, f)
			require.NoError(t, err)
			for _, j := range page.Items {
				got = append(got, j.ID)
			}
			if page.NextCursor == "" {
				break
			}
			f.Cursor = page.NextCursor
		}
		require.Equal(t, want, got, "limit %d", limit)
	}
}

func TestScanJobsIsOneSnapshotAcrossPages(t *testing.T) {
	s, ctx := newTestStore(t)
	_, err := s.CreateGroup(ctx, domain.Group{Name: "alpha"})
	require.NoError(t, err)
	const n = scanPage + 200 // two pages
	createJobs(t, ctx, s, "alpha", n)

	calls := 0
	rev, err := s.ScanJobs(ctx, func(j domain.Job) error {
		calls++
		if calls == 1 {
			// Written after the first page was read: must not be seen,
			// and must come after the scan's revision.
			_, err := s.CreateJob(ctx, storeJob("zzz-late", "alpha"))
			require.NoError(t, err)
			_, err = s.DeleteJob(ctx, fmt.Sprintf("j%05d", n-1))
			require.NoError(t, err)
		}
		require.NotEqual(t, "zzz-late", j.ID)
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, n, calls, "the deleted job is still in the snapshot")

	ch := s.WatchJobs(ctx, rev)
	ev := <-ch
	require.NoError(t, ev.Err)
	require.Equal(t, "zzz-late", ev.Job.ID, "the watch continues right after the snapshot")
	ev = <-ch
	require.Equal(t, ports.EventDelete, ev.Type)
}

// createJobs creates jobs j00000.. in group, eight at a time.
func createJobs(t *testing.T, ctx context.Context, s *Store, group string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	ids := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range ids {
				_, err := s.CreateJob(ctx, storeJob(fmt.Sprintf("j%05d", i), group))
				errs <- err
			}
		})
	}
	for i := range n {
		ids <- i
	}
	close(ids)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestWatchCompactedIsOneErrorEventAndALogLine(t *testing.T) {
	var logs syncBuffer
	s := NewStore(testServer.Client(), Options{Prefix: testPrefix(t), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := s.CreateGroup(ctx, domain.Group{Name: "alpha"})
	require.NoError(t, err)
	rev, err := s.ScanJobs(ctx, func(domain.Job) error { return nil })
	require.NoError(t, err)
	for i := range 3 {
		_, err := s.CreateJob(ctx, storeJob(fmt.Sprintf("j%d", i), "alpha"))
		require.NoError(t, err)
	}
	resp, err := s.cli.Get(ctx, "probe")
	require.NoError(t, err)
	_, err = s.cli.Compact(ctx, resp.Header.Revision)
	require.NoError(t, err)

	ch := s.WatchJobs(ctx, rev)
	ev, ok := <-ch
	require.True(t, ok)
	require.ErrorIs(t, ev.Err, domain.ErrCompacted)
	_, ok = <-ch
	require.False(t, ok, "the error event is the last one")
	require.Contains(t, logs.String(), "compacted")
	require.Contains(t, logs.String(), "watch=jobs")

	// Reads pinned to a compacted revision are translated too.
	_, _, err = s.getMany(ctx, "probe", []string{s.k.group("alpha")}, rev)
	require.ErrorIs(t, err, domain.ErrCompacted)
}

// cutProxy forwards TCP connections to the test server and can cut them
// all, as a network fault would, while still accepting new ones.
type cutProxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newCutProxy(t *testing.T) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln}
	target := testServer.ClientURL()[len("http://"):]
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, c); _ = up.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, up); _ = c.Close() })
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) addr() string { return "http://" + p.ln.Addr().String() }

// cut closes every open connection.
func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

func TestWatchResumesAfterConnectionCut(t *testing.T) {
	proxy := newCutProxy(t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{proxy.addr()}, DialTimeout: 5 * time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	prefix := testPrefix(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	watched := NewStore(cli, Options{Prefix: prefix, Logger: quiet})
	direct := NewStore(testServer.Client(), Options{Prefix: prefix, Logger: quiet})
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = direct.CreateGroup(ctx, domain.Group{Name: "alpha"})
	require.NoError(t, err)
	rev, err := watched.ScanJobs(ctx, func(domain.Job) error { return nil })
	require.NoError(t, err)

	wctx, wcancel := context.WithCancel(ctx)
	defer wcancel()
	ch := watched.WatchJobs(wctx, rev)
	next := func() ports.JobEvent {
		t.Helper()
		select {
		case ev := <-ch:
			require.NoError(t, ev.Err)
			return ev
		case <-ctx.Done():
			t.Fatal("no event")
		}
		return ports.JobEvent{}
	}
	_, err = direct.CreateJob(ctx, storeJob("j0", "alpha"))
	require.NoError(t, err)
	require.Equal(t, "j0", next().Job.ID)

	// Cut the watcher's connection, write while it is down, then expect
	// every change exactly once, in order.
	for round := 1; round <= 3; round++ {
		proxy.cut()
		for i := range 3 {
			_, err := direct.CreateJob(ctx, storeJob(fmt.Sprintf("j%d-%d", round, i), "alpha"))
			require.NoError(t, err)
		}
		for i := range 3 {
			require.Equal(t, fmt.Sprintf("j%d-%d", round, i), next().Job.ID)
		}
	}
	wcancel()
	for range ch {
	}
}
