package memory_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/ports"
	"github.com/pink-scheduler/pink/test/contract"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newBackend is the contract suites' NewBackend for the memory adapter.
func newBackend(t *testing.T) contract.Backend {
	b := memory.New(clock.System{})
	t.Cleanup(b.Close)
	return contract.Backend{
		Groups:  b,
		Jobs:    b,
		Fires:   b,
		Runs:    b,
		Workers: b,
		Nodes:   b,
		NewElector: func(_ *testing.T, nodeID string) ports.Elector {
			return b.NewElector(nodeID, 10*time.Second)
		},
		KillLease: func(t *testing.T, x any) { require.NoError(t, b.KillLease(x)) },
		Compact:   func(*testing.T) { b.Compact() },
	}
}

var features = contract.Features{}

func TestGroupStore(t *testing.T)     { contract.TestGroupStore(t, newBackend, features) }
func TestJobStore(t *testing.T)       { contract.TestJobStore(t, newBackend, features) }
func TestFireStore(t *testing.T)      { contract.TestFireStore(t, newBackend, features) }
func TestRunStore(t *testing.T)       { contract.TestRunStore(t, newBackend, features) }
func TestWorkerRegistry(t *testing.T) { contract.TestWorkerRegistry(t, newBackend, features) }
func TestNodeRegistry(t *testing.T)   { contract.TestNodeRegistry(t, newBackend, features) }
func TestElector(t *testing.T)        { contract.TestElector(t, newBackend, features) }
func TestUserStore(t *testing.T)      { contract.TestUserStore(t, newAuthBackend, features) }
func TestTokenStore(t *testing.T)     { contract.TestTokenStore(t, newAuthBackend, features) }
func TestAuditLog(t *testing.T)       { contract.TestAuditLog(t, newAuthBackend, features) }
