// Package memory implements every storage, registry and election port of
// Pink in memory, with the behaviour the etcd adapter has: one global
// revision counter incremented by every write, watches that resume from a
// revision and report domain.ErrCompacted for history the store no longer
// keeps, leases that expire on an injected ports.Clock, and leader election
// where candidates queue in revision order and every leader write is fenced
// by the leader key's create revision.
//
// It serves three purposes: unit tests of the scheduler and the worker
// runtime (inside a testing/synctest bubble with clock.System, or with
// clock.Fake), library users who want to swap the store in their own tests,
// and a reference for the contract suites in test/contract, which it
// passes.
//
// A Backend starts no goroutine when it is created. It starts one per
// watch (ended by the watch's context) and one per lease whose keep-alive
// was stopped (ended by expiry, revocation or Backend.Close); Close stops
// them all and waits for them.
//
// Leases never expire on their own while their owner is alive: the backend
// "renews" them implicitly. Tests model failures with KillLease (the lease
// is revoked at once behind its owner's back) and StopKeepAlive (the owner
// crashed: the lease expires one TTL later on the clock).
package memory
