// Package auth holds the use cases of authentication, authorisation and the
// audit log, on the ports of ports/auth.go and without HTTP: the REST API,
// the console and the HTTP worker API build on it.
//
//   - Users have a role (admin, operator, viewer) and an argon2id password
//     hash. On first start, Service.Bootstrap creates the user "admin".
//   - Secrets are api tokens (a user's bearer tokens), worker tokens (one
//     group's workers) and sessions (a console login, always expiring). They
//     look like "pink_<kind>_<random>"; the store keeps a SHA-256 of them.
//     Service.Authenticate turns a secret into a Principal, reading the
//     user (or group) on every call, so disabling a user, changing a role,
//     deleting a group or revoking a token takes effect at once.
//   - Service.Authorize checks a Principal against a domain.Action;
//     Service.AuthorizeWorker checks a worker token against a group.
//   - Service.Audit records who did what; the HTTP layer calls it for every
//     change it makes and for refused attempts.
//   - LoginLimiter slows password guessing per user name and per address.
//
// Every failure to authenticate is domain.ErrUnauthenticated with one
// message, whatever the cause; a refused action is domain.ErrForbidden.
// The HTTP layer maps them to 401 and 403. See
// docs/adr/0010-auth-model.md for the decisions behind the model.
package auth
