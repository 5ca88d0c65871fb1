// Package ports declares the interfaces Pink's core needs from the outside
// world: stores for groups, jobs, fires and runs, registries of workers and
// scheduler nodes, leader election, the clock and alert notification.
//
// "Ports" here means interfaces, not network ports or HTTP handlers. The
// adapters in adapters/etcd and adapters/memory implement every port with
// the same behaviour, checked by the contract suites in test/contract.
//
// Conventions shared by all ports:
//   - Every method takes a context first. A method that blocks returns
//     ctx.Err() (possibly wrapped) when ctx is done, and has no effect that
//     the caller must clean up.
//   - Errors are the sentinels of package domain (domain.ErrNotFound, ...),
//     possibly wrapped; adapters never leak their own error types.
//   - Values passed in are not retained; values returned are copies the
//     caller may change.
//   - Watch channels deliver events in revision order, without gaps or
//     repeats, and are closed when the context is done. A watch "after
//     revision" r delivers the changes with revisions greater than r; the
//     revision a Scan or List returns is the one to pass. An event whose Err
//     is set is the last one before the channel closes; domain.ErrCompacted
//     there means "re-read everything and watch again".
package ports
