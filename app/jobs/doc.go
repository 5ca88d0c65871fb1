// Package jobs holds the use cases of managing groups and jobs: create,
// edit, pause, resume, delete, trigger now, and the plan of next fire
// times. It validates every input (nothing invalid reaches a store), sets
// the fields the scheduler relies on (PlanFrom, timestamps, IDs) and works
// on any node: it needs no leadership.
package jobs
