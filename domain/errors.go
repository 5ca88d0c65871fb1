package domain

import (
	"errors"
	"fmt"
)

// Sentinel errors. Adapters translate their own failures into these so that
// callers never see an etcd, gRPC or HTTP error; wrap them with %w and test
// them with errors.Is.
var (
	// ErrNotFound means the requested record does not exist.
	ErrNotFound = errors.New("pink: not found")
	// ErrAlreadyExists means a create found a record with the same key.
	ErrAlreadyExists = errors.New("pink: already exists")
	// ErrConflict means a compare-and-swap lost a race too many times, or the
	// operation conflicts with the record's current state (for example
	// deleting a group that still has jobs).
	ErrConflict = errors.New("pink: conflict")
	// ErrInvalid means the input failed validation; a *ValidationError names
	// the field.
	ErrInvalid = errors.New("pink: invalid input")
	// ErrNotLeader means a fenced write was refused because the caller no
	// longer holds leadership. The scheduler stops at once when it sees it.
	ErrNotLeader = errors.New("pink: not leader")
	// ErrStaleAttempt means a worker's write named an attempt (or worker)
	// that is no longer the run's current one: the result is rejected.
	ErrStaleAttempt = errors.New("pink: stale attempt")
	// ErrIllegalTransition means a run was asked to move to a state its
	// current state cannot reach.
	ErrIllegalTransition = errors.New("pink: illegal state transition")
	// ErrLeaseExpired means a registration's lease is gone.
	ErrLeaseExpired = errors.New("pink: lease expired")
	// ErrCompacted means a watch asked for a revision the store no longer
	// keeps; the watcher must re-read the whole state and watch again.
	ErrCompacted = errors.New("pink: revision compacted")
	// ErrUnavailable means the backing store could not be reached.
	ErrUnavailable = errors.New("pink: store unavailable")
	// ErrClosed means the component has been closed.
	ErrClosed = errors.New("pink: closed")
)

// ValidationError reports one invalid field of an input. errors.Is(err,
// ErrInvalid) is true for every ValidationError.
type ValidationError struct {
	Field  string // JSON name of the field, e.g. "retry.max_attempts"
	Reason string // what is wrong, for a human
}

// Error implements error.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("pink: invalid %s: %s", e.Field, e.Reason)
}

// Is reports whether target is ErrInvalid.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, format string, args ...any) error {
	return &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// FieldOf returns the field named by err when err is (or wraps) a
// *ValidationError or a *ScheduleError, and "" otherwise.
func FieldOf(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Field
	}
	var se *ScheduleError
	if errors.As(err, &se) {
		return se.Field
	}
	return ""
}
