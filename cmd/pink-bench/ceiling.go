package main

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
)

// ceiling is what the etcd of this run can write, measured with raw
// clientv3 calls on the in-process client, values the size of a fire
// record.
type ceiling struct {
	valueBytes int
	// txnPerSec: create-if-absent Txns (If(CreateRevision(k)=0)
	// Then(put k)) per second from opts.concurrency goroutines.
	txnPerSec float64
	// keysPerSec: keys per second with opts.putsPerTxn puts per Txn from
	// opts.concurrency goroutines.
	keysPerSec float64
	// keysPerSecSerial: the same with one Txn in flight at a time, which
	// is how the scheduler's single loop writes.
	keysPerSecSerial float64
	// txnLatency: one create-if-absent Txn at a time.
	txnLatency dist
}

// measureCeiling measures the ceiling under its own prefix, then deletes
// it.
func measureCeiling(ctx context.Context, e *env) (ceiling, error) {
	const prefix = "/bench-ceiling"
	defer e.cleanup(prefix)
	o := e.opts
	val := sampleFireValue()
	c := ceiling{valueBytes: len(val)}
	var seq atomic.Int64
	key := func() string { return prefix + "/k/" + strconv.FormatInt(seq.Add(1), 36) }

	createIfAbsent := func(ctx context.Context) (int, error) {
		k := key()
		_, err := e.cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, val)).Commit()
		return 1, err
	}
	batched := func(ctx context.Context) (int, error) {
		ops := make([]clientv3.Op, o.putsPerTxn)
		for i := range ops {
			ops[i] = clientv3.OpPut(key(), val)
		}
		_, err := e.cli.Txn(ctx).Then(ops...).Commit()
		return len(ops), err
	}

	var err error
	if c.txnPerSec, _, err = hammer(ctx, o.concurrency, o.ceilingFor, createIfAbsent); err != nil {
		return c, fmt.Errorf("ceiling: create-if-absent: %w", err)
	}
	if c.keysPerSec, _, err = hammer(ctx, o.concurrency, o.ceilingFor, batched); err != nil {
		return c, fmt.Errorf("ceiling: batched: %w", err)
	}
	if c.keysPerSecSerial, _, err = hammer(ctx, 1, o.ceilingFor, batched); err != nil {
		return c, fmt.Errorf("ceiling: batched, serial: %w", err)
	}
	var lat []time.Duration
	if _, lat, err = hammer(ctx, 1, o.ceilingFor, createIfAbsent); err != nil {
		return c, fmt.Errorf("ceiling: latency: %w", err)
	}
	c.txnLatency = distOf(lat)
	return c, nil
}

// bestCeiling returns the higher rates and the lower latency of a and b:
// what the store could do when the shared machine let it.
func bestCeiling(a, b ceiling) ceiling {
	c := a
	c.txnPerSec = max(a.txnPerSec, b.txnPerSec)
	c.keysPerSec = max(a.keysPerSec, b.keysPerSec)
	c.keysPerSecSerial = max(a.keysPerSecSerial, b.keysPerSecSerial)
	if b.txnLatency.p99 < a.txnLatency.p99 {
		c.txnLatency = b.txnLatency
	}
	return c
}

// hammer calls op from n goroutines for d and returns the units op
// reported per second, and, with one goroutine, each call's latency.
func hammer(ctx context.Context, n int, d time.Duration, op func(context.Context) (int, error)) (float64, []time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var units atomic.Int64
	var lat []time.Duration
	var wg sync.WaitGroup
	errs := make([]error, n)
	start := time.Now()
	deadline := start.Add(d)
	for i := range n {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t0 := time.Now()
				u, err := op(ctx)
				if err != nil {
					errs[i] = err
					cancel()
					return
				}
				if n == 1 {
					lat = append(lat, time.Since(t0))
				}
				units.Add(int64(u))
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, nil, err
		}
	}
	return float64(units.Load()) / time.Since(start).Seconds(), lat, nil
}

// sampleFireValue is an encoded fire record of a bench job, the size of
// what the dispatcher writes per fire ledger key.
func sampleFireValue() string {
	j := benchJob(1, "bench", "* * * * * *", 1, time.Now())
	f := pastFire(&j)
	f.CreatedAt = time.Now().UTC()
	f.Status = domain.FireDispatched
	return encodeValue(envelope{Fire: &f})
}
