package domain

import (
	"slices"
	"time"
)

// Worker bounds.
const (
	MaxHandlers     = 256
	MaxCapacity     = 10000
	DefaultCapacity = 16
	MaxAddressLen   = 256
)

// Worker is a process that executes runs for one group. Its ID is generated
// when it starts, so two workers on one host are two workers.
type Worker struct {
	ID       string            `json:"id"`
	Group    string            `json:"group"`
	Hostname string            `json:"hostname,omitempty"`
	Address  string            `json:"address,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	// Handlers lists the handler names the worker can run; routing skips a
	// worker that lacks a run's handler. Empty means "any" (the worker
	// decides, and fails runs it cannot execute).
	Handlers []string `json:"handlers,omitempty"`
	// Capacity is the most runs the worker executes at once.
	Capacity  int       `json:"capacity"`
	StartedAt time.Time `json:"started_at"`
	// Protocol is "etcd" for SDK workers and "http" for HTTP API workers.
	Protocol string `json:"protocol,omitempty"`
	Version  string `json:"version,omitempty"`
}

// Validate checks the worker's fields.
func (w *Worker) Validate() error {
	if err := ValidateName("id", w.ID); err != nil {
		return err
	}
	if err := ValidateName("group", w.Group); err != nil {
		return err
	}
	if err := validateText("hostname", w.Hostname, MaxAddressLen, false); err != nil {
		return err
	}
	if err := validateText("address", w.Address, MaxAddressLen, false); err != nil {
		return err
	}
	if err := ValidateLabels("labels", w.Labels); err != nil {
		return err
	}
	if len(w.Handlers) > MaxHandlers {
		return invalid("handlers", "at most %d handlers, got %d", MaxHandlers, len(w.Handlers))
	}
	for _, h := range w.Handlers {
		if err := validateText("handlers", h, MaxHandlerLen, true); err != nil {
			return err
		}
	}
	if w.Capacity < 1 || w.Capacity > MaxCapacity {
		return invalid("capacity", "must be between 1 and %d, got %d", MaxCapacity, w.Capacity)
	}
	return nil
}

// CanRun reports whether the worker has the handler and carries every label
// of the selector.
func (w *Worker) CanRun(handler string, selector map[string]string) bool {
	if len(w.Handlers) > 0 && !slices.Contains(w.Handlers, handler) {
		return false
	}
	for k, v := range selector {
		if got, ok := w.Labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// Node is a scheduler process (pink-node). At most one node is the leader.
type Node struct {
	ID        string    `json:"id"`
	Address   string    `json:"address,omitempty"` // its HTTP address
	Hostname  string    `json:"hostname,omitempty"`
	StartedAt time.Time `json:"started_at"`
	Version   string    `json:"version,omitempty"`
}

// Validate checks the node's fields.
func (n *Node) Validate() error {
	if err := ValidateName("id", n.ID); err != nil {
		return err
	}
	if err := validateText("address", n.Address, MaxAddressLen, false); err != nil {
		return err
	}
	return validateText("hostname", n.Hostname, MaxAddressLen, false)
}
