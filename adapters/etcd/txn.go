package etcd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// maxCASTries bounds the read-modify-write attempts of an update before it
// gives up with domain.ErrConflict.
const maxCASTries = 32

// maxTxnOps is etcd's default --max-txn-ops. etcd checks it per level of a
// Txn: the compares, the Then ops and the Else ops of one level may each
// number at most the budget, and a nested Txn gets the budget minus the
// larger of those counts of its parent (server/etcdserver/api/v3rpc/key.go,
// checkTxnRequest). Writes that find the server configured lower get
// ErrTooManyOps and are split further (see commitFires).
const maxTxnOps = 128

// maxTxnBytes bounds the encoded values of one Txn, well under etcd's
// default --max-request-bytes of 1.5 MiB.
const maxTxnBytes = 1 << 20

// fencingDisabled is set only in binaries built with the pink_nofence tag
// (nofence.go): a deliberately broken build that the fault-injection tests
// use to show they catch a leader writing without a fence.
var fencingDisabled bool

// fenceCmp is the compare every leader write carries: the leader's
// election key still exists with the create revision of its term.
func fenceCmp(f ports.Fence) clientv3.Cmp {
	if fencingDisabled {
		return clientv3.Compare(clientv3.CreateRevision(f.Key), ">", -1) // always true
	}
	return clientv3.Compare(clientv3.CreateRevision(f.Key), "=", f.Token)
}

// checkFence refuses the zero fence, which no write accepts.
func checkFence(f ports.Fence) error {
	if f.IsZero() || f.Key == "" {
		return fmt.Errorf("fence %+v: %w", f, domain.ErrNotLeader)
	}
	return nil
}

// fenceHolds reads the fence key from the Else branch of a failed fenced
// Txn (which must be clientv3.OpGet(fence.Key) at index i) and reports
// whether the fence still holds, that is whether the Txn failed for another
// reason (a lost compare-and-swap).
func fenceHolds(resp *clientv3.TxnResponse, i int, f ports.Fence) bool {
	if resp == nil || len(resp.Responses) <= i {
		return false
	}
	rr := resp.Responses[i].GetResponseRange()
	return rr != nil && len(rr.Kvs) == 1 && rr.Kvs[0].CreateRevision == f.Token
}

// verifyFence returns domain.ErrNotLeader unless fence holds now: a Txn
// with the fence compare that writes nothing. It carries a (linearizable)
// get: etcd serves a Txn without any op as a serializable read from the
// local member (txn.IsTxnSerializable is true for no ops), which a lagging
// follower could answer with a fence that is already gone.
func (s *Store) verifyFence(ctx context.Context, what string, fence ports.Fence) error {
	resp, err := s.cli.Txn(ctx).If(fenceCmp(fence)).Then(clientv3.OpGet(fence.Key, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return translate(ctx, what, err)
	}
	if !resp.Succeeded {
		return fmt.Errorf("%s: fence %s@%d no longer holds: %w", what, fence.Key, fence.Token, domain.ErrNotLeader)
	}
	return nil
}

// errTryAgain tells casLoop that an attempt lost a race and should be
// retried with fresh data.
var errTryAgain = errors.New("etcd: try again")

// casLoop runs attempt until it returns something other than errTryAgain,
// at most maxCASTries times, then returns domain.ErrConflict. After a few
// lost races in a row it waits a short random time before the next try, so
// that writers contending for one key spread out instead of starving one
// another.
func casLoop(ctx context.Context, what string, attempt func() error) error {
	for try := range maxCASTries {
		err := attempt()
		if !errors.Is(err, errTryAgain) {
			return err
		}
		if try >= 2 {
			d := time.Duration(rand.Int64N(int64(min(try, 20)) * int64(100*time.Microsecond)))
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return fmt.Errorf("%s: lost the race %d times: %w", what, maxCASTries, domain.ErrConflict)
}

// translate turns a client error into a domain error, keeping the context
// error visible to errors.Is. what names the operation.
func translate(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil {
		if errors.Is(cerr, context.DeadlineExceeded) {
			return fmt.Errorf("%s: %w: %w", what, domain.ErrUnavailable, cerr)
		}
		return fmt.Errorf("%s: %w", what, cerr)
	}
	var ee rpctypes.EtcdError
	switch {
	case errors.Is(err, rpctypes.ErrCompacted):
		return fmt.Errorf("%s: %w", what, domain.ErrCompacted)
	case errors.Is(err, rpctypes.ErrTooManyOps), errors.Is(err, rpctypes.ErrRequestTooLarge),
		errors.Is(err, rpctypes.ErrDuplicateKey):
		return fmt.Errorf("%s: %w: %s", what, domain.ErrInvalid, rpctypes.ErrorDesc(err))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w: %w", what, domain.ErrUnavailable, err)
	case errors.Is(err, clientv3.ErrNoAvailableEndpoints):
		return fmt.Errorf("%s: %w: %s", what, domain.ErrUnavailable, err)
	case errors.As(err, &ee):
		// Every other server error (no leader, timeout, no space, ...) is
		// the store being unable to serve right now.
		return fmt.Errorf("%s: %w: %s", what, domain.ErrUnavailable, ee.Error())
	}
	if st, ok := status.FromError(err); ok {
		if st.Code() == codes.Canceled {
			// The client was closed under us.
			return fmt.Errorf("%s: %w: %s", what, domain.ErrClosed, st.Message())
		}
		return fmt.Errorf("%s: %w: %s", what, domain.ErrUnavailable, st.Message())
	}
	return fmt.Errorf("%s: %w: %s", what, domain.ErrUnavailable, err)
}

// isTooBig reports whether err is etcd refusing a Txn for its size or its
// number of operations, so the caller may split it and try again (such a
// Txn was checked before being applied: nothing was written).
func isTooBig(err error) bool {
	return errors.Is(err, rpctypes.ErrTooManyOps) || errors.Is(err, rpctypes.ErrRequestTooLarge)
}

// nestOps fits ops into one level of a Txn with the given op budget,
// wrapping groups of them into unconditional nested Txns when there are
// more ops than the budget (etcd's limit is per level, see maxTxnOps): m
// groups at one level leave budget-m ops for each group, so one level of
// nesting holds up to about budget²/4 ops. It returns false if ops do not
// fit.
func nestOps(ops []clientv3.Op, budget int) ([]clientv3.Op, bool) {
	if len(ops) <= budget {
		return ops, true
	}
	for m := 1; m <= budget/2; m++ {
		per := budget - m
		if m*per < len(ops) {
			continue
		}
		out := make([]clientv3.Op, 0, m)
		for i := 0; i < len(ops); i += per {
			out = append(out, clientv3.OpTxn(nil, ops[i:min(i+per, len(ops))], nil))
		}
		return out, true
	}
	return nil, false
}

// fitsBudget reports whether nestOps can fit n ops into budget.
func fitsBudget(n, budget int) bool {
	if budget < 1 {
		return false
	}
	return n <= budget || (budget/2)*(budget-budget/2) >= n
}
