package contract

import (
	"testing"

	"github.com/pink-scheduler/pink/ports"
)

// Backend is one fresh, empty adapter instance for a test. Every port comes
// from the same underlying store (so, for example, a job's group is checked
// against GroupStore and fenced writes against the Elector's leadership).
type Backend struct {
	Groups  ports.GroupStore
	Jobs    ports.JobStore
	Fires   ports.FireStore
	Runs    ports.RunStore
	Workers ports.WorkerRegistry
	Nodes   ports.NodeRegistry
	// NewElector returns an elector campaigning as nodeID, on the same
	// store. Electors made for different node IDs compete.
	NewElector func(t *testing.T, nodeID string) ports.Elector
	// KillLease ends a lease or a leadership behind its owner's back, as if
	// the owner had been paused past its TTL or partitioned away: the
	// registration disappears and Done closes, but the owner did not call
	// Close or Resign. The argument is a ports.Lease or ports.Leadership
	// returned by this backend.
	KillLease func(t *testing.T, leaseOrLeadership any)
	// Compact makes the store forget history up to its current revision,
	// so a watch from an older revision gets domain.ErrCompacted.
	// nil if the adapter cannot (Features then says so).
	Compact func(t *testing.T)
}

// NewBackend makes a fresh, isolated Backend (for etcd, under a new key
// prefix) and registers its cleanup with t.Cleanup.
type NewBackend func(t *testing.T) Backend

// Features says what an adapter cannot do, so the suites skip those checks.
type Features struct {
	// NoCompaction: the adapter never compacts, so ErrCompacted is not
	// tested.
	NoCompaction bool
}
