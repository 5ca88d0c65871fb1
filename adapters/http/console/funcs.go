package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// funcs are the template functions.
var funcs = template.FuncMap{
	"time":       fmtTime,
	"timeIn":     fmtTimeIn,
	"rfc3339":    func(t time.Time) string { return t.Format(time.RFC3339) },
	"pathesc":    url.PathEscape,
	"join":       strings.Join,
	"labels":     fmtLabels,
	"params":     fmtParams,
	"runDur":     runDuration,
	"badge":      func(s any) string { return "badge badge-" + strings.ReplaceAll(fmt.Sprint(s), "_", "-") },
	"roles":      func() []domain.Role { return []domain.Role{domain.RoleAdmin, domain.RoleOperator, domain.RoleViewer} },
	"runStates":  func() []domain.RunState { return domain.AllRunStates },
	"isZero":     func(t time.Time) bool { return t.IsZero() },
	"short":      shortID,
	"plural":     plural,
	"stateLabel": func(s any) string { return strings.ReplaceAll(fmt.Sprint(s), "_", " ") },
	"dict":       dict,
	"list":       func(v ...any) []any { return v },
	"add":        func(a, b int) int { return a + b },
	"sub":        func(a, b int) int { return a - b },
	"fid":        func(field string) string { return strings.NewReplacer(".", "-", "_", "-").Replace(field) },
}

// dict makes a map of its key, value arguments, to pass several values to
// a template.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, errors.New("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// fmtTime shows an instant in UTC, to the second; "" for the zero time.
func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05") + " UTC"
}

// fmtTimeIn shows an instant in a job's time zone.
func fmtTimeIn(t time.Time, tz string) string {
	if t.IsZero() {
		return ""
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		loc = time.UTC
	}
	return t.In(loc).Format("Mon 2006-01-02 15:04:05 MST")
}

func fmtLabels(m map[string]string) string {
	keys := slices.Sorted(maps.Keys(m))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ", ")
}

// fmtParams pretty-prints a job's params.
func fmtParams(b json.RawMessage) string {
	if len(b) == 0 {
		return ""
	}
	var v any
	if json.Unmarshal(b, &v) != nil {
		return string(b)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return string(b)
	}
	return string(out)
}

// runDuration is how long a run ran (or has been running, at now).
func runDuration(r domain.Run, now time.Time) string {
	if r.StartedAt.IsZero() {
		return ""
	}
	end := r.FinishedAt
	if end.IsZero() {
		if r.State.Terminal() {
			return ""
		}
		end = now
	}
	return fmtDuration(end.Sub(r.StartedAt))
}

// fmtDuration rounds a duration for people: 850ms, 12.3s, 4m10s, 2h5m.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 0:
		return ""
	case d < time.Millisecond:
		return "<1ms"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// shortID shortens a long ID for a table cell (the full one is the link).
func shortID(s string) string {
	if len(s) <= 40 {
		return s
	}
	return s[:37] + "…"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// isUnavailable reports whether err means the store did not answer.
func isUnavailable(err error) bool { return errors.Is(err, domain.ErrUnavailable) }

// userMessage turns an error of the job, group, user or token use cases
// into a sentence for the page, and reports whether it was the user's
// fault (false: log it and show a 500).
func userMessage(err error) (string, bool) {
	var ve *domain.ValidationError
	var se *domain.ScheduleError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s: %s", se.Field, se.Reason), true
	case errors.As(err, &ve):
		return fmt.Sprintf("%s: %s", ve.Field, ve.Reason), true
	case errors.Is(err, domain.ErrNotFound):
		return "It no longer exists (someone may have deleted it).", true
	case errors.Is(err, domain.ErrAlreadyExists):
		return "One with that name already exists.", true
	case errors.Is(err, domain.ErrIllegalTransition):
		return "It has already finished.", true
	case errors.Is(err, domain.ErrConflict):
		return strings.TrimPrefix(conflictText(err), "pink: "), true
	}
	return "", false
}

// conflictText is the part of a conflict error worth showing.
func conflictText(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": pink: conflict"); i > 0 {
		msg = msg[:i]
	}
	return msg
}

// fieldReason returns the reason of a validation error, without the field.
func fieldReason(err error) string {
	var ve *domain.ValidationError
	var se *domain.ScheduleError
	switch {
	case errors.As(err, &se):
		return se.Reason
	case errors.As(err, &ve):
		return ve.Reason
	}
	return err.Error()
}
