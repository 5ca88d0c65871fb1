// Package query holds the read-side use cases that the REST API
// (adapters/http/api) and the web console share: listings of runs, fires,
// pending fires, workers with their running runs, scheduler nodes with the
// leader, and run statistics for the dashboard.
//
// It reads through the ports only and writes nothing. Every method does a
// bounded amount of work per call, whatever the size of the store; where a
// bound can cut an answer short, the result says so (Stats.Truncated) or
// the listing continues on the next page (NextCursor).
//
// Listings follow the ports' paging convention: a ports.PageRequest in, a
// page with an opaque NextCursor out ("" on the last page). Cursors made by
// this package name their listing and are refused (a
// *domain.ValidationError for field "cursor") by another.
//
// Errors are the sentinels of package domain: a *domain.ValidationError
// names the bad filter by its query-parameter name ("state", "from", "to",
// "job_id", "group", "worker_id", "status", "cursor"), so the HTTP layer can
// report it as is.
package query
