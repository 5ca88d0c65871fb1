package builtin_test

import (
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pink-scheduler/pink/app/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// buffer is a run's output: safe for the handler's writes and the test's
// reads at once.
type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newRun returns the run a handler sees, with params marshalled from p (a
// string or []byte is taken as is), and its output.
func newRun(t *testing.T, p any) (worker.Run, *buffer) {
	t.Helper()
	var raw []byte
	switch v := p.(type) {
	case string:
		raw = []byte(v)
	case []byte:
		raw = v
	default:
		var err error
		if raw, err = json.Marshal(p); err != nil {
			t.Fatal(err)
		}
	}
	out := &buffer{}
	return worker.Run{
		ID: "job1-20260101T000000Z-0", FireID: "job1-20260101T000000Z", JobID: "job1", Group: "g",
		Handler: "x", Params: raw, Shards: 1, Attempt: 2,
		ScheduledAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Output: out,
	}, out
}

// call runs h on a run with params p, bounded by a minute.
func call(t *testing.T, h worker.HandlerFunc, p any) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	run, out := newRun(t, p)
	_, err := h(ctx, run)
	return out.String(), err
}
