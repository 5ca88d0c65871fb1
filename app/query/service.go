package query

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Bounds of the scans behind Stats and Workers. They are defaults of
// Config; see the methods for what each bounds.
const (
	// DefaultStatsScan is how many runs one Stats call reads at most.
	DefaultStatsScan = 20_000
	// DefaultActiveScan is how many active runs one Workers call reads at
	// most before it falls back to one ListAssigned per listed worker.
	DefaultActiveScan = 10_000
)

// LeaderFinder names the current leader. ports.Elector satisfies it; a
// stateless API process can use any elector of the cluster (or none).
type LeaderFinder interface {
	// Leader returns the current leader, or domain.ErrNotFound when there
	// is none.
	Leader(ctx context.Context) (ports.LeaderInfo, error)
}

// Config wires a Service. Runs, Fires, Workers, Nodes and Clock are
// required; Leader is optional (without it no node is marked leader).
type Config struct {
	Runs    ports.RunStore
	Fires   ports.FireStore
	Workers ports.WorkerRegistry
	Nodes   ports.NodeRegistry
	Leader  LeaderFinder
	Clock   ports.Clock
	// StatsScan bounds the runs one Stats call reads; default
	// DefaultStatsScan.
	StatsScan int
	// ActiveScan bounds the active runs one Workers call reads; default
	// DefaultActiveScan.
	ActiveScan int
}

// Service answers the read-side questions of the API and the console. It
// is safe for concurrent use and holds no state besides its Config.
type Service struct {
	cfg Config
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Runs == nil || cfg.Fires == nil || cfg.Workers == nil || cfg.Nodes == nil || cfg.Clock == nil {
		return nil, errors.New("query: Runs, Fires, Workers, Nodes and Clock are required")
	}
	if cfg.StatsScan <= 0 {
		cfg.StatsScan = DefaultStatsScan
	}
	if cfg.ActiveScan <= 0 {
		cfg.ActiveScan = DefaultActiveScan
	}
	return &Service{cfg: cfg}, nil
}

// Listings of this package name their cursors.
const (
	cursorWorkers = "workers"
	cursorNodes   = "nodes"
	cursorPending = "pending"
)

// encodeCursor makes the opaque cursor resuming listing list after key.
func encodeCursor(list, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(list + "\x00" + key))
}

// decodeCursor returns the key a cursor of list resumes after ("" for no
// cursor), or a *domain.ValidationError for field "cursor".
func decodeCursor(list, cursor string) (string, error) {
	if cursor == "" {
		return "", nil
	}
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

// pageAfter returns the page of items (sorted by increasing key) after the
// cursor's key.
func pageAfter[T any](list string, items []T, key func(T) string, p ports.PageRequest) (ports.Page[T], error) {
	after, err := decodeCursor(list, p.Cursor)
	if err != nil {
		return ports.Page[T]{}, err
	}
	start := 0
	if after != "" {
		for start < len(items) && key(items[start]) <= after {
			start++
		}
	}
	end := min(start+p.EffectiveLimit(), len(items))
	page := ports.Page[T]{Items: append([]T{}, items[start:end]...)}
	if end < len(items) {
		page.NextCursor = encodeCursor(list, key(items[end-1]))
	}
	return page, nil
}

// validName checks an optional identifier filter.
func validName(field, v string) error {
	if v == "" {
		return nil
	}
	return domain.ValidateName(field, v)
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", op, err)
}
