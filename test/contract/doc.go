// Package contract holds the contract suites every storage adapter must
// pass: one exported function per port (TestGroupStore, TestJobStore,
// TestFireStore, TestRunStore, TestWorkerRegistry, TestNodeRegistry,
// TestElector). adapters/memory and adapters/etcd call them from their own
// tests, so both adapters provably behave alike:
//
//	func TestJobStore(t *testing.T) { contract.TestJobStore(t, newBackend, features) }
//
// Each suite runs subtests, each on a fresh Backend from NewBackend. The
// suites never sleep: they wait on channels with a bound of Timeout, and
// finish every campaign, registration and watch they start (leaderships are
// resigned and leases closed in t.Cleanup, watches end with the test's
// context), so an adapter's package can check for goroutine leaks.
//
// What the suites pin down beyond the port documentation:
//   - Backend.Compact forgets the history up to the current revision (on
//     etcd, Compact(current revision)); a watch from a revision followed
//     by three or more writes before the Compact then gets one event with
//     domain.ErrCompacted and closes;
//   - WatchAssigned reports a cancellation of a run assigned to the worker
//     as EventPut (the run in state cancelled) and every other way a run
//     leaves the worker as EventDelete;
//   - LastFires counts a skip summary (Fire.Summary) as standing for its
//     Summary.Last, and leaves out jobs that have manual fires only;
//   - Prune is called until it removes nothing, so an adapter may bound
//     its work per call; a fire that still has active runs may be kept;
//   - lease TTLs under one second are invalid.
package contract
