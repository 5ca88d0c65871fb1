package etcd

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/ports"
	"github.com/pink-scheduler/pink/test/contract"
)

var contractFeatures = contract.Features{}

// TestContract runs every contract suite of test/contract against the
// etcd adapter on the shared embedded server.
func TestContract(t *testing.T) {
	runContractSuites(t, contractBackend(testServer.Client(), testClient))
}

// runContractSuites runs every suite of test/contract with nb.
func runContractSuites(t *testing.T, nb contract.NewBackend) {
	t.Run("GroupStore", func(t *testing.T) { contract.TestGroupStore(t, nb, contractFeatures) })
	t.Run("JobStore", func(t *testing.T) { contract.TestJobStore(t, nb, contractFeatures) })
	t.Run("FireStore", func(t *testing.T) { contract.TestFireStore(t, nb, contractFeatures) })
	t.Run("RunStore", func(t *testing.T) { contract.TestRunStore(t, nb, contractFeatures) })
	t.Run("WorkerRegistry", func(t *testing.T) { contract.TestWorkerRegistry(t, nb, contractFeatures) })
	t.Run("NodeRegistry", func(t *testing.T) { contract.TestNodeRegistry(t, nb, contractFeatures) })
	t.Run("Elector", func(t *testing.T) { contract.TestElector(t, nb, contractFeatures) })
	t.Run("UserStore", func(t *testing.T) { contract.TestUserStore(t, authBackend(nb), contractFeatures) })
	t.Run("TokenStore", func(t *testing.T) { contract.TestTokenStore(t, authBackend(nb), contractFeatures) })
	t.Run("AuditLog", func(t *testing.T) { contract.TestAuditLog(t, authBackend(nb), contractFeatures) })
}

// contractBackend returns the suites' NewBackend for the etcd adapter: a
// Store and electors on cli under a fresh prefix per test. dial makes
// the separate client that kills leases behind their owners' backs.
func contractBackend(cli *clientv3.Client, dial func(*testing.T) *clientv3.Client) contract.NewBackend {
	return func(t *testing.T) contract.Backend {
		prefix := testPrefix(t)
		s := NewStore(cli, Options{Prefix: prefix, Logger: elQuietLogger()})
		return contract.Backend{
			Groups:  s,
			Jobs:    s,
			Fires:   s,
			Runs:    s,
			Workers: s,
			Nodes:   s,
			NewElector: func(_ *testing.T, nodeID string) ports.Elector {
				return NewElector(cli, ElectorOptions{
					Prefix: prefix, NodeID: nodeID, TTL: 2 * time.Second, Logger: elQuietLogger(),
				})
			},
			KillLease: func(t *testing.T, x any) {
				t.Helper()
				l, ok := x.(interface{ leaseID() clientv3.LeaseID })
				require.True(t, ok, "KillLease: %T is not a lease or leadership of this backend", x)
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				// Through another client, as etcd itself expires the lease
				// of a paused or partitioned owner.
				_, err := dial(t).Revoke(ctx, l.leaseID())
				require.NoError(t, err)
			},
			Compact: func(t *testing.T) {
				t.Helper()
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				resp, err := cli.Get(ctx, prefix+"/compact-probe")
				require.NoError(t, err)
				_, err = cli.Compact(ctx, resp.Header.Revision)
				require.NoError(t, err)
			},
		}
	}
}
