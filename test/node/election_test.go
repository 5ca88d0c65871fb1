package node_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/etcd"
)

// TestThreeNodesElectOneLeader: three nodes on one etcd elect exactly one
// leader, all of them know which, and /readyz says so on each.
func TestThreeNodesElectOneLeader(t *testing.T) {
	prefix := testPrefix()
	ms := []*member{
		startMember(t, prefix, "node-a"),
		startMember(t, prefix, "node-b"),
		startMember(t, prefix, "node-c"),
	}
	leader := waitLeader(t, ms, 10*time.Second)
	for _, m := range ms {
		code, rd := readyz(t, m)
		require.Equal(t, http.StatusOK, code, m.id)
		require.True(t, rd.Ready, m.id)
		require.True(t, rd.Registered, m.id)
		require.Equal(t, "ok", rd.Etcd, m.id)
		require.Equal(t, m.id, rd.NodeID)
		require.Equal(t, leader.id, rd.LeaderID, "%s knows the leader", m.id)
		require.Equal(t, m == leader, rd.Leader, m.id)
	}
	store := etcd.NewStore(newClient(t), etcd.Options{Prefix: prefix})
	nodes, err := store.ListNodes(context.Background())
	require.NoError(t, err)
	require.Len(t, nodes, 3, "every node is registered")
	require.Contains(t, leader.log.String(), `msg=leading`)
	for _, m := range ms {
		if m != leader {
			require.NotContains(t, m.log.String(), `msg=leading`, "%s follows", m.id)
		}
	}
}
