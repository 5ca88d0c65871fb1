package domain_test

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

func TestFireIDFormat(t *testing.T) {
	nominal := time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)
	assert.Equal(t, "20261126T164300.000Z~nightly-report", domain.FireID("nightly-report", nominal))

	// The same instant in another zone gives the same ID.
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	assert.Equal(t, domain.FireID("j", nominal), domain.FireID("j", nominal.In(berlin)))

	// Millisecond precision, fixed width.
	assert.Equal(t, "20260102T030405.006Z~j", domain.FireID("j", time.Date(2026, 1, 2, 3, 4, 5, 6_999_999, time.UTC)))
	assert.Equal(t, "20260102T030405.120Z~j", domain.FireID("j", time.Date(2026, 1, 2, 3, 4, 5, 120_000_000, time.UTC)))

	// Distinct per job and per nominal time.
	assert.NotEqual(t, domain.FireID("a", nominal), domain.FireID("b", nominal))
	assert.NotEqual(t, domain.FireID("a", nominal), domain.FireID("a", nominal.Add(time.Second)))
	assert.NotEqual(t, domain.FireID("a", nominal), domain.FireID("a", nominal.Add(time.Millisecond)))

	// Safe as a key segment and in a URL path.
	id := domain.FireID("nightly-report", nominal)
	assert.NotContains(t, id, "/")
	assert.NotContains(t, id, "%")
	assert.NotContains(t, id, " ")
}

// TestFireIDSortsByTime: listing fires by key gives them in time order,
// whatever the job IDs.
func TestFireIDSortsByTime(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	jobs := []string{"a", "zzz", "0", "nightly-report", "m.x_y-z"}
	lo := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	hi := time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC).UnixMilli()
	type entry struct {
		at time.Time
		id string
	}
	var entries []entry
	seen := map[int64]bool{}
	for len(entries) < 5000 {
		ms := lo + rng.Int64N(hi-lo)
		if rng.IntN(4) == 0 && len(entries) > 0 {
			// Some close neighbours: one millisecond to one second apart.
			ms = entries[len(entries)-1].at.UnixMilli() + 1 + rng.Int64N(1000)
		}
		if seen[ms] {
			continue
		}
		seen[ms] = true
		at := time.UnixMilli(ms).UTC()
		entries = append(entries, entry{at, domain.FireID(jobs[rng.IntN(len(jobs))], at)})
	}
	byID := slices.Clone(entries)
	sort.Slice(byID, func(i, j int) bool { return byID[i].id < byID[j].id })
	byTime := slices.Clone(entries)
	sort.Slice(byTime, func(i, j int) bool { return byTime[i].at.Before(byTime[j].at) })
	for i := range byID {
		require.True(t, byID[i].at.Equal(byTime[i].at), "position %d: %s sorts like %s", i, byID[i].id, byTime[i].at)
	}
}

func TestManualFireID(t *testing.T) {
	at := time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC)
	scheduled := domain.FireID("j", at)
	m1 := domain.ManualFireID("j", at, "abc123")
	m2 := domain.ManualFireID("j", at, "def456")
	assert.NotEqual(t, scheduled, m1, "a manual trigger must not take the scheduled fire's slot")
	assert.NotEqual(t, m1, m2)
	assert.Equal(t, "20261126T164300.000Z~j~mabc123", m1)
	assert.True(t, strings.HasPrefix(m1, scheduled+"~"), "manual fires sort with the scheduled ones by time")
}

func TestParseFireIDRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for range 1000 {
		at := time.Unix(rng.Int64N(4102444800), rng.Int64N(1e9)) // 1970..2100, any nanosecond
		job := []string{"j", "nightly-report", "a.b_c-d", strings.Repeat("x", domain.MaxNameLen)}[rng.IntN(4)]
		for _, id := range []string{domain.FireID(job, at), domain.ManualFireID(job, at, "n0nce")} {
			gotJob, gotAt, err := domain.ParseFireID(id)
			require.NoError(t, err, id)
			assert.Equal(t, job, gotJob, id)
			assert.True(t, gotAt.Equal(at.Truncate(time.Millisecond)), "%s: got %s, want %s", id, gotAt, at)
			assert.Equal(t, time.UTC, gotAt.Location(), id)
			assert.Equal(t, id[:strings.Index(id, "~")], gotAt.Format("20060102T150405.000Z"))
		}
	}
}

func TestParseFireIDErrors(t *testing.T) {
	for _, id := range []string{
		"",
		"nonsense",
		"20261126T164300.000Z",            // no job
		"20261126T164300.000Z~",           // empty job
		"20261126T164300.000Z~Job",        // invalid job ID
		"20261126T164300.000Z~a/b",        // invalid job ID
		"20261126T164300Z~job",            // no milliseconds
		"2026-11-26T16:43:00.000Z~job",    // wrong layout
		"20261326T164300.000Z~job",        // month 13
		"bad~job",                         // bad time
		"~job",                            // empty time
		"20261126T164300.000Z~job~m1~0",   // a manual run ID, not a fire ID
		"20261126T164300.000Z~job~m1~0~9", // too many parts
		" 20261126T164300.000Z~job",       // stray space
		"20261126T164300.000Z~job\n",      // trailing newline
		"20261126T164300.000+01:00Z~job",  // offset
	} {
		_, _, err := domain.ParseFireID(id)
		requireInvalid(t, err, "fire_id")
	}
}

// TestParseFireIDRejectsNonFireSuffix: a fire ID has a third part only for
// a manual fire, "m" followed by a valid nonce. Anything else, in
// particular the run ID "<fire ID>~0" of a scheduled fire, is not a fire ID.
func TestParseFireIDRejectsNonFireSuffix(t *testing.T) {
	fire := domain.FireID("job", time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC))
	for _, id := range []string{
		domain.RunID(fire, 0),
		fire + "~",
		fire + "~m",
		fire + "~x/y",
		fire + "~mBAD",
	} {
		_, _, err := domain.ParseFireID(id)
		assert.ErrorIs(t, err, domain.ErrInvalid, "%q should not parse as a fire ID", id)
	}
}

func TestRunID(t *testing.T) {
	fire := domain.FireID("job", time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC))
	assert.Equal(t, fire+"~0", domain.RunID(fire, 0))
	assert.Equal(t, fire+"~255", domain.RunID(fire, 255))
	assert.NotEqual(t, domain.RunID(fire, 1), domain.RunID(fire, 11))
	// Run IDs of a fire share its prefix, so a prefix scan finds them.
	for i := range 20 {
		assert.True(t, strings.HasPrefix(domain.RunID(fire, i), fire+"~"))
	}
	// Runs of different fires do not collide, even for manual fires.
	manual := domain.ManualFireID("job", time.Date(2026, 11, 26, 16, 43, 0, 0, time.UTC), "n")
	assert.NotEqual(t, domain.RunID(fire, 0), domain.RunID(manual, 0))
}
