// Package cluster holds the fault-injection cluster tests: a 3-member etcd
// cluster, three pink-node processes and two pink-worker processes, each
// node talking to etcd through its own TCP fault proxy, and an independent
// ledger of executions. They are skipped unless PINK_CLUSTER=1 is set or
// -full is passed (make test-cluster). See docs/reliability.md.
package cluster
