package http_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"

	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeHealth returns a fixed readiness and records the context it got.
type fakeHealth struct {
	r        pinkhttp.Readiness
	deadline time.Duration
}

func (f *fakeHealth) Ready(ctx context.Context) pinkhttp.Readiness {
	if d, ok := ctx.Deadline(); ok {
		f.deadline = time.Until(d)
	}
	return f.r
}

func newServer(t *testing.T, h pinkhttp.HealthChecker) *pinkhttp.Server {
	t.Helper()
	s, err := pinkhttp.NewServer(pinkhttp.Config{Addr: "127.0.0.1:0"}, pinkhttp.Deps{Health: h})
	require.NoError(t, err)
	return s
}

func serve(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestHealthz(t *testing.T) {
	s := newServer(t, &fakeHealth{}) // healthz never asks the checker
	rec := serve(t, s.Handler(), http.MethodGet, "/healthz")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"status":"ok"}`, rec.Body.String())
	require.Equal(t, "application/json; charset=utf-8", rec.Header().Get("Content-Type"))
	require.Equal(t, "no-store", rec.Header().Get("Cache-Control"))

	require.Equal(t, http.StatusOK, serve(t, s.Handler(), http.MethodHead, "/healthz").Code)
	require.Equal(t, http.StatusMethodNotAllowed, serve(t, s.Handler(), http.MethodPost, "/healthz").Code)
	require.Equal(t, http.StatusNotFound, serve(t, s.Handler(), http.MethodGet, "/nope").Code)
}

func TestReadyz(t *testing.T) {
	ready := pinkhttp.Readiness{Ready: true, NodeID: "n1", Leader: true, LeaderID: "n1", Etcd: "ok", Registered: true}
	h := &fakeHealth{r: ready}
	s := newServer(t, h)
	rec := serve(t, s.Handler(), http.MethodGet, "/readyz")
	require.Equal(t, http.StatusOK, rec.Code)
	require.JSONEq(t, `{"ready":true,"node_id":"n1","leader":true,"leader_id":"n1","etcd":"ok","registered":true}`, rec.Body.String())
	require.Greater(t, h.deadline, time.Duration(0), "the checks run under a deadline")
	require.LessOrEqual(t, h.deadline, 2*time.Second)

	h.r = pinkhttp.Readiness{NodeID: "n1", Etcd: "pink: store unavailable: context deadline exceeded", Registered: false}
	rec = serve(t, s.Handler(), http.MethodGet, "/readyz")
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	var got pinkhttp.Readiness
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	require.Equal(t, h.r, got)
}

func TestNewServerChecks(t *testing.T) {
	h := &fakeHealth{}
	_, err := pinkhttp.NewServer(pinkhttp.Config{}, pinkhttp.Deps{Health: h})
	require.ErrorContains(t, err, "an address is required")
	_, err = pinkhttp.NewServer(pinkhttp.Config{Addr: "127.0.0.1:0"}, pinkhttp.Deps{})
	require.ErrorContains(t, err, "Deps.Health is required")

	for _, addr := range []string{"127.0.0.1:8002", "[::1]:0", "localhost:80", "127.1.2.3:9"} {
		_, err := pinkhttp.NewServer(pinkhttp.Config{Addr: addr, Dev: true}, pinkhttp.Deps{Health: h})
		require.NoError(t, err, addr)
	}
	for _, addr := range []string{"0.0.0.0:8002", ":8002", "10.0.0.1:8002", "[::]:8002", "example.com:80", "nonsense"} {
		_, err := pinkhttp.NewServer(pinkhttp.Config{Addr: addr, Dev: true}, pinkhttp.Deps{Health: h})
		require.ErrorContains(t, err, "development mode serves without login", addr)
		_, err = pinkhttp.NewServer(pinkhttp.Config{Addr: addr}, pinkhttp.Deps{Health: h})
		require.NoError(t, err, "without --dev any address is allowed: %s", addr)
	}
}

func TestStartStop(t *testing.T) {
	s := newServer(t, &fakeHealth{})
	require.Empty(t, s.Addr())
	require.NoError(t, s.Stop(context.Background()), "Stop before Start does nothing")
	require.NoError(t, s.Start(context.Background()))
	addr := s.Addr()
	require.NotEqual(t, "127.0.0.1:0", addr, "the real port")

	resp, err := http.Get("http://" + addr + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.JSONEq(t, `{"status":"ok"}`, string(body))

	// A second server on the same address fails to start, with the reason.
	s2, err := pinkhttp.NewServer(pinkhttp.Config{Addr: addr}, pinkhttp.Deps{Health: &fakeHealth{}})
	require.NoError(t, err)
	require.ErrorContains(t, s2.Start(context.Background()), "address already in use")

	require.NoError(t, s.Stop(context.Background()))
	require.NoError(t, s.Stop(context.Background()), "Stop twice")
	_, err = net.DialTimeout("tcp", addr, time.Second)
	require.Error(t, err, "nothing listens after Stop")
	http.DefaultClient.CloseIdleConnections()
}

func TestModule(t *testing.T) {
	var s *pinkhttp.Server
	app := fxtest.New(t,
		fx.NopLogger,
		fx.Supply(pinkhttp.Config{Addr: "127.0.0.1:0"}, pinkhttp.Deps{Health: &fakeHealth{}}),
		pinkhttp.Module,
		fx.Populate(&s),
	)
	require.Empty(t, s.Addr(), "not started by the constructor")
	app.RequireStart()
	require.NotEmpty(t, s.Addr(), "started by OnStart")
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	require.NoError(t, err)
	_ = resp.Body.Close()
	app.RequireStop()
	http.DefaultClient.CloseIdleConnections()
}

func TestModuleRefusesDevBeyondLoopback(t *testing.T) {
	app := fx.New(
		fx.NopLogger,
		fx.Supply(pinkhttp.Config{Addr: "0.0.0.0:8002", Dev: true}, pinkhttp.Deps{Health: &fakeHealth{}}),
		pinkhttp.Module,
		fx.Invoke(func(*pinkhttp.Server) {}),
	)
	require.ErrorContains(t, app.Err(), "development mode")
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:1": true, "127.9.9.9:1": true, "[::1]:1": true, "localhost:1": true,
		"0.0.0.0:1": false, ":1": false, "[::]:1": false, "192.168.1.1:1": false,
		"localhost.example.com:1": false, "127.0.0.1": false, "": false,
	} {
		require.Equal(t, want, pinkhttp.IsLoopback(addr), addr)
	}
}
