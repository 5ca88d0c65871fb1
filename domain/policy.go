package domain

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Duration is a time.Duration that encodes to JSON as a Go duration string
// ("1m30s") and decodes from either a string or a number of nanoseconds.
type Duration time.Duration

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String formats d like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if string(b) == "null" { // encoding/json's convention: null is a no-op
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		// Fast path: a string without escapes is its own contents, and
		// the durations in use (the defaults) are looked up, not parsed.
		// Jobs carry four durations, and a leader decodes every job.
		inner, plain := plainJSONString(b)
		if plain {
			if v, ok := commonDurations[string(inner)]; ok {
				*d = v
				return nil
			}
			return d.parse(string(inner))
		}
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		return d.parse(s)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("invalid duration %s: want a string such as \"30s\"", b)
	}
	*d = Duration(n)
	return nil
}

// parse sets d from a Go duration string; "" is 0.
func (d *Duration) parse(s string) error {
	if s == "" {
		*d = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q: want a Go duration such as \"30s\" or \"1h30m\"", s)
	}
	*d = Duration(v)
	return nil
}

// plainJSONString returns the contents of the JSON string literal b if it
// has no escapes and only printable ASCII, which encoding/json would
// return unchanged; ok is false for anything else (escapes, other bytes,
// not a whole literal), which the caller hands to encoding/json.
func plainJSONString(b []byte) (inner []byte, ok bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, false
	}
	inner = b[1 : len(b)-1]
	for _, c := range inner {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return nil, false
		}
	}
	return inner, true
}

// commonDurations maps the strings MarshalJSON writes for the durations
// jobs usually carry (the defaults among them) to their values.
var commonDurations = func() map[string]Duration {
	m := map[string]Duration{}
	for _, d := range []time.Duration{0, time.Millisecond, 100 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2 * time.Second, 3 * time.Second, 5 * time.Second, 10 * time.Second,
		15 * time.Second, 20 * time.Second, 30 * time.Second, 45 * time.Second,
		time.Minute, 2 * time.Minute, 3 * time.Minute, 5 * time.Minute, 10 * time.Minute,
		15 * time.Minute, 20 * time.Minute, 30 * time.Minute, 45 * time.Minute,
		time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
		48 * time.Hour, 7 * 24 * time.Hour} {
		m[d.String()] = Duration(d)
	}
	for _, d := range []Duration{DefaultMisfireWindow, MaxMisfireWindow, DefaultBackoff, DefaultMaxBackoff,
		MaxBackoffBound, DefaultTimeout, MaxTimeout} {
		m[d.String()] = d
	}
	return m
}()

// MisfirePolicy says what to do with fires whose nominal time passed while
// no leader could fire them (a failover, an outage, a paused job that was
// resumed is NOT a misfire: pausing skips fires by design).
type MisfirePolicy string

// Misfire policies.
const (
	// MisfireSkip records every missed fire as skipped.
	MisfireSkip MisfirePolicy = "skip"
	// MisfireFireOnce runs the latest missed fire inside the window once and
	// records the others as skipped.
	MisfireFireOnce MisfirePolicy = "fire_once"
	// MisfireFireAll runs every missed fire inside the window (up to
	// MaxCatchUpFires), oldest first.
	MisfireFireAll MisfirePolicy = "fire_all"
)

// Misfire is a job's misfire policy and catch-up window. Fires older than
// Window at the time the leader notices them are recorded as skipped
// whatever the policy.
type Misfire struct {
	Policy MisfirePolicy `json:"policy"`
	Window Duration      `json:"window"`
}

// OverlapPolicy says what to do when a fire is due while an earlier run of
// the same job is still pending, assigned or running.
type OverlapPolicy string

// Overlap policies.
const (
	// OverlapAllow runs the new fire alongside the old one.
	OverlapAllow OverlapPolicy = "allow"
	// OverlapForbid records the new fire as skipped.
	OverlapForbid OverlapPolicy = "forbid"
	// OverlapReplace cancels the active runs and runs the new fire.
	OverlapReplace OverlapPolicy = "replace"
)

// Retry is a job's retry policy. An attempt that fails, times out or whose
// worker is lost is retried, on another worker where possible, until
// MaxAttempts attempts have been made. Cancelled runs are never retried.
type Retry struct {
	// MaxAttempts counts the first attempt: 1 means no retry.
	MaxAttempts int `json:"max_attempts"`
	// Backoff is the delay before the second attempt; it doubles for each
	// further attempt up to MaxBackoff, with up to 20% jitter.
	Backoff    Duration `json:"backoff"`
	MaxBackoff Duration `json:"max_backoff"`
}

// Delay returns the delay before attempt next (2 for the first retry).
// The jitter is derived from seed (the run ID), so the delay is
// deterministic for a given run and attempt and spread across runs.
func (r Retry) Delay(next int, seed string) time.Duration {
	if next < 2 || r.Backoff <= 0 {
		return 0
	}
	d := r.Backoff.Std()
	max := r.MaxBackoff.Std()
	if max <= 0 {
		max = d
	}
	for i := 2; i < next && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	// Jitter in [0, 20%) of d, deterministic in (seed, next).
	h := fnv64(seed) ^ uint64(next)*0x9e3779b97f4a7c15
	h ^= h >> 33
	jitter := time.Duration(h % uint64(d/5+1))
	return d + jitter
}

// RouteStrategy chooses the worker(s) of a job's group that receive a run.
type RouteStrategy string

// Routing strategies.
const (
	RouteRoundRobin RouteStrategy = "round_robin"
	RouteRandom     RouteStrategy = "random"
	RouteLeastBusy  RouteStrategy = "least_busy"
	// RouteHash sends runs with the same key (job ID and shard by default,
	// or Job.RouteKey) to the same worker while the worker set is stable,
	// and moves few keys when it changes (rendezvous hashing).
	RouteHash RouteStrategy = "hash"
	// RouteBroadcast runs one run on every eligible worker.
	RouteBroadcast RouteStrategy = "broadcast"
)

// Policy defaults and bounds. They are documented in
// docs/adr/0003-fire-and-run-model.md.
const (
	DefaultMisfirePolicy = MisfireFireAll
	DefaultMisfireWindow = Duration(time.Minute)
	MaxMisfireWindow     = Duration(7 * 24 * time.Hour)
	// MaxCatchUpFires bounds the fires one job gets on a takeover; missed
	// fires beyond it are recorded as one skipped summary.
	MaxCatchUpFires = 100
	// MaxSkipRecords bounds the individual skipped records one job gets on
	// a takeover; the rest are folded into one summary record.
	MaxSkipRecords = 100

	DefaultOverlap = OverlapForbid

	DefaultMaxAttempts = 3
	MaxMaxAttempts     = 20
	DefaultBackoff     = Duration(time.Second)
	DefaultMaxBackoff  = Duration(time.Minute)
	MaxBackoffBound    = Duration(24 * time.Hour)

	DefaultTimeout = Duration(time.Hour)
	MaxTimeout     = Duration(7 * 24 * time.Hour)

	DefaultRoute = RouteRoundRobin
	MaxShards    = 256
)

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
