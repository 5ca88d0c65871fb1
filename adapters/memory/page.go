package memory

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Listings name their cursors, so a cursor of one listing is refused by
// another.
const (
	listGroups = "groups"
	listJobs   = "jobs"
	listFires  = "fires"
	listRuns   = "runs"
)

// encodeCursor makes the opaque cursor that resumes listing list after the
// item with sort key key.
func encodeCursor(list, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + "\x00" + key))
}

// decodeCursor returns the sort key a cursor of listing list resumes
// after, or a *domain.ValidationError for a cursor this backend did not
// make for that listing.
func decodeCursor(list, cursor string) (string, error) {
	bad := &domain.ValidationError{Field: "cursor", Reason: "not a cursor of this listing"}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", bad
	}
	l, key, ok := strings.Cut(string(raw), "\x00")
	if !ok || l != list || key == "" {
		return "", bad
	}
	return key, nil
}

// paginate returns the page of items (already filtered, and sorted so that
// their keys increase under cmp) that p asks for.
func paginate[T any](list string, items []T, key func(T) string, cmp func(a, b string) int, p ports.PageRequest) (ports.Page[T], error) {
	start := 0
	if p.Cursor != "" {
		after, err := decodeCursor(list, p.Cursor)
		if err != nil {
			return ports.Page[T]{}, fmt.Errorf("list %s: %w", list, err)
		}
		for start < len(items) && cmp(key(items[start]), after) <= 0 {
			start++
		}
	}
	limit := p.EffectiveLimit()
	end := min(start+limit, len(items))
	page := ports.Page[T]{Items: append([]T{}, items[start:end]...)}
	if end < len(items) {
		page.NextCursor = encodeCursor(list, key(items[end-1]))
	}
	return page, nil
}

// descending orders strings from the largest to the smallest.
func descending(a, b string) int { return strings.Compare(b, a) }

// timeKeyLayout formats times of sort keys: fixed width, so keys sort in
// time order.
const timeKeyLayout = "20060102T150405.000000000Z"

// timeKey formats t for a sort key.
func timeKey(t time.Time) string { return t.UTC().Format(timeKeyLayout) }
