package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/pink-scheduler/pink/domain"
)

// errorBody is the one error shape of the API:
// {"error":{"code":"...","message":"...","field":"..."}}.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	// Code is stable and meant for programs (see errorTable).
	Code string `json:"code"`
	// Message is for people; it may change.
	Message string `json:"message"`
	// Field names the bad input for code "invalid": a JSON field of the
	// body ("retry.max_attempts") or a query parameter ("count").
	Field string `json:"field,omitempty"`
}

// apiError is an error the API raises itself, with its status and code.
type apiError struct {
	status  int
	code    string
	message string
	field   string
	// retryAfter, in seconds, is sent as Retry-After when positive.
	retryAfter int
}

func (e *apiError) Error() string { return e.message }

// Errors of the HTTP layer itself.
var (
	errCrossOrigin = &apiError{status: http.StatusForbidden, code: "cross_origin",
		message: "cross-origin request refused: state-changing requests from a browser must come from the console's origin (or use a bearer token)"}
	errNoCredentials = &apiError{status: http.StatusUnauthorized, code: "unauthenticated",
		message: "authentication required: send Authorization: Bearer <token> or log in"}
	errRouteNotFound = &apiError{status: http.StatusNotFound, code: "not_found", message: "no such API route"}
	errMethod        = &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", message: "method not allowed on this route"}
	errTooLarge      = &apiError{status: http.StatusRequestEntityTooLarge, code: "too_large", message: "request body larger than 1 MiB"}
	errMediaType     = &apiError{status: http.StatusUnsupportedMediaType, code: "unsupported_media_type", message: "the request body must be JSON (Content-Type: application/json)"}
)

// errorTable maps the domain's sentinel errors to statuses and codes, in
// the order they are tested: a *domain.ValidationError that also wraps
// domain.ErrNotFound (a job's unknown group) is a 400 for its field, not a
// 404. Anything not listed is a 500, logged once.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{domain.ErrInvalid, http.StatusBadRequest, "invalid"},
	{domain.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{domain.ErrForbidden, http.StatusForbidden, "forbidden"},
	{domain.ErrNotFound, http.StatusNotFound, "not_found"},
	{domain.ErrAlreadyExists, http.StatusConflict, "already_exists"},
	{domain.ErrConflict, http.StatusConflict, "conflict"},
	{domain.ErrStaleAttempt, http.StatusConflict, "stale"},
	{domain.ErrIllegalTransition, http.StatusConflict, "illegal_transition"},
	{domain.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{domain.ErrNotLeader, http.StatusServiceUnavailable, "unavailable"},
	{domain.ErrCompacted, http.StatusServiceUnavailable, "unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
	{context.Canceled, http.StatusServiceUnavailable, "unavailable"}, // the client went away
}

// classify returns the response for err.
func classify(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	for _, e := range errorTable {
		if errors.Is(err, e.err) {
			out := &apiError{status: e.status, code: e.code, message: message(err)}
			if e.status == http.StatusBadRequest {
				out.field = domain.FieldOf(err)
			}
			return out
		}
	}
	return &apiError{status: http.StatusInternalServerError, code: "internal", message: "internal error; it has been logged"}
}

// message is err's text for a client: a validation error's own text (not
// the wrapping), without the "pink: " prefix of the sentinels.
func message(err error) string {
	var ve *domain.ValidationError
	if errors.As(err, &ve) {
		if ve.Field == "" {
			return ve.Reason
		}
		return ve.Field + ": " + ve.Reason
	}
	var se *domain.ScheduleError
	if errors.As(err, &se) {
		err = se
	}
	return strings.ReplaceAll(err.Error(), "pink: ", "")
}

// invalidParam is the 400 of a bad query parameter.
func invalidParam(name, reason string) error {
	return &domain.ValidationError{Field: name, Reason: reason}
}
