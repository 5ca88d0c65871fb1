package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/pink-scheduler/pink/ports"
)

// Notifier records alerts (ports.Notifier) so tests can read them.
type Notifier struct {
	mu      sync.Mutex
	alerts  []ports.Alert
	changed chan struct{}
}

var _ ports.Notifier = (*Notifier)(nil)

// NewNotifier returns an empty Notifier.
func NewNotifier() *Notifier { return &Notifier{changed: make(chan struct{})} }

// Notify records a. It never blocks and never fails.
func (n *Notifier) Notify(_ context.Context, a ports.Alert) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.alerts = append(n.alerts, a)
	close(n.changed)
	n.changed = make(chan struct{})
	return nil
}

// Alerts returns a copy of the alerts recorded so far, oldest first.
func (n *Notifier) Alerts() []ports.Alert {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.alerts)
}

// Changed returns a channel that is closed at the next Notify; tests wait
// on it instead of sleeping.
func (n *Notifier) Changed() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.changed
}
