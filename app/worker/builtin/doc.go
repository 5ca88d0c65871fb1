// Package builtin holds the handlers pink-worker ships with: Shell runs a
// program, HTTP calls a URL. Both are worker.HandlerFunc values, so any
// program embedding the worker runtime can register them too:
//
//	w.Handle(builtin.ShellName, builtin.Shell(builtin.ShellOptions{Allow: []string{"pg_dump"}}))
//	w.Handle(builtin.HTTPName, builtin.HTTP(builtin.HTTPOptions{AllowHosts: []string{"hooks.example.com"}}))
//
// A job selects one by its handler name ("shell" or "http") and configures
// it with its params, a JSON object decoded strictly: unknown fields,
// trailing data and oversized values are refused with a clear error, and
// the run fails without anything being executed or sent.
//
// # Safety
//
// Running a job's command is remote code execution by design: whoever can
// create jobs in the group can run programs as the worker's user. Neither
// handler is registered by pink-worker unless asked for (--allow-shell,
// --allow-http), and both take allow-lists: ShellOptions.Allow limits the
// executables, HTTPOptions.AllowHosts (required) the hosts, checked again
// on every redirect. A program runs with a minimal environment, not the
// worker's, in a process group of its own that is terminated with the
// run, so a timeout or a cancel leaves no process behind. See
// docs/adr/0009-builtin-handlers.md.
package builtin
