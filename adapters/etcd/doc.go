// Package etcd implements every storage, registry and election port of
// Pink on etcd (go.etcd.io/etcd/client/v3), and runs an embedded etcd server
// for the single-binary default.
//
// The key layout is part of the public contract and is documented in
// docs/etcd-layout.md. Every write the leader makes on the scheduler's
// behalf is a Txn comparing the leader key's create revision (the fence).
package etcd
