// Package api is Pink's REST API: JSON over HTTP under /api/v1, on chi.
//
// Handler (or New, which returns an error instead of panicking) builds the
// handler from Deps; the composition root mounts it:
//
//	r.Mount("/api/v1", api.Handler(api.Deps{...}))
//
// Every route is one entry of the route table (routes.go): method and
// pattern, the role it needs (a domain.Action checked with
// auth.Service.Authorize), the audit action it is recorded under, its
// OpenAPI description and its handler. The router, the OpenAPI 3.1
// document served at /api/v1/openapi.json and the access tests are all
// made from that table, so they cannot drift apart.
//
// A request goes through one path (api.go): cross-origin check for
// state-changing requests without a bearer token (net/http's
// CrossOriginProtection), authentication (bearer token, else the session
// cookie shared with the console; in development mode everyone is the
// admin "dev"), authorisation, the handler, an audit entry for every state
// change and every refusal, and the response. Errors have one shape,
// {"error":{"code","message","field"}}, and one table mapping the domain's
// sentinel errors to statuses (errors.go); a 5xx is logged once, there.
//
// Bodies are mapped to and from the domain types explicitly (dto.go): the
// API is a contract that does not change when a domain struct does.
// Request bodies are at most 1 MiB of JSON with no unknown fields; query
// parameters a route does not declare are refused too. See docs/api.md and
// docs/adr/0012-rest-api.md.
package api
