package node

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Defaults and bounds of Config.
const (
	DefaultPrefix   = etcd.DefaultPrefix
	DefaultLeaseTTL = 5 * time.Second
	// MinLeaseTTL is the shortest lease TTL: etcd raises shorter leases to
	// 1.5 election timeouts anyway, and a crashed leader is replaced within
	// about the TTL.
	MinLeaseTTL = etcd.MinElectionTTL
	// MaxLeaseTTL is the longest lease TTL a registration accepts.
	MaxLeaseTTL       = etcd.MaxRegistrationTTL
	DefaultHTTPAddr   = "127.0.0.1:8002"
	DefaultDataDir    = "./pink-data"
	DefaultClientURL  = "http://127.0.0.1:2379"
	DefaultPeerURL    = "http://127.0.0.1:2380"
	DefaultEtcdCheck  = 10 * time.Second
	DefaultStartLimit = 90 * time.Second
	DefaultStopLimit  = 30 * time.Second
	// DefaultHistoryPerJob and DefaultHistoryMaxAge bound the finished
	// runs and fire records kept per job; MaxHistoryPerJob bounds the
	// setting (the store's per-job listings stay cheap).
	DefaultHistoryPerJob = 100
	DefaultHistoryMaxAge = 7 * 24 * time.Hour
	MaxHistoryPerJob     = 100000
	// DefaultPruneInterval is how often the leader prunes history.
	DefaultPruneInterval = time.Minute
)

// Config configures a node. The zero value of every field but NodeID is a
// working default (an embedded etcd in ./pink-data, HTTP on
// 127.0.0.1:8002).
type Config struct {
	// NodeID identifies the node in the cluster; a valid name
	// (domain.ValidateName), unique among live nodes; required (see
	// GenerateID).
	NodeID string
	// Prefix is the root of every etcd key; default DefaultPrefix.
	Prefix string
	// LeaseTTL is the TTL of the node's registration and of its election
	// session: a crashed leader is replaced within about this long. Whole
	// seconds, from MinLeaseTTL to MaxLeaseTTL; default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// History bounds the finished runs and fire records kept; zero fields
	// take DefaultHistoryPerJob and DefaultHistoryMaxAge.
	History ports.Retention
	// PruneInterval is how often the leader prunes history; default
	// DefaultPruneInterval.
	PruneInterval time.Duration
	// HTTPAddr is where the HTTP server listens; default DefaultHTTPAddr.
	HTTPAddr string
	// Dev is development mode: the API and console need no login. Only
	// with a loopback HTTPAddr.
	Dev bool
	// Etcd names an external etcd cluster. With no Endpoints the node
	// starts an embedded etcd as Embedded says instead.
	Etcd etcd.ClientConfig
	// EtcdCheck bounds the wait, at start, for the external cluster to
	// answer; default DefaultEtcdCheck.
	EtcdCheck time.Duration
	// Embedded configures the embedded etcd (used without Etcd.Endpoints).
	Embedded EmbeddedConfig
	// Version is the software version the node registers with.
	Version string
	// APIOnly serves the REST API, the console and the HTTP worker
	// protocol only (cmd/pink-api): no scheduler, no node registration.
	// It needs an external etcd.
	APIOnly bool
	// Logger receives the node's log; nil means slog.Default().
	Logger *slog.Logger
}

// EmbeddedConfig configures the embedded single-member etcd.
type EmbeddedConfig struct {
	// DataDir holds etcd's data; default DefaultDataDir.
	DataDir string
	// ClientURL and PeerURL are where it listens for clients and peers;
	// defaults DefaultClientURL and DefaultPeerURL. Port 0 picks a port.
	ClientURL string
	PeerURL   string
	// Fast shortens raft's ticks and UnsafeNoFsync skips fsync: for tests
	// only.
	Fast          bool
	UnsafeNoFsync bool
}

// External reports whether c uses an external etcd.
func (c Config) External() bool { return len(c.Etcd.Endpoints) > 0 }

// withDefaults fills in the defaults and checks what the graph relies on.
// cmd/pink-node validates its flags more thoroughly, with flag names.
func (c Config) withDefaults() (Config, error) {
	if err := domain.ValidateName("node_id", c.NodeID); err != nil {
		return c, fmt.Errorf("node: %w", err)
	}
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.LeaseTTL == 0 {
		c.LeaseTTL = DefaultLeaseTTL
	}
	if c.LeaseTTL < MinLeaseTTL || c.LeaseTTL > MaxLeaseTTL {
		return c, fmt.Errorf("node: lease TTL %s: must be between %s and %s", c.LeaseTTL, MinLeaseTTL, MaxLeaseTTL)
	}
	if c.History.PerJob == 0 {
		c.History.PerJob = DefaultHistoryPerJob
	}
	if c.History.MaxAge == 0 {
		c.History.MaxAge = DefaultHistoryMaxAge
	}
	if c.PruneInterval == 0 {
		c.PruneInterval = DefaultPruneInterval
	}
	if c.History.PerJob < 0 || c.History.PerJob > MaxHistoryPerJob || c.History.MaxAge < 0 || c.PruneInterval < 0 {
		return c, fmt.Errorf("node: history %+v, prune interval %s: out of range", c.History, c.PruneInterval)
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.EtcdCheck <= 0 {
		c.EtcdCheck = DefaultEtcdCheck
	}
	e := &c.Embedded
	if e.DataDir == "" {
		e.DataDir = DefaultDataDir
	}
	if e.ClientURL == "" {
		e.ClientURL = DefaultClientURL
	}
	if e.PeerURL == "" {
		e.PeerURL = DefaultPeerURL
	}
	if c.APIOnly && !c.External() {
		return c, errors.New("node: an API-only server needs an external etcd (Etcd.Endpoints)")
	}
	if c.External() && (c.Embedded.Fast || c.Embedded.UnsafeNoFsync) {
		return c, errors.New("node: Embedded options given with an external etcd")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
