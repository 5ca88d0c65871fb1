package workerapi

import (
	"encoding/json"
	"time"

	"github.com/pink-scheduler/pink/app/gateway"
	"github.com/pink-scheduler/pink/domain"
)

// The JSON of the protocol. Durations are numbers of seconds, named
// *_seconds, so that any language reads them without a parser for Go
// durations; times are RFC 3339 strings in UTC.

// registerRequest opens a session. Group defaults to the token's; ID to a
// generated one; Capacity to domain.DefaultCapacity; TTLSeconds to
// gateway.DefaultTTL.
type registerRequest struct {
	Group      string            `json:"group"`
	ID         string            `json:"id"`
	Hostname   string            `json:"hostname"`
	Labels     map[string]string `json:"labels"`
	Handlers   []string          `json:"handlers"`
	Capacity   int               `json:"capacity"`
	TTLSeconds int               `json:"ttl_seconds"`
	Version    string            `json:"version"`
}

type registerResponse struct {
	WorkerID         string  `json:"worker_id"`
	Group            string  `json:"group"`
	TTLSeconds       int     `json:"ttl_seconds"`
	HeartbeatSeconds float64 `json:"heartbeat_seconds"`
	MaxWaitSeconds   int     `json:"max_wait_seconds"`
}

// cancelledJSON is an attempt the worker must stop.
type cancelledJSON struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
	Reason  string `json:"reason"`
}

type heartbeatResponse struct {
	Cancelled []cancelledJSON `json:"cancelled"`
}

// runJSON is a run as a worker sees it.
type runJSON struct {
	ID          string          `json:"id"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	JobID       string          `json:"job_id"`
	FireID      string          `json:"fire_id"`
	Group       string          `json:"group"`
	Handler     string          `json:"handler"`
	Params      json.RawMessage `json:"params"`
	Shard       int             `json:"shard"`
	Shards      int             `json:"shards"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	// TimeoutSeconds is the attempt's timeout from its start; 0 for none.
	TimeoutSeconds float64 `json:"timeout_seconds"`
	Manual         bool    `json:"manual"`
}

type pollResponse struct {
	Runs      []runJSON       `json:"runs"`
	Cancelled []cancelledJSON `json:"cancelled"`
}

type startRequest struct {
	Attempt int `json:"attempt"`
}

type startResponse struct {
	ID        string    `json:"id"`
	Attempt   int       `json:"attempt"`
	State     string    `json:"state"`
	StartedAt time.Time `json:"started_at"`
	// Deadline is StartedAt plus the timeout; absent without a timeout.
	Deadline time.Time `json:"deadline,omitzero"`
}

type outputRequest struct {
	Attempt int    `json:"attempt"`
	Chunk   string `json:"chunk"`
}

type resultRequest struct {
	Attempt   int    `json:"attempt"`
	State     string `json:"state"`
	Error     string `json:"error"`
	Output    string `json:"output"`
	Permanent bool   `json:"permanent"`
}

type resultResponse struct {
	ID      string `json:"id"`
	Attempt int    `json:"attempt"`
	// RunState is the run's state after the report: final, or pending
	// when the failed attempt is retried.
	RunState string `json:"run_state"`
	// Duplicate is set when this result was already recorded.
	Duplicate bool `json:"duplicate"`
}

func runOf(r *domain.Run) runJSON {
	params := r.Params
	if len(params) == 0 {
		params = json.RawMessage("null")
	}
	return runJSON{
		ID: r.ID, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts, JobID: r.JobID, FireID: r.FireID,
		Group: r.Group, Handler: r.Handler, Params: params, Shard: r.Shard, Shards: r.Shards,
		ScheduledAt: r.ScheduledAt.UTC(), TimeoutSeconds: r.Timeout.Std().Seconds(), Manual: r.Manual,
	}
}

func cancelledOf(cs []gateway.Cancelled) []cancelledJSON {
	out := make([]cancelledJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, cancelledJSON{ID: c.RunID, Attempt: c.Attempt, Reason: c.Reason})
	}
	return out
}
