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
// read and stops at fn's first error. The requests end at windows (see
// scanWindows), so a scan of n keys costs O(n) in etcd, not O(n²).
func (s *Store) scanRange(ctx context.Context, what, start, end string, rev int64, keysOnly bool,
	fn func(kv *mvccpb.KeyValue) error) (int64, error) {
	return s.scanPages(ctx, what, start, end, rev, keysOnly, func(kvs []*mvccpb.KeyValue) error {
		for _, kv := range kvs {
			if err := fn(kv); err != nil {
				return err
			}
		}
		return nil
	})
}

// scanPages is scanRange a page at a time: fn gets the keys of one range
// response (at most scanPage, never none), in key order.
func (s *Store) scanPages(ctx context.Context, what, start, end string, rev int64, keysOnly bool,
	fn func(kvs []*mvccpb.KeyValue) error) (int64, error) {
	return scanWindows(ctx, s.windowGetter(what, keysOnly), start, end, rev, scanPage, fn)
}

// windowGetter returns the windowGet of scanPages: one range request.
func (s *Store) windowGetter(what string, keysOnly bool) windowGet {
	return func(ctx context.Context, from, wend string, limit int, rev int64) (windowPage, error) {
		opts := []clientv3.OpOption{clientv3.WithRange(wend), clientv3.WithLimit(int64(limit))}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		if keysOnly {
			opts = append(opts, clientv3.WithKeysOnly())
		}
		resp, err := s.cli.Get(ctx, from, opts...)
		if err != nil {
			return windowPage{}, translate(ctx, what, err)
		}
		return windowPage{kvs: resp.Kvs, more: resp.More, count: resp.Count, rev: resp.Header.Revision}, nil
	}
}

// windowPage is one range response, as scanWindows needs it.
type windowPage struct {
	kvs   []*mvccpb.KeyValue
	more  bool  // keys of [from, wend) beyond the limit exist
	count int64 // the keys of [from, wend), which etcd counts on every request
	rev   int64 // the revision read
}

// windowGet reads up to limit keys of [from, wend) in ascending key order
// at revision rev (0: the latest).
type windowGet func(ctx context.Context, from, wend string, limit int, rev int64) (windowPage, error)

// scanWindows pages through [start, end) with get, page keys a request,
// all at the revision of the first request (or rev if not 0), handing
// each non-empty response to fn in key order. It returns the revision
// read.
//
// etcd counts every key from a request's start to its range end, whatever
// the limit (RangeResponse.Count), so pages of [from, end) would cost
// O(keys left) each and a scan of n keys O(n²). Each request after the
// first therefore ends at a window instead: wend = min(end, the end of the
// keys that share from's first depth bytes). depth starts so that a window
// spans the last 3 bytes of the first page's last key, goes one byte
// deeper while a request counts more than 4 pages (the window is too
// wide; back to where it was before it last widened if that is deeper),
// and one byte shallower after a whole window yielded less than half a
// page (too narrow). When a window is exhausted the scan continues
// from its end. The first request reads [start, end) and so counts the
// whole range once.
func scanWindows(ctx context.Context, get windowGet, start, end string, rev int64, page int,
	fn func(kvs []*mvccpb.KeyValue) error) (int64, error) {
	minDepth := commonPrefixLen(start, end) + 1
	from, depth := start, 0
	// narrow is the depth before windows last widened over a sparse
	// stretch (often only a gap, such as the one after "…9" and before
	// the next "…0"): where a window counting too much goes back to.
	narrow := 0
	for keyBefore(from, end) {
		// A whole window: from is the start of its window, not somewhere
		// inside one (after a page, or after the end of a window at a
		// carry: the window after "ab\xff" starts at "ac").
		whole := depth > 0 && len(from) <= depth
		wend := end
		if depth > 0 {
			if w := windowEnd(from, depth); endBefore(w, wend) {
				wend = w
			}
		}
		r, err := get(ctx, from, wend, page, rev)
		if err != nil {
			return rev, err
		}
		if rev == 0 {
			rev = r.rev
		}
		if len(r.kvs) > 0 {
			if err := fn(r.kvs); err != nil {
				return rev, err
			}
		}
		if r.more && len(r.kvs) > 0 {
			last := string(r.kvs[len(r.kvs)-1].Key)
			from = last + "\x00"
			switch {
			case depth == 0:
				depth = max(minDepth, len(last)-3)
			case r.count > int64(4*page) && depth <= len(last):
				depth, narrow = min(max(depth+1, narrow), len(last)+1), 0
			}
			continue
		}
		// The window [from, wend) is exhausted.
		if wend == end {
			return rev, nil
		}
		if whole && len(r.kvs) < page/2 && depth > minDepth {
			narrow = max(narrow, depth)
			depth--
		}
		from = wend
	}
	return rev, nil
}

// windowEnd is the end of the window of keys that share from's first depth
// bytes (all of from if it is shorter): "\x00", no bound, if those bytes
// are all 0xff.
func windowEnd(from string, depth int) string {
	return prefixEnd(from[:min(depth, len(from))])
}

// keyBefore reports whether key is before the range end end ("\x00": no
// bound).
func keyBefore(key, end string) bool { return end == "\x00" || key < end }

// endBefore reports whether range end a is before range end b ("\x00": no
// bound).
func endBefore(a, b string) bool {
	switch {
	case a == "\x00":
		return false
	case b == "\x00":
		return true
	}
	return a < b
}

// commonPrefixLen returns the length of the longest common prefix of a
// and b.
func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
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
