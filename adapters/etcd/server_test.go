package etcd

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServerServesInProcessAndOverTCP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p := testPrefix(t)
	_, err := testServer.Client().Put(ctx, p+"/k", "v")
	require.NoError(t, err)
	resp, err := testClient(t).Get(ctx, p+"/k")
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1)
	require.Equal(t, "v", string(resp.Kvs[0].Value))
}

func TestStartServerRequiresDataDir(t *testing.T) {
	_, err := StartServer(context.Background(), ServerConfig{})
	require.ErrorContains(t, err, "data dir is required")
}
