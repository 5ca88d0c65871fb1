package http

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Server timeouts. A health check must answer well within a probe's
// timeout; the API will need the same bounds.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
	// readyTimeout bounds the checks behind /readyz.
	readyTimeout = 2 * time.Second
)

// Config configures a Server.
type Config struct {
	// Addr is the host:port to listen on, such as "127.0.0.1:8002";
	// required. Port 0 picks a free port (see Server.Addr).
	Addr string
	// Dev is development mode: the API and console need no login. It is
	// refused unless Addr is a loopback address.
	Dev bool
	// Logger receives the server's log; nil means slog.Default().
	Logger *slog.Logger
}

// Deps are what the server's handlers need from the rest of the node.
type Deps struct {
	// Health answers /readyz; required.
	Health HealthChecker
	// API serves the REST API under /api/v1 (adapters/http/api);
	// optional.
	API http.Handler
	// WorkerAPI serves the HTTP worker protocol under /api/v1/worker
	// (adapters/http/workerapi); optional.
	WorkerAPI http.Handler
	// Console serves the web console at / (adapters/http/console);
	// optional.
	Console http.Handler
}

// HealthChecker reports whether the node is ready to serve.
type HealthChecker interface {
	// Ready checks the node and returns what it found. It returns by ctx's
	// deadline; a check it could not finish counts as not ready.
	Ready(ctx context.Context) Readiness
}

// Readiness is the body of /readyz.
type Readiness struct {
	// Ready is true when the node can do its work: etcd answers and the
	// node is registered. /readyz answers 200 then, 503 otherwise.
	Ready bool `json:"ready"`
	// NodeID is this node's ID.
	NodeID string `json:"node_id"`
	// Leader is true while this node leads the cluster.
	Leader bool `json:"leader"`
	// LeaderID is the leader's node ID, "" when there is none or it could
	// not be read.
	LeaderID string `json:"leader_id"`
	// Etcd is "ok" when etcd answered, or why it did not.
	Etcd string `json:"etcd"`
	// Registered is true while the node's registration lease lives.
	Registered bool `json:"registered"`
}

// Server serves Pink's HTTP endpoints.
type Server struct {
	cfg  Config
	deps Deps
	log  *slog.Logger
	srv  *http.Server

	mu     sync.Mutex
	addr   string
	served chan struct{} // closed when Serve has returned; nil before Start
}

// NewServer checks cfg and deps and returns a Server; it starts nothing.
// It refuses development mode on an address other than loopback.
func NewServer(cfg Config, deps Deps) (*Server, error) {
	if cfg.Addr == "" {
		return nil, errors.New("http server: an address is required")
	}
	if deps.Health == nil {
		return nil, errors.New("http server: Deps.Health is required")
	}
	if cfg.Dev && !IsLoopback(cfg.Addr) {
		return nil, fmt.Errorf("http server: development mode serves without login, so it listens on a loopback address only (such as 127.0.0.1:8002), not %q", cfg.Addr)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{cfg: cfg, deps: deps, log: cfg.Logger}
	s.srv = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// IsLoopback reports whether the host of addr (host:port) is a loopback IP
// address or "localhost". An empty host (every interface) is not.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// Handler returns the server's routes, for tests and for embedding.
func (s *Server) Handler() http.Handler { return s.srv.Handler }

// Start listens on the configured address and serves in the background.
// It returns the listen error (address in use, say), with nothing left
// running. Call it once.
func (s *Server) Start(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("http server: %w", err)
	}
	served := make(chan struct{})
	s.mu.Lock()
	s.addr, s.served = ln.Addr().String(), served
	s.mu.Unlock()
	go func() {
		defer close(served)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped serving", "addr", ln.Addr().String(), "err", err)
		}
	}()
	s.log.Info("http server listening", "addr", ln.Addr().String(), "dev", s.cfg.Dev)
	return nil
}

// Addr returns the address the server listens on (with the real port when
// port 0 was asked for), or "" before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Stop stops accepting connections, waits for the requests in flight to
// finish until ctx ends (then closes their connections), and waits for
// the serving goroutine. Safe to call without Start and more than once.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	served := s.served
	s.served = nil
	s.mu.Unlock()
	if served == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-served
	if err != nil {
		return fmt.Errorf("http server: shutdown: %w", err)
	}
	s.log.Info("http server stopped", "addr", s.Addr())
	return nil
}
