package builtin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// ErrNotAllowed is wrapped by every refusal of the worker's policy: an
// executable not on ShellOptions.Allow, shell syntax the worker does not
// accept, a host not on HTTPOptions.AllowHosts. Nothing was run or sent.
var ErrNotAllowed = errors.New("not allowed on this worker")

// ErrTailBytes bounds the tail of a command's output (or the excerpt of a
// response body) that a failed run's error message carries; the whole
// output, bounded by the worker runtime, is in the run's output.
const ErrTailBytes = 1 << 10

// MaxTimeout bounds the "timeout" param of both handlers (the job's own
// timeout bounds the run anyway).
const MaxTimeout = time.Duration(domain.MaxTimeout)

// invalid returns the error of a bad param: a *domain.ValidationError, so
// errors.Is(err, domain.ErrInvalid) holds.
func invalid(field, format string, args ...any) error {
	if field == "" {
		field = "params"
	} else {
		field = "params." + field
	}
	return &domain.ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// decodeParams decodes a run's params strictly into dst: a JSON object of
// at most max bytes, with no unknown field and nothing after it. example
// shows a valid value in the error of a missing one.
func decodeParams(raw []byte, max int, dst any, example string) error {
	if len(raw) > max {
		return invalid("", "must be at most %d bytes, got %d", max, len(raw))
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || string(t) == "null" {
		return invalid("", "required: a JSON object such as %s", example)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return invalid("", "unexpected data after the JSON object")
	}
	return nil
}

// jsonError turns a decoding error into a validation error naming the
// field when it can.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return invalid("", "must be a JSON object, got %s", te.Value)
		}
		return invalid(te.Field, "must be %s, got %s", jsonType(te.Type.String()), te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalid("", "malformed JSON at byte %d: %s", se.Offset, strings.TrimPrefix(se.Error(), "json: "))
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return invalid("", "malformed JSON: unexpected end of input")
	}
	return invalid("", "%s", strings.TrimPrefix(err.Error(), "json: "))
}

// jsonType names a Go type the way a JSON user reads it.
func jsonType(goType string) string {
	names := map[string]string{"string": "string", "bool": "boolean", "int": "integer"}
	switch {
	case names[goType] != "":
		if goType == "int" {
			return "an integer"
		}
		return "a " + names[goType]
	case strings.HasPrefix(goType, "[]") && names[goType[2:]] != "":
		return "an array of " + names[goType[2:]] + "s"
	case strings.HasPrefix(goType, "map[string]") && names[goType[11:]] != "":
		return "an object of " + names[goType[11:]] + "s"
	}
	return goType
}

// parseTimeout parses the "timeout" param; "" means none (0).
func parseTimeout(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	switch {
	case err != nil:
		return 0, invalid("timeout", "must be a duration such as \"30s\", got %q", s)
	case d <= 0 || d > MaxTimeout:
		return 0, invalid("timeout", "must be between 1ns and %s, got %s", MaxTimeout, d)
	}
	return d, nil
}

// hasNUL reports whether s holds a NUL byte, which no argument, variable
// or path of a process can carry.
func hasNUL(s string) bool { return strings.IndexByte(s, 0) >= 0 }

// tail keeps the last n bytes written to it. It is safe for concurrent
// use.
type tail struct {
	n   int
	mu  sync.Mutex
	buf []byte
}

func newTail(n int) *tail { return &tail{n: n} }

// Write implements io.Writer; it never fails.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(p) >= t.n {
		t.buf = append(t.buf[:0], p[len(p)-t.n:]...)
		return len(p), nil
	}
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.n {
		t.buf = t.buf[:copy(t.buf, t.buf[len(t.buf)-t.n:])]
	}
	return len(p), nil
}

// String returns the kept tail, cut at a character boundary.
func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return domain.TailString(string(t.buf), t.n)
}

// withTail appends what tail holds to a failure message.
func withTail(msg string, t *tail) string {
	s := strings.TrimRight(t.String(), "\n")
	if s == "" {
		return msg
	}
	return fmt.Sprintf("%s; output ends with:\n%s", msg, s)
}
