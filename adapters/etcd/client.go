package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// DefaultDialTimeout is ClientConfig.DialTimeout when it is 0.
const DefaultDialTimeout = 5 * time.Second

// ClientConfig configures a client of an etcd cluster that Pink does not
// run itself (an "external" etcd).
type ClientConfig struct {
	// Endpoints lists client URLs of the cluster's members, such as
	// "http://10.0.0.1:2379" or "https://etcd-1:2379"; required.
	Endpoints []string
	// DialTimeout bounds connecting and, with Username, authenticating;
	// default DefaultDialTimeout.
	DialTimeout time.Duration
	// CACertFile is a PEM file with the CA certificates that sign the
	// members' server certificates; default the system's roots.
	CACertFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// etcd's --client-cert-auth; set both or neither.
	CertFile string
	KeyFile  string
	// Username and Password authenticate with etcd's own auth; set both or
	// neither.
	Username string
	Password string
}

// TLSConfig returns the TLS configuration c asks for: nil when it names no
// file (plain http endpoints, or https with the system roots and no client
// certificate). It reads the files, and returns an error naming the file
// when one cannot be read or parsed.
func (c ClientConfig) TLSConfig() (*tls.Config, error) {
	if c.CACertFile == "" && c.CertFile == "" && c.KeyFile == "" {
		return nil, nil
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("etcd client: a client certificate needs both its certificate file and its key file")
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.CACertFile != "" {
		pem, err := os.ReadFile(c.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client: read CA certificates: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd client: %s holds no PEM certificate", c.CACertFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("etcd client: load client certificate %s and key %s: %w", c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// NewClient returns a gRPC client of the cluster c names. It connects
// lazily and returns at once, except with a Username: then it also
// authenticates, which waits for the cluster up to the dial timeout. Use
// Ping to check that the cluster answers. The caller closes the client.
func NewClient(c ClientConfig) (*clientv3.Client, error) {
	if len(c.Endpoints) == 0 {
		return nil, errors.New("etcd client: no endpoints")
	}
	if (c.Username == "") != (c.Password == "") {
		return nil, errors.New("etcd client: a username needs a password, and a password a username")
	}
	tc, err := c.TLSConfig()
	if err != nil {
		return nil, err
	}
	timeout := c.DialTimeout
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   c.Endpoints,
		DialTimeout: timeout,
		TLS:         tc,
		Username:    c.Username,
		Password:    c.Password,
		// Keep the connection checked while idle, so a dead member is
		// noticed and another endpoint tried.
		DialKeepAliveTime:    10 * time.Second,
		DialKeepAliveTimeout: 5 * time.Second,
		Logger:               zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("etcd client: %w", translate(context.Background(), "connect", err))
	}
	return cli, nil
}

// Ping checks that the cluster behind cli answers a linearizable read of
// the keys under prefix (default DefaultPrefix): that it is reachable,
// has a quorum, and accepts the client's credentials for Pink's keys. It
// waits until ctx ends for an unreachable cluster; give it a deadline.
// Returns domain.ErrUnavailable, wrapped with etcd's reason, otherwise.
func Ping(ctx context.Context, cli *clientv3.Client, prefix string) error {
	k := newKeys(prefix)
	_, err := cli.Get(ctx, k.p+"/", clientv3.WithPrefix(), clientv3.WithLimit(1), clientv3.WithKeysOnly())
	return translate(ctx, "ping etcd", err)
}

// PendingClient hands out a *clientv3.Client before the connection behind
// it exists. Dependency-injection graphs such as go.uber.org/fx's build
// every component before any lifecycle hook runs, but an embedded etcd,
// and with it its in-process client, only exists once the hook that
// starts it has run: the components take Client() when they are built,
// and that hook calls Connect. Nothing may use the client before Connect
// (its methods would panic), which is what lifecycle ordering guarantees
// when every user of the client starts after the hook that connects it.
type PendingClient struct {
	cli *clientv3.Client

	mu        sync.Mutex
	connected bool
}

// NewPendingClient returns a PendingClient; it connects nothing.
func NewPendingClient() *PendingClient {
	return &PendingClient{cli: clientv3.NewCtxClient(context.Background())}
}

// Client returns the client handed out. It is usable once Connect has
// returned, and reports itself closed (Ctx done) after Close.
func (p *PendingClient) Client() *clientv3.Client { return p.cli }

// Connect makes the handed-out client use the services of c: a Server's
// in-process Client, or a client from NewClient. It panics if called
// twice. c stays the caller's: close it after Close.
func (p *PendingClient) Connect(c *clientv3.Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.connected {
		panic("etcd: PendingClient connected twice")
	}
	p.connected = true
	p.cli.KV, p.cli.Lease, p.cli.Watcher = c.KV, c.Lease, c.Watcher
	p.cli.Cluster, p.cli.Maintenance, p.cli.Auth = c.Cluster, c.Maintenance, c.Auth
}

// Close closes the handed-out client: its context ends, so its users see
// it closed, and its watches and lease keep-alives (shared with the client
// given to Connect) stop. Close the connected client after it. Safe to
// call before Connect and more than once.
func (p *PendingClient) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}
