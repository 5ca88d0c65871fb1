package ports

// Paging bounds shared by every List method.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// Page is one page of a listing. NextCursor is "" on the last page; pass it
// as the Cursor of the next request otherwise.
type Page[T any] struct {
	Items      []T
	NextCursor string
}

// PageRequest asks for one page. A Limit of 0 means DefaultPageLimit; a
// larger one than MaxPageLimit is capped. Cursor is opaque: an adapter
// returns domain.ErrInvalid for one it did not make.
type PageRequest struct {
	Limit  int
	Cursor string
}

// EffectiveLimit returns the limit to use for p.
func (p PageRequest) EffectiveLimit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	}
	return p.Limit
}

// EventType is the kind of change a watch event reports.
type EventType int

// Event types.
const (
	// EventPut reports a record created or changed.
	EventPut EventType = iota + 1
	// EventDelete reports a record removed (for a watch of assignments:
	// a run that left the worker).
	EventDelete
)

// String names the event type.
func (t EventType) String() string {
	switch t {
	case EventPut:
		return "put"
	case EventDelete:
		return "delete"
	}
	return "unknown"
}

// Fence is the fencing token of a leadership: the leader key and its
// create revision. A fenced write succeeds only while that key still exists
// with that revision, that is while the writer is still the leader of the
// same term. Tokens of later terms are larger.
type Fence struct {
	Key   string
	Token int64
}

// IsZero reports whether f is the zero Fence (which no write accepts).
func (f Fence) IsZero() bool { return f.Key == "" && f.Token == 0 }
