package etcd

import (
	"context"
	"fmt"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// scanPage is how many keys one range request of a scan reads.
const scanPage = 1000

// scanRange calls fn for every key in [start, end), in key order, reading
// scanPage keys a request, all at one revision so that the scan is a
// consistent snapshot even though it takes several requests. rev 0 means
// "now": the first request fixes the revision. It returns the revision
// read and stops at fn's first error.
func (s *Store) scanRange(ctx context.Context, what, start, end string, rev int64, keysOnly bool,
	fn func(kv *mvccpb.KeyValue) error) (int64, error) {
	from := start
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(scanPage),
			clientv3.WithSort(clientv3.SortByKey, clientv3.SortAscend)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		if keysOnly {
			opts = append(opts, clientv3.WithKeysOnly())
		}
		resp, err := s.cli.Get(ctx, from, opts...)
		if err != nil {
			return rev, translate(ctx, what, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(kv); err != nil {
				return rev, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

// rangeOpts says how to read a range.
type rangeOpts struct {
	limit    int
	keysOnly bool
	desc     bool  // descending key order (newest first for time-sorted IDs)
	rev      int64 // 0: the latest revision
}

// rangeRead returns up to o.limit keys of [start, end), whether more
// exist, and the revision read.
func (s *Store) rangeRead(ctx context.Context, what, start, end string, o rangeOpts) ([]*mvccpb.KeyValue, bool, int64, error) {
	order := clientv3.SortAscend
	if o.desc {
		order = clientv3.SortDescend
	}
	opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(int64(o.limit)),
		clientv3.WithSort(clientv3.SortByKey, order)}
	if o.keysOnly {
		opts = append(opts, clientv3.WithKeysOnly())
	}
	if o.rev > 0 {
		opts = append(opts, clientv3.WithRev(o.rev))
	}
	resp, err := s.cli.Get(ctx, start, opts...)
	if err != nil {
		return nil, false, 0, translate(ctx, what, err)
	}
	return resp.Kvs, resp.More, resp.Header.Revision, nil
}

// rangeDesc returns up to limit keys of [start, end) in descending key
// order, with their values unless keysOnly.
func (s *Store) rangeDesc(ctx context.Context, what, start, end string, limit int, keysOnly bool) ([]*mvccpb.KeyValue, bool, error) {
	kvs, more, _, err := s.rangeRead(ctx, what, start, end, rangeOpts{limit: limit, keysOnly: keysOnly, desc: true})
	return kvs, more, err
}

// rangeAsc returns up to limit keys of [start, end) in ascending order.
func (s *Store) rangeAsc(ctx context.Context, what, start, end string, limit int, keysOnly bool) ([]*mvccpb.KeyValue, bool, error) {
	kvs, more, _, err := s.rangeRead(ctx, what, start, end, rangeOpts{limit: limit, keysOnly: keysOnly})
	return kvs, more, err
}

// getMany reads keys in as few Txns as etcd allows (maxTxnOps gets each),
// all at revision rev (0: the revision of the first Txn). It returns one
// entry per key, nil for a missing key, and the revision read.
func (s *Store) getMany(ctx context.Context, what string, keys []string, rev int64) ([]*mvccpb.KeyValue, int64, error) {
	out := make([]*mvccpb.KeyValue, len(keys))
	for i := 0; i < len(keys); i += maxTxnOps {
		chunk := keys[i:min(i+maxTxnOps, len(keys))]
		ops := make([]clientv3.Op, len(chunk))
		for j, k := range chunk {
			if rev > 0 {
				ops[j] = clientv3.OpGet(k, clientv3.WithRev(rev))
			} else {
				ops[j] = clientv3.OpGet(k)
			}
		}
		resp, err := s.cli.Txn(ctx).Then(ops...).Commit()
		if err != nil {
			return nil, rev, translate(ctx, what, err)
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for j, r := range resp.Responses {
			if kvs := r.GetResponseRange().GetKvs(); len(kvs) == 1 {
				out[i+j] = kvs[0]
			}
		}
	}
	return out, rev, nil
}

// pageLimit returns the limit to read for a page of n items: one more, to
// know whether a next page exists.
func pageLimit(n int) int64 { return int64(n) + 1 }

// lastSegment returns the part of key after prefix, or an error if key is
// not under prefix.
func lastSegment(key []byte, prefix string) (string, error) {
	k := string(key)
	if len(k) <= len(prefix) || k[:len(prefix)] != prefix {
		return "", fmt.Errorf("key %q is not under %q", k, prefix)
	}
	return k[len(prefix):], nil
}

// listScanBudget bounds the records one List call examines, so a filter
// that matches rarely cannot make a call read the whole store.
const listScanBudget = 5000

// listDesc pages backwards through [start, end), calling match on each
// record: match returns the record's listing position (its ID) and whether
// it belongs on the page. It stops once limit records matched and one more
// was seen (next is then the position of the last match) or after
// listScanBudget records (next is the last position examined); next is ""
// when the range is exhausted.
func (s *Store) listDesc(ctx context.Context, what, start, end string, limit int,
	match func(kv *mvccpb.KeyValue) (pos string, ok bool, err error)) (next string, err error) {
	scanned, matched := 0, 0
	var lastMatch string
	for {
		kvs, more, err := s.rangeDesc(ctx, what, start, end, min(scanPage, max(limit+1, 16)), false)
		if err != nil {
			return "", err
		}
		for _, kv := range kvs {
			pos, ok, err := match(kv)
			if err != nil {
				return "", err
			}
			scanned++
			if ok {
				if matched == limit {
					return lastMatch, nil
				}
				matched, lastMatch = matched+1, pos
			}
			if scanned >= listScanBudget {
				return pos, nil
			}
		}
		if !more || len(kvs) == 0 {
			return "", nil
		}
		end = string(kvs[len(kvs)-1].Key)
	}
}
