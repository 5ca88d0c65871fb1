// Command pink-bench is Pink's load harness. In one process it starts an
// embedded etcd (fsync on, production ticks, a temporary data directory,
// random loopback ports), measures what that etcd can write (the ceiling),
// then runs a scheduler (app/scheduler on the etcd store, in-process
// client, etcd elector) and in-process workers (app/worker with a no-op
// handler) against it, and prints one table in which every figure stands
// next to the ceiling measured in the same run, as a ratio, and next to
// its target from issue 7.
//
// Phases (-mode):
//
//	dispatch  the leader alone: -jobs jobs on -schedule, runs assigned to
//	          registered sinks that never execute them (the harness deletes
//	          their assignments every 100 ms, freeing capacity);
//	          fires recorded per second, and lag from nominal time to the
//	          fire and its assigned run committed
//	e2e       the whole pipeline at each -e2e-jobs level: fire, assignment,
//	          worker start, result recorded; runs completed per second and
//	          lag from nominal time to handler start
//	ready     -ready-jobs jobs bulk-loaded (none due), then the time for
//	          a node to become a ready leader, heap and RSS per job; then
//	          one past fire per job and a new leader timed again, for at
//	          most -ready-timeout (-ready-fires)
//	idle      ready, then CPU over -idle with nothing due, with and without
//	          the scheduler
//	failover  a second scheduler takes over: on resign (SIGTERM), on a
//	          revoked lease, and on a killed leader (client gone, lease
//	          expires after -ttl); time to its first dispatch
//	all       every phase, in that order
//
// Usage:
//
//	go run ./cmd/pink-bench -mode all
//	go run ./cmd/pink-bench -mode ready -ready-jobs 1000000
//	go run ./cmd/pink-bench -mode dispatch -jobs 40000 -duration 30s
//
// Jobs are written with batched Txns in the documented key layout
// (docs/etcd-layout.md) and read back through the store to check the
// encoding. Each phase works under its own key prefix, deleted when the
// phase ends. The temporary directory is removed on exit, also on Ctrl-C.
// -profile-dir writes a CPU profile of each measured window and a heap
// profile with the leader ready; -json writes the table for scripts.
// docs/benchmarks.md explains the method and publishes the figures.
package main
