package etcd

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// elEnv is where an election suite runs: the client the electors
// use, a separate client that acts behind their backs, and a fresh prefix.
type elEnv struct {
	cli    *clientv3.Client
	other  *clientv3.Client
	prefix string
	// dial returns a new client of the elector's cluster, closed at cleanup
	// (closing it earlier simulates a crashed node).
	dial func(t *testing.T) *clientv3.Client
}

func (env elEnv) elector(id string) *Elector {
	return NewElector(env.cli, ElectorOptions{
		Prefix: env.prefix, NodeID: id, TTL: 2 * time.Second, Logger: elQuietLogger(),
	})
}

// candidates returns the keys under the election prefix.
func (env elEnv) candidates(t *testing.T) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := env.other.Get(ctx, newKeys(env.prefix).election(), clientv3.WithPrefix())
	require.NoError(t, err)
	var out []string
	for _, kv := range resp.Kvs {
		out = append(out, string(kv.Key))
	}
	return out
}

func elQuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fencedPut writes key=val only while fence is the current leadership,
// the way every leader write is guarded; it returns domain.ErrNotLeader
// when the fence no longer holds.
func fencedPut(ctx context.Context, cli *clientv3.Client, f ports.Fence, key, val string) error {
	resp, err := cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(f.Key), "=", f.Token)).
		Then(clientv3.OpPut(key, val)).
		Commit()
	if err != nil {
		return regErr(ctx, "fenced put", err)
	}
	if !resp.Succeeded {
		return domain.ErrNotLeader
	}
	return nil
}

// elCampaignAsync campaigns in a goroutine owned by the test: the result
// arrives on the returned channel, and the leadership (if any) is resigned
// at cleanup.
func elCampaignAsync(t *testing.T, ctx context.Context, e *Elector) <-chan elCampaignResult {
	t.Helper()
	ch := make(chan elCampaignResult, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		l, err := e.Campaign(ctx)
		ch <- elCampaignResult{l: l, err: err, at: time.Now()}
	}()
	t.Cleanup(func() {
		wg.Wait() // the test's deferred cancel of ctx has run by now
		select {
		case r := <-ch: // never consumed by the test
			if r.l != nil {
				_ = r.l.Resign(context.Background())
			}
		default:
		}
	})
	return ch
}

type elCampaignResult struct {
	l   ports.Leadership
	err error
	at  time.Time
}

// elMustCampaign wins leadership for e and resigns it at cleanup.
func elMustCampaign(t *testing.T, ctx context.Context, e *Elector) ports.Leadership {
	t.Helper()
	l, err := e.Campaign(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Resign(context.Background()) })
	return l
}

// elWaitResult waits for an async campaign; a leadership it returns is
// resigned at cleanup.
func elWaitResult(t *testing.T, ch <-chan elCampaignResult, d time.Duration) elCampaignResult {
	t.Helper()
	select {
	case r := <-ch:
		if r.l != nil {
			t.Cleanup(func() { _ = r.l.Resign(context.Background()) })
		}
		return r
	case <-time.After(d):
		t.Fatalf("campaign did not return within %s", d)
		return elCampaignResult{}
	}
}

func TestElection(t *testing.T) {
	elRunSuite(t, func(t *testing.T) elEnv {
		return elEnv{cli: testServer.Client(), other: testClient(t), prefix: testPrefix(t), dial: testClient}
	})
}

// elRunSuite runs every election test on environments from newEnv
// (one shared server here, a degraded 3-member cluster in cluster_test).
func elRunSuite(t *testing.T, newEnv func(t *testing.T) elEnv) {
	tests := []struct {
		name string
		fn   func(t *testing.T, env elEnv)
	}{
		{"OneLeaderAtATimeAmongTwenty", testOneLeaderAmongTwenty},
		{"ResignHandsOver", testResignHandsOver},
		{"RevokedLeaseEndsTermAndFence", testRevokedLeaseEndsTerm},
		{"DeletedLeaderKeyEndsTerm", testDeletedLeaderKeyEndsTerm},
		{"CrashedLeaderFailsOverAfterTTL", testCrashedLeaderFailsOver},
		{"TokensIncreaseAcrossTerms", testTokensIncrease},
		{"CancelledCampaignLeavesNoCandidate", testCancelledCampaign},
		{"CandidateSessionLostWhileWaiting", testCandidateSessionLost},
		{"LeaderReportsCurrentLeader", testLeaderInfo},
		{"InvalidNodeID", testInvalidNodeID},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newEnv(t)) })
	}
}

// testOneLeaderAmongTwenty: 20 electors campaign at once; each term
// claims a "holder" key with a fenced Txn that requires it to be free,
// checks it still holds it with more fenced Txns, frees it and resigns.
// Overlapping terms would find the holder taken or changed under a valid
// fence.
func testOneLeaderAmongTwenty(t *testing.T, env elEnv) {
	const n = 20
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder := env.prefix + "/test/holder"
	// The holder key must exist (empty) for the Value compare to succeed.
	_, err := env.other.Put(ctx, holder, "")
	require.NoError(t, err)
	var (
		wg     sync.WaitGroup
		wins   atomic.Int64
		tokens sync.Map
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("node-%02d", i)
			l, err := env.elector(id).Campaign(ctx)
			if !assert.NoError(t, err) {
				return
			}
			defer func() { assert.NoError(t, l.Resign(ctx)) }()
			f := l.Fence()
			_, dup := tokens.LoadOrStore(f.Token, id)
			assert.False(t, dup, "token %d issued twice", f.Token)
			fenceCmp := clientv3.Compare(clientv3.CreateRevision(f.Key), "=", f.Token)
			// Claim: fence holds and nobody else holds the key.
			resp, err := env.cli.Txn(ctx).If(fenceCmp, clientv3.Compare(clientv3.Value(holder), "=", "")).
				Then(clientv3.OpPut(holder, id)).Else(clientv3.OpGet(holder)).Commit()
			if !assert.NoError(t, err) {
				return
			}
			if !assert.True(t, resp.Succeeded, "%s won while the holder key was taken: %v", id, resp.Responses) {
				return
			}
			for range 3 {
				resp, err := env.cli.Txn(ctx).If(fenceCmp).Then(clientv3.OpGet(holder)).Commit()
				if !assert.NoError(t, err) || !assert.True(t, resp.Succeeded, "%s lost its fence mid-term", id) {
					return
				}
				kvs := resp.Responses[0].GetResponseRange().Kvs
				assert.Equal(t, id, string(kvs[0].Value), "another leader wrote during %s's term", id)
			}
			resp, err = env.cli.Txn(ctx).If(fenceCmp).Then(clientv3.OpPut(holder, "")).Commit()
			if assert.NoError(t, err) && assert.True(t, resp.Succeeded) {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	require.EqualValues(t, n, wins.Load(), "every elector leads exactly once, one after the other")
	require.Empty(t, env.candidates(t))
}

// testResignHandsOver: a follower waiting behind the leader takes over as
// soon as the leader resigns; the old fence stops working, the new one
// works.
func testResignHandsOver(t *testing.T, env elEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := elMustCampaign(t, ctx, env.elector("a"))
	bch := elCampaignAsync(t, ctx, env.elector("b"))
	require.Eventually(t, func() bool { return len(env.candidates(t)) == 2 }, 5*time.Second, 5*time.Millisecond)

	start := time.Now()
	require.NoError(t, a.Resign(ctx))
	r := elWaitResult(t, bch, 5*time.Second)
	require.NoError(t, r.err)
	// The follower has only just queued, so etcd may hold its watch event
	// for up to 100 ms (see BenchmarkElectionHandover for a settled one).
	t.Logf("resign handover (fresh follower): %s", r.at.Sub(start))

	elRequireClosed(t, a.Done())
	require.ErrorIs(t, fencedPut(ctx, env.cli, a.Fence(), env.prefix+"/test/x", "a"), domain.ErrNotLeader)
	require.NoError(t, fencedPut(ctx, env.cli, r.l.Fence(), env.prefix+"/test/x", "b"))
	require.Greater(t, r.l.Fence().Token, a.Fence().Token)
	require.NoError(t, a.Resign(ctx), "a second Resign is harmless")
}

// testRevokedLeaseEndsTerm: revoking the leader's session lease behind its
// back (as if it had been paused past its TTL) ends its term: Done
// closes, its fence no longer writes, and the follower takes over.
func testRevokedLeaseEndsTerm(t *testing.T, env elEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := elMustCampaign(t, ctx, env.elector("a"))
	require.NoError(t, fencedPut(ctx, env.cli, a.Fence(), env.prefix+"/test/x", "a"))
	bch := elCampaignAsync(t, ctx, env.elector("b"))
	require.Eventually(t, func() bool { return len(env.candidates(t)) == 2 }, 5*time.Second, 5*time.Millisecond)

	start := time.Now()
	_, err := env.other.Revoke(ctx, a.(*Leadership).leaseID())
	require.NoError(t, err)
	select {
	case <-a.Done():
		t.Logf("lost leadership detected after: %s", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the lease was revoked")
	}
	require.ErrorIs(t, fencedPut(ctx, env.cli, a.Fence(), env.prefix+"/test/x", "a"), domain.ErrNotLeader)
	r := elWaitResult(t, bch, 5*time.Second)
	require.NoError(t, r.err)
	t.Logf("failover after lease revoke (fresh follower): %s", r.at.Sub(start))
	require.NoError(t, fencedPut(ctx, env.cli, r.l.Fence(), env.prefix+"/test/x", "b"))
	require.ErrorIs(t, fencedPut(ctx, env.cli, a.Fence(), env.prefix+"/test/x", "a"), domain.ErrNotLeader)
	require.NoError(t, a.Resign(ctx), "Resign after losing the term is harmless")
}

// testCrashedLeaderFailsOver: a leader whose process dies (its client is
// closed: no renewal, no revoke) is replaced once its lease expires, about
// one TTL (2 s here) later; its fence stops working then.
func testCrashedLeaderFailsOver(t *testing.T, env elEnv) {
	if testing.Short() {
		t.Skip("waits for a 2 s lease to expire")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	acli := env.dial(t)
	a := elMustCampaign(t, ctx, NewElector(acli, ElectorOptions{
		Prefix: env.prefix, NodeID: "a", TTL: 2 * time.Second, Logger: elQuietLogger(),
	}))
	bch := elCampaignAsync(t, ctx, env.elector("b"))
	require.Eventually(t, func() bool { return len(env.candidates(t)) == 2 }, 5*time.Second, 5*time.Millisecond)

	start := time.Now()
	require.NoError(t, acli.Close())
	r := elWaitResult(t, bch, 10*time.Second)
	require.NoError(t, r.err)
	t.Logf("failover after a leader crash (TTL 2s): %s", r.at.Sub(start))
	require.ErrorIs(t, fencedPut(ctx, env.cli, a.Fence(), env.prefix+"/test/x", "a"), domain.ErrNotLeader)
	require.NoError(t, fencedPut(ctx, env.cli, r.l.Fence(), env.prefix+"/test/x", "b"))
	regWaitClosed(t, a.Done(), 5*time.Second, "crashed leader's Done")
}

// testDeletedLeaderKeyEndsTerm: a leader key deleted by hand (an operator
// with etcdctl) ends the term too, and its lease is given back.
func testDeletedLeaderKeyEndsTerm(t *testing.T, env elEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := elMustCampaign(t, ctx, env.elector("a"))
	_, err := env.other.Delete(ctx, a.Fence().Key)
	require.NoError(t, err)
	select {
	case <-a.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed after the leader key was deleted")
	}
	require.Eventually(t, func() bool {
		resp, err := env.other.TimeToLive(ctx, a.(*Leadership).leaseID())
		return err == nil && resp.TTL == -1
	}, 5*time.Second, 5*time.Millisecond, "the session lease is revoked")
	b := elMustCampaign(t, ctx, env.elector("b"))
	require.NoError(t, fencedPut(ctx, env.cli, b.Fence(), env.prefix+"/test/x", "b"))
}

// testTokensIncrease: every new term, of the same node or another, has a
// larger token than the one before.
func testTokensIncrease(t *testing.T, env elEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	electors := []*Elector{env.elector("a"), env.elector("b")}
	var last int64
	for i := range 6 {
		l := elMustCampaign(t, ctx, electors[i%2])
		f := l.Fence()
		require.Greater(t, f.Token, last)
		require.NotEmpty(t, f.Key)
		last = f.Token
		require.NoError(t, l.Resign(ctx))
	}
}

// testCancelledCampaign: a campaign cancelled while waiting returns the
// context's error and has already removed its candidate key, so it blocks
// nobody.
func testCancelledCampaign(t *testing.T, env elEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := elMustCampaign(t, ctx, env.elector("a"))
	bctx, bcancel := context.WithCancel(ctx)
	defer bcancel()
	bch := elCampaignAsync(t, bctx, env.elector("b"))
	require.Eventually(t, func() bool { return len(env.candidates(t)) == 2 }, 5*time.Second, 5*time.Millisecond)
	bcancel()
	r := elWaitResult(t, bch, 5*time.Second)
	require.ErrorIs(t, r.err, context.Canceled)
	require.Nil(t, r.l)
	require.Equal(t, []string{a.Fence().Key}, env.candidates(t), "no stale candidate left")

	// The same holds for a campaign cancelled before it waits at all.
	dead, dcancel := context.WithCancel(ctx)
	dcancel()
	_, err := env.elector("c").Campaign(dead)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, []string{a.Fence().Key}, env.candidates(t))

	require.NoError(t, a.Resign(ctx))
	require.Empty(t, env.candidates(t))
	c := elMustCampaign(t, ctx, env.elector("c"))
	require.NoError(t, fencedPut(ctx, env.cli, c.Fence(), env.prefix+"/test/x", "c"))
}

// testCandidateSessionLost: a waiting candidate whose session lease is
// revoked behind its back does not win on a dead session (the pitfall of
// concurrency.Election): it campaigns again on a new session and, once
// the leader resigns, wins a term whose fence works.
func testCandidateSessionLost(t *testing.T, env elEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	a := elMustCampaign(t, ctx, env.elector("a"))
	bch := elCampaignAsync(t, ctx, env.elector("b"))
	var bKey string
	require.Eventually(t, func() bool {
		keys := env.candidates(t)
		for _, k := range keys {
			if k != a.Fence().Key {
				bKey = k
			}
		}
		return len(keys) == 2
	}, 5*time.Second, 5*time.Millisecond)
	resp, err := env.other.Get(ctx, bKey)
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	_, err = env.other.Revoke(ctx, clientv3.LeaseID(resp.Kvs[0].Lease))
	require.NoError(t, err)
	// b comes back with a new candidate key.
	require.Eventually(t, func() bool {
		keys := env.candidates(t)
		return len(keys) == 2 && keys[0] != bKey && keys[1] != bKey
	}, 5*time.Second, 5*time.Millisecond)
	select {
	case r := <-bch:
		t.Fatalf("b returned while a still leads: %v", r.err)
	default:
	}
	require.NoError(t, a.Resign(ctx))
	r := elWaitResult(t, bch, 5*time.Second)
	require.NoError(t, r.err)
	require.NotEqual(t, bKey, r.l.Fence().Key)
	require.NoError(t, fencedPut(ctx, env.cli, r.l.Fence(), env.prefix+"/test/x", "b"))
}

// testLeaderInfo: Leader names the current leader and its fence, and
// returns domain.ErrNotFound when there is none.
func testLeaderInfo(t *testing.T, env elEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	e := env.elector("a")
	_, err := e.Leader(ctx)
	require.ErrorIs(t, err, domain.ErrNotFound)
	a := elMustCampaign(t, ctx, e)
	bch := elCampaignAsync(t, ctx, env.elector("b"))
	require.Eventually(t, func() bool { return len(env.candidates(t)) == 2 }, 5*time.Second, 5*time.Millisecond)
	info, err := env.elector("c").Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, ports.LeaderInfo{NodeID: "a", Fence: a.Fence()}, info)
	require.NoError(t, a.Resign(ctx))
	r := elWaitResult(t, bch, 5*time.Second)
	require.NoError(t, r.err)
	info, err = e.Leader(ctx)
	require.NoError(t, err)
	require.Equal(t, ports.LeaderInfo{NodeID: "b", Fence: r.l.Fence()}, info)
}

// testInvalidNodeID: a node ID that is not a valid name is refused before
// anything is written.
func testInvalidNodeID(t *testing.T, env elEnv) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range []string{"", "Bad/ID", strings.Repeat("a", 64)} {
		_, err := env.elector(id).Campaign(ctx)
		require.ErrorIs(t, err, domain.ErrInvalid, "id %q", id)
	}
	require.Empty(t, env.candidates(t))
}

func elRequireClosed(t *testing.T, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	default:
		t.Fatal("channel not closed")
	}
}

// BenchmarkElectionHandover measures, per op, a leader handing over to a
// follower that has been waiting a while: by resigning (ms/resign) and by
// having its lease revoked behind its back (ms/revoke-failover). Right
// after a candidate starts waiting the handover can take up to ~100 ms
// more: etcd delivers events to a watch that starts at a past revision
// only from its next unsynced-watcher pass, every 100 ms. So the follower
// is given 150 ms to settle, outside the timer: that wait is for the
// measurement only, nothing depends on it.
func BenchmarkElectionHandover(b *testing.B) {
	cli, other := testServer.Client(), testServer.Client()
	prefix := fmt.Sprintf("/pinkbench/%d", prefixSeq.Add(1))
	env := elEnv{cli: cli, other: other, prefix: prefix}
	// No deadline over the whole loop: b.Loop runs as many handovers as
	// the bench time needs.
	ctx := context.Background()
	var resign, revoke time.Duration
	leader, err := env.elector("a").Campaign(ctx)
	if err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		b.StopTimer()
		next := make(chan elCampaignResult, 1)
		go func() {
			l, err := env.elector(fmt.Sprintf("n%d", i)).Campaign(ctx)
			next <- elCampaignResult{l: l, err: err, at: time.Now()}
		}()
		// Wait until the candidate is queued behind the leader (two keys).
		for {
			resp, err := cli.Get(ctx, prefix+"/node/election/", clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil {
				b.Fatal(err)
			}
			if resp.Count >= 2 {
				break
			}
			time.Sleep(time.Millisecond)
		}
		b.StartTimer()
		start := time.Now()
		if i%2 == 0 {
			err = leader.Resign(ctx)
		} else {
			_, err = other.Revoke(ctx, leader.(*Leadership).leaseID())
		}
		if err != nil {
			b.Fatal(err)
		}
		r := <-next
		if r.err != nil {
			b.Fatal(r.err)
		}
		if i%2 == 0 {
			resign += r.at.Sub(start)
		} else {
			revoke += r.at.Sub(start)
			<-leader.Done()
			_ = leader.Resign(ctx)
		}
		leader = r.l
		i++
	}
	_ = leader.Resign(ctx)
	if n := (i + 1) / 2; n > 0 {
		b.ReportMetric(float64(resign.Microseconds())/1000/float64(n), "ms/resign")
	}
	if n := i / 2; n > 0 {
		b.ReportMetric(float64(revoke.Microseconds())/1000/float64(n), "ms/revoke-failover")
	}
}
