package memory_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

func TestModule(t *testing.T) {
	var (
		b      *memory.Backend
		groups ports.GroupStore
		jobs   ports.JobStore
		fires  ports.FireStore
		runs   ports.RunStore
		ws     ports.WorkerRegistry
		nodes  ports.NodeRegistry
	)
	app := fxtest.New(t,
		fx.NopLogger,
		fx.Provide(func() ports.Clock { return clock.System{} }),
		memory.Module,
		fx.Populate(&b, &groups, &jobs, &fires, &runs, &ws, &nodes),
	)
	app.RequireStart()
	for _, port := range []any{groups, jobs, fires, runs, ws, nodes} {
		require.Same(t, b, port, "every port is the one backend")
	}
	_, err := groups.CreateGroup(context.Background(), domain.Group{Name: "alpha"})
	require.NoError(t, err)
	watch := jobs.WatchJobs(context.Background(), 0) // ended by the app's stop
	app.RequireStop()
	for range watch {
	}
}

func TestModuleValidates(t *testing.T) {
	require.NoError(t, fx.ValidateApp(
		fx.Provide(func() ports.Clock { return clock.System{} }),
		memory.Module,
		fx.Invoke(func(ports.JobStore, ports.RunStore) {}),
	))
}

func TestNotifierRecords(t *testing.T) {
	n := memory.NewNotifier()
	changed := n.Changed()
	require.Empty(t, n.Alerts())
	require.NoError(t, n.Notify(context.Background(), ports.Alert{Kind: "run_failed", RunID: "r1", At: t0}))
	waitClosed(t, changed, "the change signal")
	require.NoError(t, n.Notify(context.Background(), ports.Alert{Kind: "run_lost", RunID: "r2", At: t0}))
	got := n.Alerts()
	require.Len(t, got, 2)
	require.Equal(t, "run_failed", got[0].Kind)
	require.Equal(t, "r2", got[1].RunID)
	got[0].Kind = "changed by the caller"
	require.Equal(t, "run_failed", n.Alerts()[0].Kind, "Alerts returns a copy")
}
