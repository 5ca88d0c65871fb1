// Package node holds Pink's in-process multi-node tests: several
// scheduler nodes, wired exactly as cmd/pink-node wires them (package
// cmd/pink-node/node), each with its own gRPC client to one real embedded
// etcd, like separate processes; a worker; and jobs created through
// app/jobs. They check leader election, graceful and forced handovers and
// the fire ledger across them. Multi-process tests with kill -9 live in
// test/cluster; etcdhost is a tiny etcd host for those and for trying a
// cluster by hand.
package node
