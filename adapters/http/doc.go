// Package http is Pink's HTTP edge, on go-chi/chi: today the health
// endpoints of a pink-node (/healthz, /readyz); the REST API, the worker
// gateway and the web console are mounted here too as they arrive.
//
// NewServer builds a Server from a Config and its Deps without starting
// anything; Start listens and serves in the background, Stop shuts down
// gracefully and waits. Module does the same inside an fx graph. Every
// route is mounted in routes.go, so the whole surface reads in one place.
package http
