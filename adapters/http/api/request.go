package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// MaxBodyBytes bounds every request body.
const MaxBodyBytes = 1 << 20

// maxCursorLen bounds the cursor parameter.
const maxCursorLen = 2048

// decodeBody decodes the JSON body of c's request into dst, strictly: at
// most MaxBodyBytes, a JSON media type (or none), no unknown fields, one
// value and nothing after it. If optional, an empty body leaves dst as it
// is. Errors are 400 (with the field when one is to blame), 413 or 415.
func (c *call) decodeBody(dst any, optional bool) error {
	r := c.r
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || !(mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
			return errMediaType
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(c.w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errTooLarge
		}
		return &domain.ValidationError{Reason: "the body could not be read"}
	}
	if optional && len(bytes.TrimSpace(raw)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		err = bodyError(err)
		var ve *domain.ValidationError
		if errors.As(err, &ve) && ve.Reason == "unknown field" {
			// encoding/json names the key, not where it is: find its path.
			var generic any
			if json.Unmarshal(raw, &generic) == nil {
				if path := unknownField(reflect.TypeOf(dst), generic, ""); path != "" {
					ve.Field = path
				}
			}
		}
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &domain.ValidationError{Reason: "the body must hold one JSON value and nothing after it"}
	}
	return nil
}

// unknownField returns the dotted path of the first key of v (a body
// decoded into any) that type t does not declare, or "".
func unknownField(t reflect.Type, v any, prefix string) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		fields := map[string]reflect.Type{}
		jsonFields(t, fields)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				for name, t := range fields { // encoding/json matches keys case-insensitively
					if strings.EqualFold(name, k) {
						ft, ok = t, true
						break
					}
				}
			}
			if !ok {
				return prefix + k
			}
			if p := unknownField(ft, m[k], prefix+k+"."); p != "" {
				return p
			}
		}
	case reflect.Map:
		if m, ok := v.(map[string]any); ok {
			for k, e := range m {
				if p := unknownField(t.Elem(), e, prefix+k+"."); p != "" {
					return p
				}
			}
		}
	case reflect.Slice, reflect.Array:
		if a, ok := v.([]any); ok {
			for i, e := range a {
				if p := unknownField(t.Elem(), e, fmt.Sprintf("%s%d.", prefix, i)); p != "" {
					return p
				}
			}
		}
	}
	return ""
}

// jsonFields collects the JSON names of a struct's fields, embedded ones
// included.
func jsonFields(t reflect.Type, out map[string]reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			jsonFields(f.Type, out)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
}

// bodyError turns a decoding error into the API's error.
func bodyError(err error) error {
	var (
		mbe *http.MaxBytesError
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return errTooLarge
	case errors.Is(err, io.EOF):
		return &domain.ValidationError{Reason: "a JSON body is required"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &domain.ValidationError{Reason: "malformed JSON: unexpected end of the body"}
	case errors.As(err, &se):
		return &domain.ValidationError{Reason: fmt.Sprintf("malformed JSON at byte %d: %s", se.Offset, se.Error())}
	case errors.As(err, &te):
		field := te.Field
		return &domain.ValidationError{Field: field, Reason: fmt.Sprintf("must be %s, not %s", jsonKind(te.Type.Kind().String()), te.Value)}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return &domain.ValidationError{Field: name, Reason: "unknown field"}
	}
	return &domain.ValidationError{Reason: "malformed JSON: " + strings.TrimPrefix(msg, "json: ")}
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "bool":
		return "true or false"
	case k == "map", k == "struct":
		return "an object"
	case k == "slice", k == "array":
		return "an array"
	}
	return "a " + k
}

// checkQuery refuses query parameters the route does not declare and
// repeats of those that are not repeatable: a misspelt filter must not
// silently list everything.
func (c *call) checkQuery() error {
	q := c.r.URL.Query()
	for name, vals := range q {
		p, ok := c.route.param(name)
		if !ok {
			return invalidParam(name, "unknown query parameter")
		}
		if len(vals) > 1 && !p.Repeat {
			return invalidParam(name, "must be given once")
		}
	}
	return nil
}

// query returns the query parameter name ("" if absent).
func (c *call) query(name string) string { return c.r.URL.Query().Get(name) }

// page reads limit (1..ports.MaxPageLimit; default ports.DefaultPageLimit)
// and cursor.
func (c *call) page() (ports.PageRequest, error) {
	var p ports.PageRequest
	if v := c.query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ports.MaxPageLimit {
			return p, invalidParam("limit", fmt.Sprintf("must be an integer between 1 and %d", ports.MaxPageLimit))
		}
		p.Limit = n
	}
	p.Cursor = c.query("cursor")
	if len(p.Cursor) > maxCursorLen {
		return p, invalidParam("cursor", "too long")
	}
	return p, nil
}

// intParam reads an integer parameter in [lo, hi], def when absent.
func (c *call) intParam(name string, def, lo, hi int) (int, error) {
	v := c.query(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, invalidParam(name, fmt.Sprintf("must be an integer between %d and %d", lo, hi))
	}
	return n, nil
}

// timeParam reads an RFC 3339 time parameter (zero when absent).
func (c *call) timeParam(name string) (time.Time, error) {
	v := c.query(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, invalidParam(name, "must be an RFC 3339 time such as 2026-11-26T16:43:00Z")
	}
	return t, nil
}

// boolParam reads true/false (def when absent).
func (c *call) boolParam(name string, def bool) (bool, error) {
	switch c.query(name) {
	case "":
		return def, nil
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, invalidParam(name, "must be true or false")
}

// nameParam reads an optional identifier parameter (a job ID, group,
// worker ID, user name), checked like the stores check names.
func (c *call) nameParam(name string) (string, error) {
	v := c.query(name)
	if v == "" {
		return "", nil
	}
	if err := domain.ValidateName(name, v); err != nil {
		return "", err
	}
	return v, nil
}

// listParam reads a repeatable parameter whose values may also be comma
// separated: state=failed&state=lost or state=failed,lost.
func (c *call) listParam(name string) []string {
	var out []string
	for _, v := range c.r.URL.Query()[name] {
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
