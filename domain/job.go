package domain

import (
	"bytes"
	"encoding/json"
	"time"
)

// JobState is whether a job fires.
type JobState string

// Job states.
const (
	JobActive JobState = "active"
	JobPaused JobState = "paused"
)

// Job bounds.
const (
	MaxJobNameLen     = 128
	MaxHandlerLen     = 128
	DefaultMaxParams  = 64 << 10
	MaxRouteKeyLen    = 256
	MaxSelectorLabels = 16
)

// Job is a schedule plus what to run and how. Jobs are created, edited,
// paused, resumed and deleted by users; the scheduler reads them.
type Job struct {
	ID    string `json:"id"`
	Group string `json:"group"`
	Name  string `json:"name"`
	// Description is free text for operators.
	Description string `json:"description,omitempty"`
	// Schedule is a cron expression (5 fields minute-first, or 6 fields
	// seconds-first), a macro (@hourly, @daily, ...), "@every <duration>"
	// or "@at <RFC3339>"; see ParseSchedule.
	Schedule string `json:"schedule"`
	// Timezone is an IANA zone name; "" means UTC.
	Timezone string `json:"timezone,omitempty"`
	// Handler is the name workers look the job's code up by.
	Handler string `json:"handler"`
	// Params is passed to the handler as is (any JSON value).
	Params json.RawMessage `json:"params,omitempty"`
	State  JobState        `json:"state"`

	Route RouteStrategy `json:"route"`
	// RouteKey replaces the job ID as the key of the hash strategy.
	RouteKey string `json:"route_key,omitempty"`
	// Selector restricts the job to workers carrying all these labels.
	Selector map[string]string `json:"selector,omitempty"`
	// Shards is the number of runs per fire, each told its shard index.
	Shards  int           `json:"shards"`
	Overlap OverlapPolicy `json:"overlap"`
	Misfire Misfire       `json:"misfire"`
	Retry   Retry         `json:"retry"`
	// Timeout bounds one attempt; 0 after Normalize means DefaultTimeout.
	Timeout Duration          `json:"timeout"`
	Labels  map[string]string `json:"labels,omitempty"`

	// PlanFrom is the earliest nominal time the job may fire at: the job
	// service sets it when the job is created, resumed or its schedule or
	// time zone changes, so none of these count as misfires.
	PlanFrom time.Time `json:"plan_from"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Version is set by the store and increases on every change.
	Version int64 `json:"version"`
}

// Normalize fills every unset policy with its default and compacts Params.
// It does not validate; call Validate after.
func (j *Job) Normalize() {
	if j.State == "" {
		j.State = JobActive
	}
	if j.Route == "" {
		j.Route = DefaultRoute
	}
	if j.Shards == 0 {
		j.Shards = 1
	}
	if j.Overlap == "" {
		j.Overlap = DefaultOverlap
	}
	if j.Misfire.Policy == "" {
		j.Misfire.Policy = DefaultMisfirePolicy
	}
	if j.Misfire.Window == 0 {
		j.Misfire.Window = DefaultMisfireWindow
	}
	if j.Retry.MaxAttempts == 0 {
		j.Retry.MaxAttempts = DefaultMaxAttempts
	}
	if j.Retry.Backoff == 0 {
		j.Retry.Backoff = DefaultBackoff
	}
	if j.Retry.MaxBackoff == 0 {
		j.Retry.MaxBackoff = DefaultMaxBackoff
	}
	if j.Timeout == 0 {
		j.Timeout = DefaultTimeout
	}
	if len(j.Params) > 0 {
		var buf bytes.Buffer
		if json.Compact(&buf, j.Params) == nil {
			j.Params = buf.Bytes()
		}
	}
}

// Validate checks every field and returns a *ValidationError (or a
// *ScheduleError) naming the first bad one. maxParams bounds Params in
// bytes; 0 means DefaultMaxParams.
func (j *Job) Validate(maxParams int) error {
	if maxParams <= 0 {
		maxParams = DefaultMaxParams
	}
	if err := ValidateName("id", j.ID); err != nil {
		return err
	}
	if err := ValidateName("group", j.Group); err != nil {
		return err
	}
	if err := validateText("name", j.Name, MaxJobNameLen, true); err != nil {
		return err
	}
	if err := validateText("description", j.Description, MaxDescriptionLen, false); err != nil {
		return err
	}
	if _, err := ParseSchedule(j.Schedule, j.Timezone); err != nil {
		return err
	}
	if err := validateText("handler", j.Handler, MaxHandlerLen, true); err != nil {
		return err
	}
	if len(j.Params) > maxParams {
		return invalid("params", "must be at most %d bytes, got %d", maxParams, len(j.Params))
	}
	if len(j.Params) > 0 && !json.Valid(j.Params) {
		return invalid("params", "must be valid JSON")
	}
	switch j.State {
	case JobActive, JobPaused:
	default:
		return invalid("state", "must be %q or %q, got %q", JobActive, JobPaused, j.State)
	}
	switch j.Route {
	case RouteRoundRobin, RouteRandom, RouteLeastBusy, RouteHash, RouteBroadcast:
	default:
		return invalid("route", "must be one of round_robin, random, least_busy, hash, broadcast; got %q", j.Route)
	}
	if err := validateText("route_key", j.RouteKey, MaxRouteKeyLen, false); err != nil {
		return err
	}
	if len(j.Selector) > MaxSelectorLabels {
		return invalid("selector", "at most %d labels, got %d", MaxSelectorLabels, len(j.Selector))
	}
	if err := ValidateLabels("selector", j.Selector); err != nil {
		return err
	}
	if j.Shards < 1 || j.Shards > MaxShards {
		return invalid("shards", "must be between 1 and %d, got %d", MaxShards, j.Shards)
	}
	if j.Route == RouteBroadcast && j.Shards != 1 {
		return invalid("shards", "a broadcast job runs once per worker and cannot be sharded")
	}
	switch j.Overlap {
	case OverlapAllow, OverlapForbid, OverlapReplace:
	default:
		return invalid("overlap", "must be one of allow, forbid, replace; got %q", j.Overlap)
	}
	switch j.Misfire.Policy {
	case MisfireSkip, MisfireFireOnce, MisfireFireAll:
	default:
		return invalid("misfire.policy", "must be one of skip, fire_once, fire_all; got %q", j.Misfire.Policy)
	}
	if j.Misfire.Window < 0 || j.Misfire.Window > MaxMisfireWindow {
		return invalid("misfire.window", "must be between 0s and %s, got %s", MaxMisfireWindow, j.Misfire.Window)
	}
	if j.Retry.MaxAttempts < 1 || j.Retry.MaxAttempts > MaxMaxAttempts {
		return invalid("retry.max_attempts", "must be between 1 and %d, got %d", MaxMaxAttempts, j.Retry.MaxAttempts)
	}
	if j.Retry.Backoff < 0 || j.Retry.Backoff > MaxBackoffBound {
		return invalid("retry.backoff", "must be between 0s and %s, got %s", MaxBackoffBound, j.Retry.Backoff)
	}
	if j.Retry.MaxBackoff < j.Retry.Backoff || j.Retry.MaxBackoff > MaxBackoffBound {
		return invalid("retry.max_backoff", "must be between retry.backoff (%s) and %s, got %s", j.Retry.Backoff, MaxBackoffBound, j.Retry.MaxBackoff)
	}
	if j.Timeout < Duration(time.Second) || j.Timeout > MaxTimeout {
		return invalid("timeout", "must be between 1s and %s, got %s", MaxTimeout, j.Timeout)
	}
	return ValidateLabels("labels", j.Labels)
}

// Clone returns a deep copy of j.
func (j Job) Clone() Job {
	j.Params = append(json.RawMessage(nil), j.Params...)
	j.Selector = cloneMap(j.Selector)
	j.Labels = cloneMap(j.Labels)
	return j
}

// ScheduleKey is what the planner caches a parsed schedule by.
func (j *Job) ScheduleKey() string { return j.Schedule + "\x00" + j.Timezone }

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
