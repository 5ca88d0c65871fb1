package workerapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"

	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
)

// errorBody is the one shape of every error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	// Code is stable and meant for programs (see errorTable).
	Code string `json:"code"`
	// Message is for people.
	Message string `json:"message"`
	// Field names the invalid request field, for code "invalid".
	Field string `json:"field,omitempty"`
}

// errorTable maps errors to statuses and codes, first match wins.
var errorTable = []struct {
	err    error
	status int
	code   string
}{
	{gateway.ErrUnknownWorker, http.StatusNotFound, "unknown_worker"},
	{domain.ErrUnauthenticated, http.StatusUnauthorized, "unauthenticated"},
	{domain.ErrForbidden, http.StatusForbidden, "forbidden"},
	{domain.ErrInvalid, http.StatusBadRequest, "invalid"},
	{domain.ErrNotFound, http.StatusNotFound, "not_found"},
	{domain.ErrStaleAttempt, http.StatusConflict, "stale_attempt"},
	{domain.ErrIllegalTransition, http.StatusConflict, "illegal_transition"},
	{domain.ErrAlreadyExists, http.StatusConflict, "already_exists"},
	{domain.ErrConflict, http.StatusConflict, "conflict"},
	{domain.ErrUnavailable, http.StatusServiceUnavailable, "unavailable"},
	{domain.ErrClosed, http.StatusServiceUnavailable, "unavailable"},
	{domain.ErrNotLeader, http.StatusServiceUnavailable, "unavailable"},
	{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable"},
	{context.Canceled, http.StatusServiceUnavailable, "unavailable"},
}

func errorsIsUnauthenticated(err error) bool { return errors.Is(err, domain.ErrUnauthenticated) }

// fail writes the response of err, and logs it if it is the server's
// fault (once: this is the edge).
func (a *api) fail(w http.ResponseWriter, r *http.Request, err error) {
	for _, e := range errorTable {
		if !errors.Is(err, e.err) {
			continue
		}
		switch {
		case r.Context().Err() != nil:
			// The client went away (a worker stopped mid-poll): nobody
			// reads the answer, and it is no failure of the node.
			a.log.Debug("worker api: client gone", "method", r.Method, "path", r.URL.Path, "err", err)
			return
		case e.status >= 500:
			a.log.Warn("worker api: request failed", "method", r.Method, "path", r.URL.Path, "status", e.status, "err", err)
		default:
			a.log.Debug("worker api: request refused", "method", r.Method, "path", r.URL.Path, "status", e.status, "err", err)
		}
		msg := err.Error()
		if e.status == http.StatusUnauthorized {
			msg = "invalid worker token" // say nothing more to a stranger
			w.Header().Set("WWW-Authenticate", `Bearer realm="pink-worker"`)
		}
		writeError(w, e.status, e.code, msg, domain.FieldOf(err))
		return
	}
	a.log.Error("worker api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	writeJSON(w, status, errorBody{errorDetail{Code: code, Message: msg, Field: field}})
}

// writeJSON writes v as the JSON body of a response with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away: nothing to do
}

// errTooLarge is a request body over the limit.
var errTooLarge = errors.New("request body too large")

// decode reads the request body, one JSON object with only v's fields and
// nothing after it, bounded by the API's limit. An empty body leaves v as
// it is if optional, and is invalid otherwise. Errors are
// *domain.ValidationError (field "body" or the offending field), or wrap
// errTooLarge.
func (a *api) decode(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, a.maxBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		if optional {
			return nil
		}
		return &domain.ValidationError{Field: "body", Reason: "a JSON object is required"}
	}
	if err == nil {
		if _, extra := dec.Token(); !errors.Is(extra, io.EOF) {
			err = errors.New("unexpected data after the JSON object")
		}
	}
	if err == nil {
		return nil
	}
	var tooLarge *http.MaxBytesError
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("%w: the limit is %d bytes", errTooLarge, tooLarge.Limit)
	case errors.As(err, &syntax):
		return &domain.ValidationError{Field: "body", Reason: fmt.Sprintf("malformed JSON at byte %d: %v", syntax.Offset, err)}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &domain.ValidationError{Field: field, Reason: fmt.Sprintf("must be a JSON %s, got %s", jsonKind(typ.Type.Kind()), typ.Value)}
	}
	if f, ok := unknownField(err); ok {
		return &domain.ValidationError{Field: f, Reason: "unknown field"}
	}
	return &domain.ValidationError{Field: "body", Reason: err.Error()}
}

// jsonKind names a Go kind as JSON.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	}
	return "value"
}

// unknownField extracts the field of encoding/json's "json: unknown field
// \"x\"" error.
func unknownField(err error) (string, bool) {
	var f string
	if _, scanErr := fmt.Sscanf(err.Error(), "json: unknown field %q", &f); scanErr == nil {
		return f, true
	}
	return "", false
}

// readBody decodes the body, answering the request itself on failure; it
// reports whether the handler should go on.
func (a *api) readBody(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	err := a.decode(w, r, v, optional)
	switch {
	case err == nil:
		return true
	case errors.Is(err, errTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", err.Error(), "body")
	default:
		a.fail(w, r, err)
	}
	return false
}
