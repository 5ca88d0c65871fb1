package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/adapters/http/api"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// brokenRuns is a RunStore whose reads fail with err.
type brokenRuns struct {
	ports.RunStore
	err error
}

func (b brokenRuns) GetRun(context.Context, string) (domain.Run, error) { return domain.Run{}, b.err }
func (b brokenRuns) ListRuns(context.Context, ports.RunFilter) (ports.Page[domain.Run], error) {
	return ports.Page[domain.Run]{}, b.err
}

func TestStoreFailures(t *testing.T) {
	secret := errors.New("disk on fire at /var/lib/secret-path")
	e := newEnv(t, func(d *api.Deps) { d.Runs = brokenRuns{d.Runs, secret} })
	r := e.get(viewer, "/runs/x")
	r.apiErr(http.StatusInternalServerError, "internal", "")
	require.NotContains(t, r.Body.String(), "secret-path", "the cause is logged, not shown")
	require.Equal(t, 1, strings.Count(e.logs.String(), "api: request failed"), e.logs.String())
	require.Contains(t, e.logs.String(), "secret-path")
	require.Contains(t, e.logs.String(), "op=getRun")

	down := newEnv(t, func(d *api.Deps) { d.Runs = brokenRuns{d.Runs, fmt.Errorf("list: %w", domain.ErrUnavailable)} })
	down.get(viewer, "/runs").apiErr(http.StatusServiceUnavailable, "unavailable", "")
	down.get(viewer, "/stats").apiErr(http.StatusServiceUnavailable, "unavailable", "")
}
