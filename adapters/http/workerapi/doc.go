// Package workerapi is the HTTP worker API: JSON over HTTP for workers
// written in any language, on top of the sessions of app/gateway. The
// protocol is documented for worker authors in docs/worker-protocol.md;
// docs/adr/0011-http-worker-protocol.md says why it is shaped so.
//
// Handler returns a chi router meant to be mounted at /api/v1/worker:
//
//	POST   /register                              open a session
//	POST   /workers/{id}/heartbeat                keep it alive; lists cancellations
//	GET    /workers/{id}/runs?wait=20s            long-poll for assigned runs
//	POST   /workers/{id}/runs/{run_id}/start      mark an attempt running
//	POST   /workers/{id}/runs/{run_id}/output     append progress output
//	POST   /workers/{id}/runs/{run_id}/result     report the attempt's result
//	DELETE /workers/{id}                          deregister (graceful shutdown)
//
// Every request carries "Authorization: Bearer pink_worker_..." — a worker
// token, which admits the workers of its own group only. Bodies are JSON
// objects, bounded in size, with unknown fields refused. Every error has
// one shape, {"error":{"code","message","field"}}, with the status the
// table in errors.go gives.
package workerapi
