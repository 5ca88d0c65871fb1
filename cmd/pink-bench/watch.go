package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// idTimeLayout is the time at the start of fire and run IDs
// (domain.FireID): fixed width, UTC, milliseconds.
const idTimeLayout = "20060102T150405.000Z"

// flowWatch follows a phase's records from the store as a worker or an
// operator would see them, and times each against its nominal time (read
// from the key: fire and run IDs start with it). It watches, from one
// revision:
//
//	<p>/fire/index/                  fires recorded (dispatched or skipped)
//	<p>/execute/snapshots/           runs assigned (creates only)
//	<p>/execute/history/snapshots/   runs finished (creates only)
type flowWatch struct {
	fires    recorder // dispatched fires, lag to the record's arrival
	assigned recorder // lag to the assignment's arrival
	finished recorder // lag to the result's arrival (succeeded runs)
	skipped  atomic.Int64
	failed   atomic.Int64 // finished runs that did not succeed

	cancel context.CancelFunc
	wg     sync.WaitGroup
	errMu  sync.Mutex
	err    error
}

func watchFlow(ctx context.Context, cli *clientv3.Client, prefix string, rev int64) *flowWatch {
	ctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	w := &flowWatch{cancel: cancel}
	w.follow(ctx, cli, prefix+"/fire/index/", rev, func(ev *clientv3.Event) bool {
		if bytes.Contains(ev.Kv.Value, []byte(`"status":"skipped"`)) {
			w.skipped.Add(1)
			return false
		}
		return true
	}, &w.fires)
	w.follow(ctx, cli, prefix+"/execute/snapshots/", rev, (*clientv3.Event).IsCreate, &w.assigned)
	w.follow(ctx, cli, prefix+"/execute/history/snapshots/", rev, func(ev *clientv3.Event) bool {
		if !ev.IsCreate() {
			return false
		}
		if !bytes.Contains(ev.Kv.Value, []byte(`"state":"succeeded"`)) {
			w.failed.Add(1)
			return false
		}
		return true
	}, &w.finished)
	return w
}

// follow watches key's prefix and records, for each put event keep
// accepts, the lag between the event's arrival and the nominal time in
// the key's last segment.
func (w *flowWatch) follow(ctx context.Context, cli *clientv3.Client, key string, rev int64,
	keep func(*clientv3.Event) bool, rec *recorder) {
	ch := cli.Watch(ctx, key, clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithFilterDelete())
	w.wg.Go(func() {
		var lags []time.Duration
		for resp := range ch {
			if err := resp.Err(); err != nil {
				w.fail(err)
				continue
			}
			now := time.Now()
			lags = lags[:0]
			for _, ev := range resp.Events {
				if !keep(ev) {
					continue
				}
				k := string(ev.Kv.Key)
				id := k[strings.LastIndexByte(k, '/')+1:]
				if len(id) < len(idTimeLayout) {
					continue
				}
				nominal, err := time.Parse(idTimeLayout, id[:len(idTimeLayout)])
				if err != nil {
					continue
				}
				lags = append(lags, now.Sub(nominal))
			}
			rec.addAll(now, lags)
		}
	})
}

func (w *flowWatch) fail(err error) {
	w.errMu.Lock()
	if w.err == nil {
		w.err = err
	}
	w.errMu.Unlock()
}

// stop ends the watches and returns the first error they saw.
func (w *flowWatch) stop() error {
	w.cancel()
	w.wg.Wait()
	w.errMu.Lock()
	defer w.errMu.Unlock()
	return w.err
}
