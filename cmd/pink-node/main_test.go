package main

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/pink-scheduler/pink/adapters/etcd"
	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/app/scheduler"
	"github.com/pink-scheduler/pink/cmd/pink-node/node"
	"github.com/pink-scheduler/pink/ports"
)

// TestValidateApp checks the fx graph of both etcd modes, as the flags
// build it, without running a constructor.
func TestValidateApp(t *testing.T) {
	for name, args := range map[string][]string{
		"embedded": {"--data-dir", t.TempDir(), "--dev"},
		"external": {"--etcd", "http://127.0.0.1:2379,http://127.0.0.1:22379", "--node-id", "n1", "--lease-ttl", "2s"},
	} {
		t.Run(name, func(t *testing.T) {
			o, err := parseArgs(args, env(nil))
			require.NoError(t, err)
			require.NoError(t, fx.ValidateApp(
				node.Options(o.node),
				// What the tests and the API will look at in a node.
				fx.Invoke(func(*scheduler.Scheduler, *pinkhttp.Server, *etcd.Store, ports.Elector,
					ports.GroupStore, ports.JobStore, ports.FireStore, ports.RunStore,
					ports.WorkerRegistry, ports.NodeRegistry) {
				}),
			))
		})
	}
}
