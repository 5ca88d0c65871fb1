// Package domain holds Pink's pure types and rules: groups, jobs and their
// schedules and policies, fires, runs and their state machine, workers,
// scheduler nodes, routing and the error model.
//
// The package does no I/O and never reads the clock: every function that
// needs the time takes it as an argument. It depends on the standard library
// only, so it can be reasoned about and tested in isolation.
package domain
