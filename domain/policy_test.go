package domain_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

func TestDurationMarshalJSON(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, `"0s"`},
		{90 * time.Second, `"1m30s"`},
		{time.Hour, `"1h0m0s"`},
		{1500 * time.Millisecond, `"1.5s"`},
		{-5 * time.Second, `"-5s"`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(domain.Duration(tt.in))
		require.NoError(t, err)
		assert.Equal(t, tt.want, string(b))
		assert.Equal(t, tt.in.String(), domain.Duration(tt.in).String())
		assert.Equal(t, tt.in, domain.Duration(tt.in).Std())
	}
}

func TestDurationUnmarshalJSON(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{`"1m30s"`, 90 * time.Second},
		{`"30s"`, 30 * time.Second},
		{`"1h30m"`, 90 * time.Minute},
		{`"250ms"`, 250 * time.Millisecond},
		{`"-5s"`, -5 * time.Second},
		{`"0s"`, 0},
		{`""`, 0},
		{`90000000000`, 90 * time.Second},
		{`0`, 0},
		{`-1`, -1},
	}
	for _, tt := range tests {
		d := domain.Duration(42) // must be overwritten
		require.NoError(t, json.Unmarshal([]byte(tt.in), &d), "input %s", tt.in)
		assert.Equal(t, tt.want, d.Std(), "input %s", tt.in)
	}
}

func TestDurationUnmarshalJSONErrors(t *testing.T) {
	for _, in := range []string{
		`"soon"`, `"30"`, `"1x"`, `"1h30"`, // bad strings
		`1.5`, `1e9`, `99999999999999999999`, `true`, `{}`, `[]`, // bad numbers and types
	} {
		var d domain.Duration
		err := json.Unmarshal([]byte(in), &d)
		assert.Error(t, err, "input %s", in)
	}
	// The message helps the user.
	var d domain.Duration
	err := json.Unmarshal([]byte(`"soon"`), &d)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"soon"`)
}

func TestDurationJSONRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 1, time.Nanosecond * 1500, time.Second, 90 * time.Second,
		7 * 24 * time.Hour, -time.Minute, 1<<63 - 1} {
		b, err := json.Marshal(domain.Duration(d))
		require.NoError(t, err)
		var back domain.Duration
		require.NoError(t, json.Unmarshal(b, &back), "%s", b)
		assert.Equal(t, d, back.Std(), "%s", b)
	}
	// In a struct, as jobs carry it.
	type holder struct {
		Timeout domain.Duration `json:"timeout"`
	}
	var h holder
	require.NoError(t, json.Unmarshal([]byte(`{"timeout":"2m"}`), &h))
	assert.Equal(t, 2*time.Minute, h.Timeout.Std())
	b, err := json.Marshal(h)
	require.NoError(t, err)
	assert.JSONEq(t, `{"timeout":"2m0s"}`, string(b))
}

// TestDurationUnmarshalJSONNull: encoding/json's convention is that an
// Unmarshaler treats null as a no-op, as Unmarshal does for plain values.
func TestDurationUnmarshalJSONNull(t *testing.T) {
	h := struct {
		Timeout domain.Duration `json:"timeout"`
	}{Timeout: domain.Duration(time.Minute)}
	require.NoError(t, json.Unmarshal([]byte(`{"timeout":null}`), &h))
	assert.Equal(t, time.Minute, h.Timeout.Std())
}

func TestRetryDelayFirstAttemptAndDisabled(t *testing.T) {
	r := domain.Retry{MaxAttempts: 5, Backoff: domain.Duration(time.Second), MaxBackoff: domain.Duration(time.Minute)}
	assert.Zero(t, r.Delay(1, "run"), "the first attempt is not delayed")
	assert.Zero(t, r.Delay(0, "run"))
	assert.Zero(t, r.Delay(-3, "run"))
	assert.Zero(t, domain.Retry{MaxAttempts: 5}.Delay(2, "run"), "no backoff, no delay")
	assert.Zero(t, domain.Retry{Backoff: domain.Duration(-time.Second)}.Delay(3, "run"))
}

// withinJitter asserts base <= got <= base*1.2.
func withinJitter(t *testing.T, got, base time.Duration, msgAndArgs ...any) {
	t.Helper()
	assert.GreaterOrEqual(t, got, base, msgAndArgs...)
	assert.LessOrEqual(t, got, base+base/5, msgAndArgs...)
}

func TestRetryDelayDoublesAndCaps(t *testing.T) {
	r := domain.Retry{MaxAttempts: 20, Backoff: domain.Duration(time.Second), MaxBackoff: domain.Duration(10 * time.Second)}
	bases := map[int]time.Duration{
		2:    1 * time.Second,
		3:    2 * time.Second,
		4:    4 * time.Second,
		5:    8 * time.Second,
		6:    10 * time.Second, // capped
		7:    10 * time.Second,
		20:   10 * time.Second,
		1000: 10 * time.Second,
	}
	for next, base := range bases {
		for _, seed := range []string{"", "a", "20261126T164300.000Z~job~0", "another-run"} {
			withinJitter(t, r.Delay(next, seed), base, "attempt %d seed %q", next, seed)
		}
	}

	// Uncapped doubling over many attempts: base * 2^(n-2).
	r = domain.Retry{Backoff: domain.Duration(time.Millisecond), MaxBackoff: domain.MaxBackoffBound}
	for next := 2; next <= 20; next++ {
		base := time.Millisecond << (next - 2)
		withinJitter(t, r.Delay(next, "seed"), base, "attempt %d", next)
	}
	// Large attempt numbers do not overflow: still capped.
	withinJitter(t, r.Delay(1<<20, "seed"), domain.MaxBackoffBound.Std())

	// MaxBackoff 0 (or below Backoff) means no growth.
	r = domain.Retry{Backoff: domain.Duration(3 * time.Second)}
	withinJitter(t, r.Delay(5, "seed"), 3*time.Second)
	r = domain.Retry{Backoff: domain.Duration(3 * time.Second), MaxBackoff: domain.Duration(time.Second)}
	withinJitter(t, r.Delay(5, "seed"), time.Second)
}

func TestRetryDelayDeterministic(t *testing.T) {
	r := domain.Retry{Backoff: domain.Duration(time.Second), MaxBackoff: domain.Duration(time.Hour)}
	for next := 2; next < 8; next++ {
		for _, seed := range []string{"a", "b", "run-1"} {
			assert.Equal(t, r.Delay(next, seed), r.Delay(next, seed), "attempt %d seed %q", next, seed)
		}
	}
}

// TestRetryDelaySpread: runs failing together do not retry in lock step.
func TestRetryDelaySpread(t *testing.T) {
	r := domain.Retry{Backoff: domain.Duration(10 * time.Second), MaxBackoff: domain.MaxBackoffBound}
	const n = 1000
	base := 10 * time.Second
	distinct := map[time.Duration]bool{}
	lo, hi := time.Duration(1<<62), time.Duration(0)
	var sum time.Duration
	for i := range n {
		d := r.Delay(2, fmt.Sprintf("20261126T164300.000Z~job-%d~0", i))
		withinJitter(t, d, base)
		distinct[d] = true
		lo, hi = min(lo, d), max(hi, d)
		sum += d - base
	}
	assert.Greater(t, len(distinct), n*9/10, "jitter should differ between runs")
	assert.Less(t, lo-base, base/50, "lowest jitter %s: should come close to 0", lo-base)
	assert.Greater(t, hi-base, base/5-base/50, "highest jitter %s: should come close to 20%%", hi-base)
	mean := sum / n
	assert.InDelta(t, float64(base/10), float64(mean), float64(base/50), "mean jitter %s, want about 10%%", mean)

	// The jitter also varies with the attempt for one run.
	distinct = map[time.Duration]bool{}
	for next := 2; next < 12; next++ {
		distinct[r.Delay(next, "one-run")-base<<(next-2)] = true
	}
	assert.Greater(t, len(distinct), 5)
}

// referenceUnmarshalDuration is Duration.UnmarshalJSON as it was before
// its fast path: every string through encoding/json and
// time.ParseDuration. The fast path must agree with it on every input.
func referenceUnmarshalDuration(d *domain.Duration, b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if s == "" {
			*d = 0
			return nil
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q: want a Go duration such as \"30s\" or \"1h30m\"", s)
		}
		*d = domain.Duration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("invalid duration %s: want a string such as \"30s\"", b)
	}
	*d = domain.Duration(n)
	return nil
}

// durationInputs are JSON literals (and things that are not) for the
// comparison with the reference.
var durationInputs = []string{
	`"0s"`, `"1s"`, `"1m0s"`, `"1h0m0s"`, `"168h0m0s"`, `"24h0m0s"`, `"30s"`, `"1m30s"`, `"1.5s"`,
	`"-5s"`, `"+5s"`, `"250ms"`, `"1us"`, `"1µs"`, `"1\u00b5s"`, `"\u0031s"`, `"1\u0073"`, `"1m0s "`,
	`" 1s"`, `"1 s"`, `""`, `"0"`, `"soon"`, `"30"`, `"1x"`, `"1h30"`, `"1\n"`, "\"1s\x01\"", "\"1s\xff\"",
	`"1s\"`, `"1s\\"`, `"\"1s\""`, `"`, `"1s`, `1s"`, `""""`, `"1s" `, ` "1s"`, `"1m0s""`,
	`"9223372036854775807ns"`, `"9223372036854775808ns"`, `"2562047h47m16.854775807s"`,
	`null`, `0`, `-1`, `90000000000`, `1.5`, `1e9`, `99999999999999999999`, `true`, `{}`, `[]`, ``,
	`"null"`, `nul`,
}

func TestDurationUnmarshalJSONMatchesTheReference(t *testing.T) {
	for _, in := range durationInputs {
		requireSameAsReference(t, in)
	}
	// Every duration's own string, which is what MarshalJSON writes.
	for _, d := range []time.Duration{0, 1, 999, time.Microsecond, time.Millisecond, time.Second,
		time.Minute, time.Hour, 90 * time.Second, 7 * 24 * time.Hour, -time.Hour, 1<<63 - 1, -1 << 63} {
		requireSameAsReference(t, `"`+d.String()+`"`)
	}
}

func requireSameAsReference(t *testing.T, in string) {
	t.Helper()
	got, want := domain.Duration(42), domain.Duration(42)
	err := got.UnmarshalJSON([]byte(in))
	wantErr := referenceUnmarshalDuration(&want, []byte(in))
	if wantErr != nil {
		require.Error(t, err, "input %q", in)
		require.Equal(t, wantErr.Error(), err.Error(), "input %q", in)
		return
	}
	require.NoError(t, err, "input %q", in)
	require.Equal(t, want, got, "input %q", in)
}

func FuzzDurationUnmarshalJSON(f *testing.F) {
	for _, in := range durationInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) { requireSameAsReference(t, in) })
}

// BenchmarkDurationUnmarshalJSON decodes the strings jobs carry (the
// defaults) and one that is not in the table.
func BenchmarkDurationUnmarshalJSON(b *testing.B) {
	for _, in := range []string{`"1m0s"`, `"1h0m0s"`, `"1m30.5s"`} {
		b.Run(in, func(b *testing.B) {
			var d domain.Duration
			lit := []byte(in)
			b.ReportAllocs()
			for b.Loop() {
				if err := d.UnmarshalJSON(lit); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
