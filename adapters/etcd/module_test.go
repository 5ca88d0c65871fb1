package etcd

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestModule(t *testing.T) {
	var (
		s      *Store
		groups ports.GroupStore
		jobs   ports.JobStore
		fires  ports.FireStore
		runs   ports.RunStore
		ws     ports.WorkerRegistry
		nodes  ports.NodeRegistry
	)
	app := fxtest.New(t,
		fx.NopLogger,
		fx.Supply(testClient(t), Options{Prefix: testPrefix(t)}),
		Module,
		fx.Populate(&s, &groups, &jobs, &fires, &runs, &ws, &nodes),
	)
	app.RequireStart()
	for _, port := range []any{groups, jobs, fires, runs, ws, nodes} {
		require.Same(t, s, port, "every port is the one store")
	}
	_, err := groups.CreateGroup(context.Background(), domain.Group{Name: "alpha"})
	require.NoError(t, err)
	got, err := s.GetGroup(context.Background(), "alpha")
	require.NoError(t, err)
	require.Equal(t, "alpha", got.Name)
	app.RequireStop()
}

func TestModuleValidates(t *testing.T) {
	require.NoError(t, fx.ValidateApp(
		fx.Provide(func() *clientv3.Client { return nil }, func() Options { return Options{} }),
		Module,
		fx.Invoke(func(ports.GroupStore, ports.JobStore, ports.FireStore, ports.RunStore, ports.WorkerRegistry, ports.NodeRegistry) {
		}),
	))
	require.Error(t, fx.ValidateApp(Module, fx.Invoke(func(ports.JobStore) {})), "needs a client and options")
}
