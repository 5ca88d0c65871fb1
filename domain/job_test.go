package domain_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // zone names in the tests must not depend on the host

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

// validJob returns a normalized job that passes Validate.
func validJob() domain.Job {
	j := domain.Job{
		ID:       "nightly-report",
		Group:    "reports",
		Name:     "Nightly report",
		Schedule: "0 2 * * *",
		Timezone: "Europe/Berlin",
		Handler:  "report.nightly",
		Params:   json.RawMessage(`{"format":"pdf"}`),
		Selector: map[string]string{"zone": "a"},
		Labels:   map[string]string{"team/owner": "data"},
	}
	j.Normalize()
	return j
}

func TestJobNormalizeFillsDefaults(t *testing.T) {
	var j domain.Job
	j.Normalize()

	assert.Equal(t, domain.JobActive, j.State)
	assert.Equal(t, domain.DefaultRoute, j.Route)
	assert.Equal(t, 1, j.Shards)
	assert.Equal(t, domain.DefaultOverlap, j.Overlap)
	assert.Equal(t, domain.DefaultMisfirePolicy, j.Misfire.Policy)
	assert.Equal(t, domain.DefaultMisfireWindow, j.Misfire.Window)
	assert.Equal(t, domain.DefaultMaxAttempts, j.Retry.MaxAttempts)
	assert.Equal(t, domain.DefaultBackoff, j.Retry.Backoff)
	assert.Equal(t, domain.DefaultMaxBackoff, j.Retry.MaxBackoff)
	assert.Equal(t, domain.DefaultTimeout, j.Timeout)
	assert.Empty(t, j.Params)

	// The documented defaults, so a change to a constant is a visible
	// decision rather than an accident.
	assert.Equal(t, domain.RouteRoundRobin, domain.DefaultRoute)
	assert.Equal(t, domain.OverlapForbid, domain.DefaultOverlap)
	assert.Equal(t, domain.MisfireFireAll, domain.DefaultMisfirePolicy)
	assert.Equal(t, time.Minute, domain.DefaultMisfireWindow.Std())
	assert.Equal(t, 3, domain.DefaultMaxAttempts)
	assert.Equal(t, time.Second, domain.DefaultBackoff.Std())
	assert.Equal(t, time.Minute, domain.DefaultMaxBackoff.Std())
	assert.Equal(t, time.Hour, domain.DefaultTimeout.Std())
}

func TestJobNormalizeKeepsSetValues(t *testing.T) {
	j := domain.Job{
		State:   domain.JobPaused,
		Route:   domain.RouteHash,
		Shards:  4,
		Overlap: domain.OverlapAllow,
		Misfire: domain.Misfire{Policy: domain.MisfireSkip, Window: domain.Duration(time.Hour)},
		Retry: domain.Retry{MaxAttempts: 7, Backoff: domain.Duration(5 * time.Second),
			MaxBackoff: domain.Duration(10 * time.Minute)},
		Timeout: domain.Duration(30 * time.Second),
	}
	want := j
	j.Normalize()
	assert.Equal(t, want, j)

	// Normalize is idempotent.
	j2 := validJob()
	before := j2.Clone()
	j2.Normalize()
	assert.Equal(t, before, j2)
}

func TestJobNormalizeCompactsParams(t *testing.T) {
	tests := []struct{ in, want string }{
		{"{ \"a\" : 1,\n  \"b\": [1, 2, {\"c\" : null}] }\n", `{"a":1,"b":[1,2,{"c":null}]}`},
		{` "text with  spaces" `, `"text with  spaces"`},
		{" 42 ", "42"},
		{`{"a":1}`, `{"a":1}`},
		// Invalid JSON is left alone for Validate to reject.
		{`{"a": `, `{"a": `},
	}
	for _, tt := range tests {
		j := domain.Job{Params: json.RawMessage(tt.in)}
		j.Normalize()
		assert.Equal(t, tt.want, string(j.Params), "params %q", tt.in)
	}
}

func TestJobValidateAcceptsValidJob(t *testing.T) {
	j := validJob()
	require.NoError(t, j.Validate(0))

	// Edges that are allowed.
	edges := []func(*domain.Job){
		func(j *domain.Job) { j.Timezone = "" },
		func(j *domain.Job) { j.Schedule = "*/5 * * * * *" },
		func(j *domain.Job) { j.Schedule = "@every 1s" },
		func(j *domain.Job) { j.Name = strings.Repeat("n", domain.MaxJobNameLen) },
		func(j *domain.Job) { j.Name = "multi\tline\nname ✓" },
		func(j *domain.Job) { j.Description = strings.Repeat("d", domain.MaxDescriptionLen) },
		func(j *domain.Job) { j.Handler = strings.Repeat("h", domain.MaxHandlerLen) },
		func(j *domain.Job) { j.Params = nil },
		func(j *domain.Job) {
			j.Params = json.RawMessage(`"` + strings.Repeat("x", domain.DefaultMaxParams-2) + `"`)
		},
		func(j *domain.Job) { j.State = domain.JobPaused },
		func(j *domain.Job) { j.Route = domain.RouteBroadcast },
		func(j *domain.Job) {
			j.Route = domain.RouteHash
			j.RouteKey = strings.Repeat("k", domain.MaxRouteKeyLen)
		},
		func(j *domain.Job) { j.Shards = domain.MaxShards },
		func(j *domain.Job) { j.Overlap = domain.OverlapReplace },
		func(j *domain.Job) { j.Misfire.Policy = domain.MisfireFireOnce },
		func(j *domain.Job) { j.Misfire.Window = 0 },
		func(j *domain.Job) { j.Misfire.Window = domain.MaxMisfireWindow },
		func(j *domain.Job) { j.Retry.MaxAttempts = 1 },
		func(j *domain.Job) { j.Retry.MaxAttempts = domain.MaxMaxAttempts },
		func(j *domain.Job) { j.Retry.Backoff, j.Retry.MaxBackoff = 0, 0 },
		func(j *domain.Job) { j.Retry.Backoff = j.Retry.MaxBackoff },
		func(j *domain.Job) { j.Retry.MaxBackoff = domain.MaxBackoffBound },
		func(j *domain.Job) { j.Timeout = domain.Duration(time.Second) },
		func(j *domain.Job) { j.Timeout = domain.MaxTimeout },
		func(j *domain.Job) { j.Selector = nil; j.Labels = nil },
	}
	for i, mutate := range edges {
		j := validJob()
		mutate(&j)
		assert.NoError(t, j.Validate(0), "edge %d", i)
	}
}

func TestJobValidateNamesBadField(t *testing.T) {
	many := func(n int) map[string]string {
		m := make(map[string]string, n)
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name   string
		field  string
		mutate func(*domain.Job)
	}{
		{"id empty", "id", func(j *domain.Job) { j.ID = "" }},
		{"id upper case", "id", func(j *domain.Job) { j.ID = "Nightly" }},
		{"id with tilde", "id", func(j *domain.Job) { j.ID = "a~b" }},
		{"id with slash", "id", func(j *domain.Job) { j.ID = "a/b" }},
		{"group empty", "group", func(j *domain.Job) { j.Group = "" }},
		{"group with slash", "group", func(j *domain.Job) { j.Group = "a/b" }},
		{"name empty", "name", func(j *domain.Job) { j.Name = "" }},
		{"name with NUL", "name", func(j *domain.Job) { j.Name = "a\x00b" }},
		{"name with escape", "name", func(j *domain.Job) { j.Name = "\x1b[2Jreport" }},
		{"name with carriage return", "name", func(j *domain.Job) { j.Name = "a\rb" }},
		{"name too long", "name", func(j *domain.Job) { j.Name = strings.Repeat("n", domain.MaxJobNameLen+1) }},
		{"name invalid UTF-8", "name", func(j *domain.Job) { j.Name = "bad \xc3\x28" }},
		{"description too long", "description", func(j *domain.Job) {
			j.Description = strings.Repeat("d", domain.MaxDescriptionLen+1)
		}},
		{"schedule empty", "schedule", func(j *domain.Job) { j.Schedule = "" }},
		{"schedule bad", "schedule", func(j *domain.Job) { j.Schedule = "61 * * * *" }},
		{"schedule never fires", "schedule", func(j *domain.Job) { j.Schedule = "0 0 30 2 *" }},
		{"timezone unknown", "timezone", func(j *domain.Job) { j.Timezone = "Mars/Olympus_Mons" }},
		{"timezone Local", "timezone", func(j *domain.Job) { j.Timezone = "Local" }},
		{"handler empty", "handler", func(j *domain.Job) { j.Handler = "" }},
		{"handler too long", "handler", func(j *domain.Job) { j.Handler = strings.Repeat("h", domain.MaxHandlerLen+1) }},
		{"handler with control", "handler", func(j *domain.Job) { j.Handler = "h\x07" }},
		{"params too big", "params", func(j *domain.Job) {
			j.Params = json.RawMessage(`"` + strings.Repeat("x", domain.DefaultMaxParams-1) + `"`)
		}},
		{"params invalid JSON", "params", func(j *domain.Job) { j.Params = json.RawMessage(`{"a":`) }},
		{"params two values", "params", func(j *domain.Job) { j.Params = json.RawMessage(`1 2`) }},
		{"state unknown", "state", func(j *domain.Job) { j.State = "running" }},
		{"state empty", "state", func(j *domain.Job) { j.State = "" }},
		{"route unknown", "route", func(j *domain.Job) { j.Route = "sticky" }},
		{"route_key too long", "route_key", func(j *domain.Job) { j.RouteKey = strings.Repeat("k", domain.MaxRouteKeyLen+1) }},
		{"route_key with control", "route_key", func(j *domain.Job) { j.RouteKey = "k\x00" }},
		{"selector too many", "selector", func(j *domain.Job) { j.Selector = many(domain.MaxSelectorLabels + 1) }},
		{"selector bad key", "selector", func(j *domain.Job) { j.Selector = map[string]string{"a b": "c"} }},
		{"selector bad value", "selector.zone", func(j *domain.Job) { j.Selector = map[string]string{"zone": "a\x00"} }},
		{"shards zero", "shards", func(j *domain.Job) { j.Shards = 0 }},
		{"shards negative", "shards", func(j *domain.Job) { j.Shards = -1 }},
		{"shards too many", "shards", func(j *domain.Job) { j.Shards = domain.MaxShards + 1 }},
		{"broadcast sharded", "shards", func(j *domain.Job) { j.Route = domain.RouteBroadcast; j.Shards = 2 }},
		{"overlap unknown", "overlap", func(j *domain.Job) { j.Overlap = "queue" }},
		{"misfire policy unknown", "misfire.policy", func(j *domain.Job) { j.Misfire.Policy = "later" }},
		{"misfire window negative", "misfire.window", func(j *domain.Job) { j.Misfire.Window = -1 }},
		{"misfire window too long", "misfire.window", func(j *domain.Job) { j.Misfire.Window = domain.MaxMisfireWindow + 1 }},
		{"max_attempts zero", "retry.max_attempts", func(j *domain.Job) { j.Retry.MaxAttempts = 0 }},
		{"max_attempts too many", "retry.max_attempts", func(j *domain.Job) { j.Retry.MaxAttempts = domain.MaxMaxAttempts + 1 }},
		{"backoff negative", "retry.backoff", func(j *domain.Job) { j.Retry.Backoff = domain.Duration(-time.Second) }},
		{"backoff too long", "retry.backoff", func(j *domain.Job) {
			j.Retry.Backoff = domain.MaxBackoffBound + 1
			j.Retry.MaxBackoff = domain.MaxBackoffBound + 1
		}},
		{"max_backoff below backoff", "retry.max_backoff", func(j *domain.Job) {
			j.Retry.Backoff = domain.Duration(10 * time.Second)
			j.Retry.MaxBackoff = domain.Duration(9 * time.Second)
		}},
		{"max_backoff too long", "retry.max_backoff", func(j *domain.Job) { j.Retry.MaxBackoff = domain.MaxBackoffBound + 1 }},
		{"timeout zero", "timeout", func(j *domain.Job) { j.Timeout = 0 }},
		{"timeout below 1s", "timeout", func(j *domain.Job) { j.Timeout = domain.Duration(999 * time.Millisecond) }},
		{"timeout above 7 days", "timeout", func(j *domain.Job) { j.Timeout = domain.MaxTimeout + 1 }},
		{"labels too many", "labels", func(j *domain.Job) { j.Labels = many(domain.MaxLabels + 1) }},
		{"labels bad key", "labels", func(j *domain.Job) { j.Labels = map[string]string{"a~b": "c"} }},
		{"labels bad value", "labels.team", func(j *domain.Job) { j.Labels = map[string]string{"team": "\x1b"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := validJob()
			tt.mutate(&j)
			err := j.Validate(0)
			requireInvalid(t, err, tt.field)
		})
	}
}

func TestJobValidateScheduleError(t *testing.T) {
	for _, tt := range []struct{ field, expr, tz string }{
		{"schedule", "61 * * * *", "UTC"},
		{"timezone", "0 2 * * *", "Nowhere/Nothing"},
	} {
		j := validJob()
		j.Schedule, j.Timezone = tt.expr, tt.tz
		err := j.Validate(0)
		var se *domain.ScheduleError
		require.ErrorAs(t, err, &se, "want a *ScheduleError for %s", tt.field)
		assert.Equal(t, tt.field, se.Field)
		assert.Equal(t, tt.field, domain.FieldOf(err))
		assert.ErrorIs(t, err, domain.ErrInvalidSchedule)
		assert.ErrorIs(t, err, domain.ErrInvalid)
	}
}

func TestJobValidateParamsBound(t *testing.T) {
	j := validJob()
	j.Params = json.RawMessage(`{"k":"0123456789"}`) // 18 bytes
	require.NoError(t, j.Validate(18))
	requireInvalid(t, j.Validate(17), "params")
	// 0 and negative mean the default bound.
	require.NoError(t, j.Validate(0))
	require.NoError(t, j.Validate(-1))

	j.Params = json.RawMessage(`"` + strings.Repeat("x", domain.DefaultMaxParams-2) + `"`)
	require.Len(t, j.Params, domain.DefaultMaxParams)
	require.NoError(t, j.Validate(0))
	j.Params = append(j.Params, ' ')
	requireInvalid(t, j.Validate(0), "params")
	require.NoError(t, j.Validate(domain.DefaultMaxParams+1), "a custom bound above the default applies")
}

// TestJobValidateAfterNormalize: Normalize fills what a user may leave out,
// so a minimal job validates; it does not invent an ID or a handler.
func TestJobValidateAfterNormalize(t *testing.T) {
	j := domain.Job{ID: "j", Group: "g", Name: "n", Schedule: "@hourly", Handler: "h"}
	j.Normalize()
	require.NoError(t, j.Validate(0))

	j = domain.Job{ID: "j", Group: "g", Name: "n", Schedule: "@hourly"}
	j.Normalize()
	requireInvalid(t, j.Validate(0), "handler")
}

func TestJobCloneIsDeep(t *testing.T) {
	orig := validJob()
	snapshot := validJob()
	c := orig.Clone()
	require.Equal(t, orig, c)

	c.Params[0] = 'X'
	c.Selector["zone"] = "b"
	c.Selector["new"] = "x"
	c.Labels["team/owner"] = "other"
	delete(c.Labels, "team/owner")
	c.Labels["added"] = "y"

	assert.Equal(t, snapshot, orig, "mutating the clone changed the original")

	// nil stays nil (JSON omitempty and equality depend on it).
	var empty domain.Job
	ce := empty.Clone()
	assert.Nil(t, ce.Selector)
	assert.Nil(t, ce.Labels)
	assert.Empty(t, ce.Params)
}

func TestJobScheduleKey(t *testing.T) {
	a := domain.Job{Schedule: "0 2 * * *", Timezone: "UTC"}
	b := domain.Job{Schedule: "0 2 * * *", Timezone: "Europe/Berlin"}
	c := domain.Job{Schedule: "0 2 * * *", Timezone: "UTC", ID: "other"}
	assert.NotEqual(t, a.ScheduleKey(), b.ScheduleKey())
	assert.Equal(t, a.ScheduleKey(), c.ScheduleKey())
	// The separator cannot be confused with the expression's spaces.
	d := domain.Job{Schedule: "a", Timezone: "b c"}
	e := domain.Job{Schedule: "a b", Timezone: "c"}
	assert.NotEqual(t, d.ScheduleKey(), e.ScheduleKey())
}

func TestJobJSON(t *testing.T) {
	in := `{"id":"j","group":"g","name":"n","schedule":"@hourly","handler":"h",
		"params":{"a":1},"timeout":"30s","misfire":{"policy":"skip","window":"5m"},
		"retry":{"max_attempts":5,"backoff":"2s","max_backoff":"1m"}}`
	var j domain.Job
	require.NoError(t, json.Unmarshal([]byte(in), &j))
	j.Normalize()
	require.NoError(t, j.Validate(0))
	assert.Equal(t, 30*time.Second, j.Timeout.Std())
	assert.Equal(t, domain.Misfire{Policy: domain.MisfireSkip, Window: domain.Duration(5 * time.Minute)}, j.Misfire)
	assert.Equal(t, domain.Retry{MaxAttempts: 5, Backoff: domain.Duration(2 * time.Second),
		MaxBackoff: domain.Duration(time.Minute)}, j.Retry)

	out, err := json.Marshal(j)
	require.NoError(t, err)
	assert.Contains(t, string(out), `"timeout":"30s"`)
	var back domain.Job
	require.NoError(t, json.Unmarshal(out, &back))
	assert.Equal(t, j, back)

	var bad domain.Job
	err = json.Unmarshal([]byte(`{"timeout":"soon"}`), &bad)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "soon")
}
