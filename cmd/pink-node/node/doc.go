// Package node wires one Pink scheduler node, as cmd/pink-node runs it: an
// etcd connection (an embedded single-member etcd, or a client of an
// external cluster), the etcd store bound to every port, the node's
// registration, the scheduler campaigning for leadership, and the HTTP
// server. It is a composition root shared by the binary and by the
// in-process multi-node tests (test/node), so both run the same graph.
//
// Start order (fx runs OnStart hooks in the order they were appended):
//
//	etcd (start the embedded server, or check the external cluster answers)
//	-> registration (the node's leased key) -> HTTP -> scheduler
//
// Stop runs in reverse: the scheduler resigns first, so a follower takes
// over at once; then HTTP stops, the registration is revoked, and the etcd
// client (and the embedded server) close after everything that uses them.
// A goroutines hook, appended before all others, stops last and waits for
// any goroutine that outlived its component's stop. See
// docs/adr/0008-pink-node-composition.md.
package node
