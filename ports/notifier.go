package ports

import (
	"context"
	"time"
)

// Alert is something an operator should hear about.
type Alert struct {
	Kind    string // "run_failed", "run_lost", "run_timed_out", "fires_skipped", "leader_changed"
	JobID   string
	RunID   string
	Group   string
	Message string
	At      time.Time
}

// Notifier delivers alerts. Notify must not block for long: an
// implementation that calls out should queue and return.
type Notifier interface {
	Notify(ctx context.Context, a Alert) error
}
