package domain

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// FireKind says why a fire exists.
type FireKind string

// Fire kinds.
const (
	// FireScheduled is a fire at a nominal time of the job's schedule,
	// fired on time (or late, within the misfire window).
	FireScheduled FireKind = "scheduled"
	// FireManual is a "trigger now" by a user or the API.
	FireManual FireKind = "manual"
)

// FireStatus is the outcome of a fire.
type FireStatus string

// Fire statuses.
const (
	// FireDispatched means the fire's runs were created.
	FireDispatched FireStatus = "dispatched"
	// FireSkipped means the fire did not run; Reason says why.
	FireSkipped FireStatus = "skipped"
)

// Skip reasons recorded on skipped fires.
const (
	SkipMisfire = "misfire" // older than the misfire window, or skip policy
	SkipOverlap = "overlap" // an earlier run was still active (forbid)
	SkipNoRuns  = "no_runs" // a broadcast found no eligible worker
	SkipPaused  = "paused"  // never used for scheduled fires; reserved
)

// SkipSummary folds many skipped nominal times into one record, so a long
// outage of a frequent job cannot flood the store.
type SkipSummary struct {
	Count int       `json:"count"`
	First time.Time `json:"first"`
	Last  time.Time `json:"last"`
	// Truncated means there were too many times to enumerate: the record
	// also stands for the uncounted nominal times after Last, up to the
	// misfire window of the catch-up that wrote it.
	Truncated bool `json:"truncated,omitempty"`
}

// Fire is the record that a job's nominal time was handled: there is at most
// one per (job, nominal time), ever, because its ID is derived from both and
// stores create it only if absent.
type Fire struct {
	ID      string     `json:"id"`
	JobID   string     `json:"job_id"`
	Group   string     `json:"group"`
	Nominal time.Time  `json:"nominal"`
	Kind    FireKind   `json:"kind"`
	Status  FireStatus `json:"status"`
	// Reason is one of the Skip* constants for skipped fires, with detail
	// after a colon, e.g. "misfire: 3m late, window 1m".
	Reason string `json:"reason,omitempty"`
	// Summary is set on a record that stands for several skipped nominal
	// times (Nominal is then Summary.First).
	Summary *SkipSummary `json:"summary,omitempty"`
	// RunIDs lists the runs the fire created.
	RunIDs []string `json:"run_ids,omitempty"`
	// Params overrides the job's params (manual triggers only).
	Params json.RawMessage `json:"params,omitempty"`
	// TriggeredBy names who triggered a manual fire.
	TriggeredBy string    `json:"triggered_by,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	// LeaderToken is the fencing token of the leader that wrote the record.
	LeaderToken int64 `json:"leader_token,omitempty"`
}

// idTimeLayout is fixed width and sorts lexically in time order.
const idTimeLayout = "20060102T150405.000Z"

// idSep separates the parts of fire and run IDs. It is not allowed in job
// IDs, so IDs parse unambiguously.
const idSep = "~"

// FireID returns the deterministic ID of the scheduled fire of job at
// nominal: "<UTC time, millisecond precision>~<job ID>", for example
// "20261126T164300.000Z~nightly-report". IDs sort by time, are unique per
// (job, nominal time) and are safe as an etcd key segment and in URLs.
func FireID(jobID string, nominal time.Time) string {
	return nominal.UTC().Format(idTimeLayout) + idSep + jobID
}

// ManualFireID returns the ID of a manual fire: like FireID with a nonce
// that makes two triggers in the same millisecond distinct. The nonce must
// be a valid name (see ValidateName).
func ManualFireID(jobID string, at time.Time, nonce string) string {
	return FireID(jobID, at) + idSep + "m" + nonce
}

// ParseFireID returns the job ID and nominal time encoded in a fire ID.
func ParseFireID(id string) (jobID string, nominal time.Time, err error) {
	parts := strings.Split(id, idSep)
	if len(parts) < 2 || len(parts) > 3 {
		return "", time.Time{}, invalid("fire_id", "%q is not a fire ID", id)
	}
	nominal, err = time.Parse(idTimeLayout, parts[0])
	if err != nil {
		return "", time.Time{}, invalid("fire_id", "%q is not a fire ID: bad time", id)
	}
	if err := ValidateName("fire_id", parts[1]); err != nil {
		return "", time.Time{}, err
	}
	if len(parts) == 3 {
		nonce, ok := strings.CutPrefix(parts[2], "m")
		if !ok || ValidateName("fire_id", nonce) != nil {
			return "", time.Time{}, invalid("fire_id", "%q is not a fire ID: bad manual suffix", id)
		}
	}
	return parts[1], nominal, nil
}

// RunID returns the ID of run number index (shard, or broadcast target) of a
// fire: "<fire ID>~<index>".
func RunID(fireID string, index int) string {
	return fireID + idSep + strconv.Itoa(index)
}
