package etcd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// fakeRanger serves windowGet from a sorted key set the way etcd does
// (ascending, limit, More, Count of the whole requested range), and
// records what the scan asked for.
type fakeRanger struct {
	keys     []string // sorted, unique
	end      string   // the scan's range end: no request may go past it
	requests int
	counted  int64 // sum of Count over the requests: etcd's work
	bad      []string
}

func (f *fakeRanger) get(_ context.Context, from, wend string, limit int, rev int64) (windowPage, error) {
	f.requests++
	if !keyBefore(from, wend) {
		f.bad = append(f.bad, fmt.Sprintf("empty request [%q, %q)", from, wend))
	}
	if endBefore(f.end, wend) {
		f.bad = append(f.bad, fmt.Sprintf("request [%q, %q) past the end %q", from, wend, f.end))
	}
	if f.requests > 1 && rev != 42 {
		f.bad = append(f.bad, fmt.Sprintf("request %d at revision %d, not the first's", f.requests, rev))
	}
	lo := sort.SearchStrings(f.keys, from)
	hi := len(f.keys)
	if wend != "\x00" {
		hi = sort.SearchStrings(f.keys, wend)
	}
	hi = max(hi, lo)
	p := windowPage{count: int64(hi - lo), rev: 42}
	f.counted += p.count
	for _, k := range f.keys[lo:min(hi, lo+limit)] {
		p.kvs = append(p.kvs, &mvccpb.KeyValue{Key: []byte(k)})
	}
	p.more = hi-lo > limit
	return p, nil
}

// scanFake scans [start, end) of keys with pages of page keys and checks
// that the scan returns exactly the keys of the range, in order, once
// each (what a plain full read returns) and never asks for keys outside
// it. It returns the fake for the cost figures.
func scanFake(t *testing.T, keys []string, start, end string, page int) *fakeRanger {
	t.Helper()
	keys = slices.Clone(keys)
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var want []string
	for _, k := range keys {
		if k >= start && keyBefore(k, end) {
			want = append(want, k)
		}
	}
	f := &fakeRanger{keys: keys, end: end}
	var got []string
	rev, err := scanWindows(t.Context(), f.get, start, end, 0, page, func(kvs []*mvccpb.KeyValue) error {
		require.NotEmpty(t, kvs)
		require.LessOrEqual(t, len(kvs), page)
		for _, kv := range kvs {
			got = append(got, string(kv.Key))
		}
		return nil
	})
	require.NoError(t, err)
	require.EqualValues(t, 42, rev)
	require.Empty(t, f.bad)
	require.Equal(t, want, got, "range [%q, %q), page %d", start, end, page)
	return f
}

// keyShapes are key sets of different shapes under "p/" (and around it).
func keyShapes(rng *rand.Rand) map[string][]string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-_."
	randID := func(minLen, maxLen int) string {
		b := make([]byte, minLen+rng.IntN(maxLen-minLen+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	shapes := map[string][]string{}
	var dense []string
	for i := range 5000 {
		dense = append(dense, fmt.Sprintf("p/job-%07d", i))
	}
	shapes["dense sequential IDs"] = dense
	var varied []string
	for range 4000 {
		varied = append(varied, "p/"+randID(1, 24))
	}
	shapes["IDs of lengths 1 to 24"] = varied
	var ledger []string // <job>/<time-sorted id>, 1 to 60 records a job
	for j := range 150 {
		job := randID(2, 12)
		if j%3 == 0 {
			job = fmt.Sprintf("bench-%06d", j)
		}
		for r := range 1 + rng.IntN(60) {
			ledger = append(ledger, fmt.Sprintf("p/%s/20261126T%06d.000Z~%s", job, r*17, job))
		}
	}
	shapes["a ledger: jobs with many records each"] = ledger
	var sparse []string // a few keys spread out, one dense cluster
	for i := range 20 {
		sparse = append(sparse, "p/"+string(rune('a'+i))+randID(0, 5))
	}
	for i := range 3000 {
		sparse = append(sparse, fmt.Sprintf("p/m/cluster/%05d", i))
	}
	shapes["sparse with one dense cluster"] = sparse
	var binary []string // bytes 0x00 and 0xff at every position
	pick := []byte{0x00, 0x01, 0x7f, 0xfe, 0xff}
	for range 3000 {
		b := make([]byte, 1+rng.IntN(6))
		for i := range b {
			if rng.IntN(3) == 0 {
				b[i] = byte(rng.IntN(256))
			} else {
				b[i] = pick[rng.IntN(len(pick))]
			}
		}
		binary = append(binary, "p/"+string(b))
	}
	binary = append(binary, "p/", "p/\x00", "p/\xff", "p/\xff\xff\xff\xff", "p/\xff\xff\xff\xff\x00")
	shapes["binary keys with 0x00 and 0xff"] = binary
	// Keys outside "p/" on both sides, in every set.
	for name, ks := range shapes {
		shapes[name] = append(ks, "", "a", "p", "p.", "p.\xff", "p0", "p0\x00", "q", "\xff\xff\xff")
	}
	return shapes
}

func TestScanWindowsReturnsExactlyTheRange(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for name, keys := range keyShapes(rng) {
		t.Run(name, func(t *testing.T) {
			for _, page := range []int{1, 2, 7, 64, 1000} {
				f := scanFake(t, keys, "p/", prefixEnd("p/"), page)
				if page < 64 {
					continue // tiny pages: the windows take a while to narrow
				}
				n := int64(len(keys))
				// The first request counts the range once; after that the
				// windows keep etcd's counting linear in the keys read.
				require.LessOrEqual(t, f.counted, 2*n+int64(f.requests)*int64(8*page),
					"page %d: %d requests counted %d keys", page, f.requests, f.counted)
			}
			// Ranges between arbitrary keys, including ones not in the set.
			sorted := slices.Clone(keys)
			slices.Sort(sorted)
			for range 20 {
				a, b := sorted[rng.IntN(len(sorted))], sorted[rng.IntN(len(sorted))]
				if rng.IntN(2) == 0 {
					a += "\x00"
				}
				if b <= a {
					a, b = b, a+"\x00"
				}
				scanFake(t, keys, a, b, 1+rng.IntN(50))
			}
			// Ranges with no upper bound, and ranges whose prefix ends in 0xff.
			scanFake(t, keys, "p/\xff", "\x00", 3)
			scanFake(t, keys, "p/\xff\xff", prefixEnd("p/\xff\xff"), 2)
			scanFake(t, keys, "\xff", "\x00", 5)
			scanFake(t, keys, "", "\x00", 100)
		})
	}
}

// TestScanWindowsIsLinear: with the windows, etcd counts about as many
// keys as the scan reads, where pages of [from, end) count n²/2page.
func TestScanWindowsIsLinear(t *testing.T) {
	var keys []string
	for i := range 200_000 {
		keys = append(keys, fmt.Sprintf("p/job-%07d", i))
	}
	f := scanFake(t, keys, "p/", prefixEnd("p/"), 1000)
	n := int64(len(keys))
	require.Less(t, f.counted, 4*n, "%d requests counted %d keys", f.requests, f.counted)
	require.Less(t, f.requests, 2*len(keys)/1000+10)
}

func TestScanWindowsStopsAtTheFirstError(t *testing.T) {
	var keys []string
	for i := range 100 {
		keys = append(keys, fmt.Sprintf("p/%03d", i))
	}
	f := &fakeRanger{keys: keys, end: prefixEnd("p/")}
	boom := fmt.Errorf("boom")
	calls := 0
	_, err := scanWindows(t.Context(), f.get, "p/", prefixEnd("p/"), 0, 10, func([]*mvccpb.KeyValue) error {
		if calls++; calls == 3 {
			return boom
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	require.Equal(t, 3, calls)
}

// TestScanRangeOnEtcd checks the windowed scan against a plain read of the
// same range on the real server, with small pages (so that the windows
// move in every way) and with the store's own page size.
func TestScanRangeOnEtcd(t *testing.T) {
	s, ctx := newTestStore(t)
	rng := rand.New(rand.NewPCG(3, 5))
	shapes := keyShapes(rng)
	i := 0
	for name, keys := range shapes {
		root := fmt.Sprintf("%s/scan%d/", s.k.p, i)
		i++
		ops := make([]clientv3.Op, 0, 100)
		flush := func() {
			if len(ops) > 0 {
				_, err := s.cli.Txn(ctx).Then(ops...).Commit()
				require.NoError(t, err)
				ops = ops[:0]
			}
		}
		for _, k := range slices.Compact(slices.Sorted(slices.Values(keys))) {
			ops = append(ops, clientv3.OpPut(root+k, "v:"+k))
			if len(ops) == cap(ops) {
				flush()
			}
		}
		flush()
		start, end := root+"p/", prefixEnd(root+"p/")
		plain, err := s.cli.Get(ctx, start, clientv3.WithRange(end))
		require.NoError(t, err)
		var want []string
		for _, kv := range plain.Kvs {
			want = append(want, string(kv.Key))
		}
		for _, page := range []int{3, 50} {
			var got []string
			rev, err := scanWindows(ctx, s.windowGetter("test", false), start, end, 0, page, func(kvs []*mvccpb.KeyValue) error {
				for _, kv := range kvs {
					require.Equal(t, "v:"+strings.TrimPrefix(string(kv.Key), root), string(kv.Value))
					got = append(got, string(kv.Key))
				}
				return nil
			})
			require.NoError(t, err)
			require.GreaterOrEqual(t, rev, plain.Header.Revision)
			require.Equal(t, want, got, "%s, page %d", name, page)
		}
		var got []string
		_, err = s.scanRange(ctx, "test", start, end, 0, true, func(kv *mvccpb.KeyValue) error {
			require.Empty(t, kv.Value, "keys only")
			got = append(got, string(kv.Key))
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, want, got, "%s, scanRange", name)
	}
}

// TestScanRangeReadsOneRevision: keys written while a scan runs are not
// seen, keys deleted are still seen: every request reads the first one's
// revision.
func TestScanRangeReadsOneRevision(t *testing.T) {
	s, ctx := newTestStore(t)
	root := s.k.p + "/snap/"
	var ops []clientv3.Op
	for i := range 3 * scanPage / 2 {
		ops = append(ops, clientv3.OpPut(fmt.Sprintf("%sk%05d", root, 2*i), "v"))
		if len(ops) == 100 {
			_, err := s.cli.Txn(ctx).Then(ops...).Commit()
			require.NoError(t, err)
			ops = ops[:0]
		}
	}
	first := true
	n := 0
	rev, err := s.scanRange(ctx, "test", root, prefixEnd(root), 0, true, func(kv *mvccpb.KeyValue) error {
		if first {
			first = false
			_, err := s.cli.Put(ctx, root+"k00001", "new") // sorts second
			require.NoError(t, err)
			_, err = s.cli.Put(ctx, root+"k99999", "new") // sorts last
			require.NoError(t, err)
			_, err = s.cli.Delete(ctx, fmt.Sprintf("%sk%05d", root, 2*(3*scanPage/2-1)))
			require.NoError(t, err)
		}
		require.NotEqual(t, root+"k00001", string(kv.Key))
		require.NotEqual(t, root+"k99999", string(kv.Key))
		n++
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, 3*scanPage/2, n)
	resp, err := s.cli.Get(ctx, root, clientv3.WithPrefix(), clientv3.WithCountOnly())
	require.NoError(t, err)
	require.Greater(t, resp.Header.Revision, rev)
}
