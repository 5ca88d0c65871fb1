package etcd

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// testCluster is a multi-member embedded etcd cluster for one test.
type testCluster struct {
	members []*Server
	stopped []bool
}

// startTestCluster starts n embedded members forming one cluster, in temp
// dirs on loopback ports, and stops the live ones at cleanup.
func startTestCluster(t *testing.T, n int) *testCluster {
	t.Helper()
	// Peer URLs go into every member's initial cluster, so they are
	// chosen up front: the kernel picks a free port, we release it and
	// hand it to etcd. (Client URLs may use port 0 and be read back.)
	names, peers := make([]string, n), make([]string, n)
	initial := make([]string, n)
	for i := range n {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		names[i], peers[i] = fmt.Sprintf("m%d", i), "http://"+lis.Addr().String()
		require.NoError(t, lis.Close())
		initial[i] = names[i] + "=" + peers[i]
	}
	clusterStarted.Store(true)
	c := &testCluster{members: make([]*Server, n), stopped: make([]bool, n)}
	errs := make([]error, n)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { // members become ready only once a quorum is up
			defer wg.Done()
			c.members[i], errs[i] = StartServer(ctx, ServerConfig{
				Name: names[i], DataDir: t.TempDir(),
				ClientURL: "http://127.0.0.1:0", PeerURL: peers[i],
				InitialCluster: strings.Join(initial, ","), ClusterToken: t.Name(),
				Fast: true, UnsafeNoFsync: true,
			})
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for i, m := range c.members {
			if m != nil && !c.stopped[i] {
				m.Close()
			}
		}
	})
	for _, err := range errs {
		require.NoError(t, err)
	}
	return c
}

// endpoints returns every member's client URL, stopped ones included.
func (c *testCluster) endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.ClientURL())
	}
	return eps
}

// stopLeader stops the member that is the raft leader and returns its
// index.
func (c *testCluster) stopLeader(t *testing.T) int {
	t.Helper()
	for i, m := range c.members {
		if !c.stopped[i] && m.e.Server.Leader() == m.e.Server.MemberID() {
			m.Close()
			c.stopped[i] = true
			return i
		}
	}
	t.Fatal("no raft leader among the live members")
	return -1
}

// dial returns a gRPC client of every endpoint, closed at cleanup.
func (c *testCluster) dial(t *testing.T) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints: c.endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// TestClusterTwoOfThree runs the election suite and every contract suite
// on a 3-member cluster whose raft leader has been stopped: with 2
// of 3 members etcd keeps its quorum, and Pink's election and leases keep
// working through a client that still lists the dead member.
func TestClusterTwoOfThree(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-member etcd cluster")
	}
	start := time.Now()
	c := startTestCluster(t, 3)
	t.Logf("3-member cluster ready in %s", time.Since(start))
	stopped := c.stopLeader(t)
	t.Logf("stopped m%d, the raft leader", stopped)

	// Wait for the survivors to elect a raft leader before measuring.
	cli := c.dial(t)
	require.Eventually(t, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		_, err := cli.Put(ctx, "/pinktest/cluster-probe", "x")
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)

	t.Run("Election", func(t *testing.T) {
		elRunSuite(t, func(t *testing.T) elEnv {
			return elEnv{cli: cli, other: c.dial(t), prefix: testPrefix(t), dial: c.dial}
		})
	})
	t.Run("Contract", func(t *testing.T) { runContractSuites(t, contractBackend(cli, c.dial)) })
}
