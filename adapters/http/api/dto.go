package api

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// The request and response bodies of the API. They are mapped to and from
// the domain types explicitly, field by field: the API is a contract that
// must not change when a domain struct grows a field.

// list is the shape of every listing.
type list[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	return list[T]{Items: items, NextCursor: next}
}

// mapItems converts a slice.
func mapItems[A, B any](in []A, fn func(A) B) []B {
	out := make([]B, len(in))
	for i, x := range in {
		out[i] = fn(x)
	}
	return out
}

// readOnly accepts the output-only fields of a resource in a request body
// (so that what GET returns can be PUT back) and ignores them.
type readOnly struct {
	CreatedAt json.RawMessage `json:"created_at,omitempty"`
	UpdatedAt json.RawMessage `json:"updated_at,omitempty"`
}

// optTime is a time that is null when zero.
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// rawParams returns params for a response: null when empty.
func rawParams(p json.RawMessage) json.RawMessage {
	if len(p) == 0 {
		return nil
	}
	return p
}

// inParams returns params from a request: empty for absent or null.
func inParams(p json.RawMessage) json.RawMessage {
	if t := bytes.TrimSpace(p); len(t) == 0 || string(t) == "null" {
		return nil
	}
	return p
}

// Groups.

type groupInput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	Version     int64  `json:"version,omitempty"`
	readOnly
}

type groupOut struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Version     int64     `json:"version"`
}

func toGroupOut(g domain.Group) groupOut {
	return groupOut{Name: g.Name, Description: g.Description, CreatedAt: g.CreatedAt.UTC(), UpdatedAt: g.UpdatedAt.UTC(), Version: g.Version}
}

// Jobs.

type misfireDTO struct {
	Policy string `json:"policy"`
	Window string `json:"window"`
}

type retryDTO struct {
	MaxAttempts int    `json:"max_attempts"`
	Backoff     string `json:"backoff"`
	MaxBackoff  string `json:"max_backoff"`
}

// jobInput is the body of POST /jobs and PUT /jobs/{id}. Absent fields
// take their defaults (PUT replaces the whole definition).
type jobInput struct {
	ID          string            `json:"id"`
	Group       string            `json:"group"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Schedule    string            `json:"schedule"`
	Timezone    string            `json:"timezone"`
	Handler     string            `json:"handler"`
	Params      json.RawMessage   `json:"params"`
	Paused      bool              `json:"paused"`
	Misfire     misfireDTO        `json:"misfire"`
	Overlap     string            `json:"overlap"`
	Retry       retryDTO          `json:"retry"`
	Timeout     string            `json:"timeout"`
	Route       string            `json:"route"`
	RouteKey    string            `json:"route_key"`
	Selector    map[string]string `json:"selector"`
	Shards      int               `json:"shards"`
	Labels      map[string]string `json:"labels"`
	// Version, if not 0, must be the job's current version (PUT): a
	// concurrent edit gets 409 instead of being overwritten.
	Version int64 `json:"version"`
	readOnly
}

// parseDuration reads a Go duration string; "" is 0 (the default).
func parseDuration(field, s string) (domain.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, &domain.ValidationError{Field: field, Reason: "must be a duration such as \"30s\" or \"1h30m\""}
	}
	return domain.Duration(d), nil
}

// toJob maps the input to a job; validation is the service's.
func (in *jobInput) toJob() (domain.Job, error) {
	j := domain.Job{
		ID: in.ID, Group: in.Group, Name: in.Name, Description: in.Description,
		Schedule: in.Schedule, Timezone: in.Timezone, Handler: in.Handler, Params: inParams(in.Params),
		State: domain.JobActive, Overlap: domain.OverlapPolicy(in.Overlap),
		Misfire: domain.Misfire{Policy: domain.MisfirePolicy(in.Misfire.Policy)},
		Retry:   domain.Retry{MaxAttempts: in.Retry.MaxAttempts},
		Route:   domain.RouteStrategy(in.Route), RouteKey: in.RouteKey, Selector: in.Selector,
		Shards: in.Shards, Labels: in.Labels,
	}
	if in.Paused {
		j.State = domain.JobPaused
	}
	var err error
	for _, d := range []struct {
		field, v string
		dst      *domain.Duration
	}{
		{"misfire.window", in.Misfire.Window, &j.Misfire.Window},
		{"retry.backoff", in.Retry.Backoff, &j.Retry.Backoff},
		{"retry.max_backoff", in.Retry.MaxBackoff, &j.Retry.MaxBackoff},
		{"timeout", in.Timeout, &j.Timeout},
	} {
		if *d.dst, err = parseDuration(d.field, d.v); err != nil {
			return j, err
		}
	}
	return j, nil
}

type jobOut struct {
	ID          string            `json:"id"`
	Group       string            `json:"group"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Schedule    string            `json:"schedule"`
	Timezone    string            `json:"timezone"`
	Handler     string            `json:"handler"`
	Params      json.RawMessage   `json:"params"`
	Paused      bool              `json:"paused"`
	Misfire     misfireDTO        `json:"misfire"`
	Overlap     string            `json:"overlap"`
	Retry       retryDTO          `json:"retry"`
	Timeout     string            `json:"timeout"`
	Route       string            `json:"route"`
	RouteKey    string            `json:"route_key"`
	Selector    map[string]string `json:"selector"`
	Shards      int               `json:"shards"`
	Labels      map[string]string `json:"labels"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Version     int64             `json:"version"`
}

func toJobOut(j domain.Job) jobOut {
	return jobOut{
		ID: j.ID, Group: j.Group, Name: j.Name, Description: j.Description, Schedule: j.Schedule,
		Timezone: j.Timezone, Handler: j.Handler, Params: rawParams(j.Params), Paused: j.State == domain.JobPaused,
		Misfire: misfireDTO{Policy: string(j.Misfire.Policy), Window: j.Misfire.Window.String()},
		Overlap: string(j.Overlap),
		Retry: retryDTO{MaxAttempts: j.Retry.MaxAttempts, Backoff: j.Retry.Backoff.String(),
			MaxBackoff: j.Retry.MaxBackoff.String()},
		Timeout: j.Timeout.String(), Route: string(j.Route), RouteKey: j.RouteKey,
		Selector: nonNilMap(j.Selector), Shards: j.Shards, Labels: nonNilMap(j.Labels),
		CreatedAt: j.CreatedAt.UTC(), UpdatedAt: j.UpdatedAt.UTC(), Version: j.Version,
	}
}

type triggerInput struct {
	Params json.RawMessage `json:"params"`
}

type planOut struct {
	Next     []string `json:"next"`
	Timezone string   `json:"timezone"`
}

func toPlan(times []time.Time, tz string) planOut {
	out := planOut{Next: make([]string, len(times)), Timezone: tz}
	if out.Timezone == "" {
		out.Timezone = "UTC"
	}
	for i, t := range times {
		out.Next[i] = t.Format(time.RFC3339Nano)
	}
	return out
}

// Runs and fires.

// listOutputMax is how much output a run has in a listing: its tail.
const listOutputMax = 4 << 10

type attemptOut struct {
	Attempt    int        `json:"attempt"`
	WorkerID   string     `json:"worker_id"`
	State      string     `json:"state"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Error      string     `json:"error"`
}

type runOut struct {
	ID              string          `json:"id"`
	FireID          string          `json:"fire_id"`
	JobID           string          `json:"job_id"`
	Group           string          `json:"group"`
	Handler         string          `json:"handler"`
	State           string          `json:"state"`
	WorkerID        string          `json:"worker_id"`
	Attempt         int             `json:"attempt"`
	MaxAttempts     int             `json:"max_attempts"`
	Shard           int             `json:"shard"`
	Shards          int             `json:"shards"`
	Manual          bool            `json:"manual"`
	Params          json.RawMessage `json:"params"`
	Timeout         string          `json:"timeout"`
	ScheduledAt     time.Time       `json:"scheduled_at"`
	CreatedAt       time.Time       `json:"created_at"`
	NotBefore       *time.Time      `json:"not_before"`
	AssignedAt      *time.Time      `json:"assigned_at"`
	StartedAt       *time.Time      `json:"started_at"`
	FinishedAt      *time.Time      `json:"finished_at"`
	Output          string          `json:"output"`
	OutputTruncated bool            `json:"output_truncated"`
	Error           string          `json:"error"`
	Attempts        []attemptOut    `json:"attempts"`
	Version         int64           `json:"version"`
}

// toRunOut maps a run; maxOutput > 0 keeps only the output's tail.
func toRunOut(r domain.Run, maxOutput int) runOut {
	out := runOut{
		ID: r.ID, FireID: r.FireID, JobID: r.JobID, Group: r.Group, Handler: r.Handler,
		State: string(r.State), WorkerID: r.WorkerID, Attempt: r.Attempt, MaxAttempts: r.MaxAttempts,
		Shard: r.Shard, Shards: r.Shards, Manual: r.Manual, Params: rawParams(r.Params),
		Timeout: r.Timeout.String(), ScheduledAt: r.ScheduledAt.UTC(), CreatedAt: r.CreatedAt.UTC(),
		NotBefore: optTime(r.NotBefore), AssignedAt: optTime(r.AssignedAt), StartedAt: optTime(r.StartedAt),
		FinishedAt: optTime(r.FinishedAt), Output: r.Output, Error: r.Error, Version: r.Version,
		Attempts: mapItems(r.Attempts, func(a domain.Attempt) attemptOut {
			return attemptOut{Attempt: a.Attempt, WorkerID: a.WorkerID, State: string(a.State),
				StartedAt: optTime(a.StartedAt), FinishedAt: optTime(a.FinishedAt), Error: a.Error}
		}),
	}
	if maxOutput > 0 && len(out.Output) > maxOutput {
		out.Output, out.OutputTruncated = domain.TailString(out.Output, maxOutput), true
	}
	return out
}

func listRunOut(r domain.Run) runOut { return toRunOut(r, listOutputMax) }

type summaryOut struct {
	Count     int       `json:"count"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Truncated bool      `json:"truncated"`
}

type fireOut struct {
	ID          string          `json:"id"`
	JobID       string          `json:"job_id"`
	Group       string          `json:"group"`
	Nominal     time.Time       `json:"nominal"`
	Kind        string          `json:"kind"`
	Status      string          `json:"status"`
	Reason      string          `json:"reason"`
	Summary     *summaryOut     `json:"summary"`
	RunIDs      []string        `json:"run_ids"`
	Params      json.RawMessage `json:"params"`
	TriggeredBy string          `json:"triggered_by"`
	CreatedAt   time.Time       `json:"created_at"`
	// PendingRunIDs is set in the listing of pending fires.
	PendingRunIDs []string `json:"pending_run_ids,omitempty"`
}

func toFireOut(f domain.Fire) fireOut {
	out := fireOut{ID: f.ID, JobID: f.JobID, Group: f.Group, Nominal: f.Nominal.UTC(), Kind: string(f.Kind),
		Status: string(f.Status), Reason: f.Reason, RunIDs: append([]string{}, f.RunIDs...),
		Params: rawParams(f.Params), TriggeredBy: f.TriggeredBy, CreatedAt: f.CreatedAt.UTC()}
	if s := f.Summary; s != nil {
		out.Summary = &summaryOut{Count: s.Count, First: s.First.UTC(), Last: s.Last.UTC(), Truncated: s.Truncated}
	}
	return out
}

type fireCancelledOut struct {
	ID        string   `json:"id"`
	Cancelled []string `json:"cancelled_run_ids"`
}

// Cluster.

type workerOut struct {
	ID        string            `json:"id"`
	Group     string            `json:"group"`
	Hostname  string            `json:"hostname"`
	Address   string            `json:"address"`
	Labels    map[string]string `json:"labels"`
	Handlers  []string          `json:"handlers"`
	Capacity  int               `json:"capacity"`
	StartedAt time.Time         `json:"started_at"`
	Protocol  string            `json:"protocol"`
	Version   string            `json:"version"`
	Running   []runOut          `json:"running"`
}

type nodeOut struct {
	ID        string    `json:"id"`
	Address   string    `json:"address"`
	Hostname  string    `json:"hostname"`
	StartedAt time.Time `json:"started_at"`
	Version   string    `json:"version"`
	Leader    bool      `json:"leader"`
}

type nodeList struct {
	list[nodeOut]
	LeaderID string `json:"leader_id"`
}

type bucketOut struct {
	Start  string         `json:"start"`
	End    string         `json:"end"`
	Counts map[string]int `json:"counts"`
	Total  int            `json:"total"`
}

type statsOut struct {
	GeneratedAt  string      `json:"generated_at"`
	Timezone     string      `json:"timezone"`
	Hourly       []bucketOut `json:"hourly"`
	Daily        []bucketOut `json:"daily"`
	Scanned      int         `json:"scanned"`
	Truncated    bool        `json:"truncated"`
	CompleteFrom string      `json:"complete_from"`
}

// Authentication, users, tokens, audit.

type loginInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type changePasswordInput struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

type meOut struct {
	User string `json:"user"`
	Role string `json:"role"`
	// Via is how the request was authenticated: session, bearer or dev.
	Via       string     `json:"via"`
	TokenID   string     `json:"token_id,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

type userInput struct {
	Name     string `json:"name"`
	Role     string `json:"role"`
	Password string `json:"password"`
}

type roleInput struct {
	Role string `json:"role"`
}

type passwordInput struct {
	Password string `json:"password"`
}

type userOut struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserOut(u domain.User) userOut {
	return userOut{Name: u.Name, Role: string(u.Role), Disabled: u.Disabled, CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC()}
}

type tokenInput struct {
	Name string `json:"name"`
	// TTL is a duration ("720h"); "" never expires.
	TTL string `json:"ttl"`
	// Owner defaults to the caller; another user needs the admin role.
	Owner string `json:"owner"`
}

type workerTokenInput struct {
	Group string `json:"group"`
	Name  string `json:"name"`
}

type tokenOut struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Owner      string     `json:"owner"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func toTokenOut(t domain.Token) tokenOut {
	return tokenOut{ID: t.ID, Kind: string(t.Kind), Owner: t.Owner, Name: t.Name, CreatedAt: t.CreatedAt.UTC(),
		ExpiresAt: optTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt)}
}

type tokenCreatedOut struct {
	tokenOut
	// Secret is shown in this answer only; Pink keeps its hash.
	Secret string `json:"secret"`
}

type auditOut struct {
	ID      string    `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	TokenID string    `json:"token_id"`
	Action  string    `json:"action"`
	Target  string    `json:"target"`
	Detail  string    `json:"detail"`
	Result  string    `json:"result"`
}

func toAuditOut(e domain.AuditEntry) auditOut {
	return auditOut{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, TokenID: e.TokenID, Action: e.Action,
		Target: e.Target, Detail: e.Detail, Result: string(e.Result)}
}
