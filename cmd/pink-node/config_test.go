package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseDefaults(t *testing.T) {
	o, err := parseArgs(nil, env(nil))
	require.NoError(t, err)
	c := o.node
	require.False(t, c.External())
	require.Equal(t, "./pink-data", c.Embedded.DataDir)
	require.Equal(t, "http://127.0.0.1:2379", c.Embedded.ClientURL)
	require.Equal(t, "http://127.0.0.1:2380", c.Embedded.PeerURL)
	require.Equal(t, "/pink", c.Prefix)
	require.Equal(t, 5*time.Second, c.LeaseTTL)
	require.Equal(t, "127.0.0.1:8002", c.HTTPAddr)
	require.False(t, c.Dev)
	require.Equal(t, 100, c.History.PerJob)
	require.Equal(t, 7*24*time.Hour, c.History.MaxAge)
	require.Equal(t, time.Minute, c.PruneInterval)
	require.NoError(t, domain.ValidateName("node_id", c.NodeID), "a generated ID: %q", c.NodeID)
	require.Equal(t, slog.LevelInfo, o.logLevel)
	require.Equal(t, "text", o.logFormat)

	o2, err := parseArgs(nil, env(nil))
	require.NoError(t, err)
	require.NotEqual(t, c.NodeID, o2.node.NodeID, "each start generates a new ID")
}

func TestParseFlags(t *testing.T) {
	o, err := parseArgs([]string{
		"--etcd", "http://10.0.0.1:2379, http://10.0.0.2:2379/,10.0.0.3:2379",
		"--prefix", "/team-a/pink", "--node-id", "node-a", "--lease-ttl", "10s",
		"--http", "127.0.0.1:9000", "--dev", "--etcd-user", "pink",
		"--log-level", "DEBUG", "--log-format", "json",
		"--history-per-job", "20", "--history-max-age", "24h", "--prune-interval", "5s",
	}, env(map[string]string{"PINK_ETCD_PASSWORD": "s3cret"}))
	require.NoError(t, err)
	c := o.node
	require.Equal(t, 20, c.History.PerJob)
	require.Equal(t, 24*time.Hour, c.History.MaxAge)
	require.Equal(t, 5*time.Second, c.PruneInterval)
	require.True(t, c.External())
	require.Equal(t, []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379", "http://10.0.0.3:2379"}, c.Etcd.Endpoints)
	require.Equal(t, "/team-a/pink", c.Prefix)
	require.Equal(t, "node-a", c.NodeID)
	require.Equal(t, 10*time.Second, c.LeaseTTL)
	require.Equal(t, "127.0.0.1:9000", c.HTTPAddr)
	require.True(t, c.Dev)
	require.Equal(t, "pink", c.Etcd.Username)
	require.Equal(t, "s3cret", c.Etcd.Password)
	require.Equal(t, slog.LevelDebug, o.logLevel)
	require.Equal(t, "json", o.logFormat)

	// The second node: --data-dir is accepted (and unused) with --etcd.
	o, err = parseArgs([]string{"--etcd", "http://127.0.0.1:2379", "--http", "127.0.0.1:8003", "--data-dir", "./pink-data-2"}, env(nil))
	require.NoError(t, err)
	require.True(t, o.node.External())

	// Embedded listen addresses; a missing scheme means http.
	o, err = parseArgs([]string{"--etcd-listen", "127.0.0.1:12379", "--etcd-peer-listen", "http://[::1]:12380"}, env(nil))
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:12379", o.node.Embedded.ClientURL)
	require.Equal(t, "http://[::1]:12380", o.node.Embedded.PeerURL)
}

func TestParseEnvironment(t *testing.T) {
	vars := map[string]string{
		"PINK_ETCD": "https://etcd-1:2379", "PINK_DATA_DIR": "/var/lib/pink",
		"PINK_PREFIX": "/p", "PINK_NODE_ID": "from-env", "PINK_LEASE_TTL": "3s",
		"PINK_HTTP": "localhost:8100", "PINK_DEV": "true", "PINK_LOG_LEVEL": "warn", "PINK_LOG_FORMAT": "json",
	}
	o, err := parseArgs(nil, env(vars))
	require.NoError(t, err)
	c := o.node
	require.Equal(t, []string{"https://etcd-1:2379"}, c.Etcd.Endpoints)
	require.Equal(t, "/var/lib/pink", c.Embedded.DataDir)
	require.Equal(t, "/p", c.Prefix)
	require.Equal(t, "from-env", c.NodeID)
	require.Equal(t, 3*time.Second, c.LeaseTTL)
	require.Equal(t, "localhost:8100", c.HTTPAddr)
	require.True(t, c.Dev)
	require.Equal(t, slog.LevelWarn, o.logLevel)
	require.Equal(t, "json", o.logFormat)

	// The command line wins over the environment.
	o, err = parseArgs([]string{"--node-id", "from-flag", "--lease-ttl", "7s", "--dev=false"}, env(vars))
	require.NoError(t, err)
	require.Equal(t, "from-flag", o.node.NodeID)
	require.Equal(t, 7*time.Second, o.node.LeaseTTL)
	require.False(t, o.node.Dev)
}

func TestParseRejects(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	ca := filepath.Join(dir, "ca.pem")
	cert := filepath.Join(dir, "cert.pem")
	key := filepath.Join(dir, "key.pem")
	junk := filepath.Join(dir, "junk.pem")
	for f, b := range map[string][]byte{ca: certPEM, cert: certPEM, key: keyPEM, junk: []byte("junk")} {
		require.NoError(t, os.WriteFile(f, b, 0o600))
	}
	const ext = "--etcd=https://etcd-1:2379"

	for _, tt := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"unknown flag", []string{"--etcd-endpoints", "x"}, nil, "flag provided but not defined: -etcd-endpoints"},
		{"positional", []string{"serve"}, nil, `unexpected argument "serve"`},
		{"flag without value", []string{"--lease-ttl"}, nil, "flag needs an argument: -lease-ttl"},

		{"etcd not a URL", []string{"--etcd", "ftp://x:1"}, nil, `invalid --etcd "ftp://x:1": endpoint "ftp://x:1": want a URL`},
		{"etcd empty item", []string{"--etcd", "http://a:1,,http://b:2"}, nil, "empty endpoint in the list"},
		{"etcd no port", []string{"--etcd", "http://etcd-1"}, nil, "want a host and a port"},
		{"etcd bad port", []string{"--etcd", "http://etcd-1:99999"}, nil, "port must be a number from 1 to 65535"},
		{"etcd path", []string{"--etcd", "http://etcd-1:2379/v3"}, nil, "want a URL"},
		{"etcd user in URL", []string{"--etcd", "http://u:p@etcd-1:2379"}, nil, "want a URL"},
		{"etcd mixed schemes", []string{"--etcd", "http://a:1,https://b:2"}, nil, "mixes http:// and https://"},
		{"etcd from env", nil, map[string]string{"PINK_ETCD": "nope://"}, `invalid PINK_ETCD "nope://"`},

		{"data dir empty", []string{"--data-dir", " "}, nil, `invalid --data-dir " ": must not be empty`},
		{"listen https", []string{"--etcd-listen", "https://127.0.0.1:2379"}, nil, "the embedded etcd serves plain http only"},
		{"listen hostname", []string{"--etcd-listen", "http://myhost:2379"}, nil, "the host must be an IP address"},
		{"listen no port", []string{"--etcd-listen", "http://127.0.0.1"}, nil, "want a port from 0 to 65535"},
		{"listen garbage", []string{"--etcd-peer-listen", "::::"}, nil, `invalid --etcd-peer-listen "::::"`},
		{"listen same", []string{"--etcd-listen", "127.0.0.1:3000", "--etcd-peer-listen", "http://127.0.0.1:3000"}, nil, "--etcd-listen and --etcd-peer-listen must differ"},
		{"listen with external", []string{ext, "--etcd-listen", "127.0.0.1:2379"}, nil, "--etcd-listen applies to the embedded etcd only"},
		{"peer listen with external", []string{ext}, map[string]string{"PINK_ETCD_PEER_LISTEN": "127.0.0.1:2380"}, "PINK_ETCD_PEER_LISTEN applies to the embedded etcd only"},

		{"prefix relative", []string{"--prefix", "pink"}, nil, `invalid --prefix "pink": want a key path such as /pink`},
		{"prefix trailing slash", []string{"--prefix", "/pink/"}, nil, "without a trailing '/'"},
		{"prefix root", []string{"--prefix", "/"}, nil, `invalid --prefix "/"`},
		{"prefix double slash", []string{"--prefix", "/a//b"}, nil, `invalid --prefix "/a//b"`},
		{"prefix space", []string{"--prefix", "/a b"}, nil, `invalid --prefix "/a b"`},

		{"node id upper", []string{"--node-id", "Node1"}, nil, `invalid --node-id "Node1": must be 1-63 characters of a-z`},
		{"node id slash", []string{"--node-id", "a/b"}, nil, `invalid --node-id "a/b"`},
		{"node id long", []string{"--node-id", strings.Repeat("a", 64)}, nil, "invalid --node-id"},

		{"ttl garbage", []string{"--lease-ttl", "5"}, nil, `invalid --lease-ttl "5": want a Go duration such as 5s`},
		{"ttl short", []string{"--lease-ttl", "1s"}, nil, `invalid --lease-ttl "1s": must be at least 2s`},
		{"ttl negative", []string{"--lease-ttl", "-5s"}, nil, "must be at least 2s"},
		{"ttl long", []string{"--lease-ttl", "2h"}, nil, "must be at most 1h0m0s"},
		{"ttl fraction", []string{"--lease-ttl", "2500ms"}, nil, "must be whole seconds"},
		{"history zero", []string{"--history-per-job", "0"}, nil, `invalid --history-per-job "0": want a whole number from 1 to 100000`},
		{"history garbage", nil, map[string]string{"PINK_HISTORY_PER_JOB": "many"}, `invalid PINK_HISTORY_PER_JOB "many": want a whole number`},
		{"history huge", []string{"--history-per-job", "100001"}, nil, "from 1 to 100000"},
		{"max age short", []string{"--history-max-age", "30s"}, nil, `invalid --history-max-age "30s": must be at least 1m`},
		{"max age garbage", []string{"--history-max-age", "7d"}, nil, "want a Go duration such as 168h"},
		{"prune fast", []string{"--prune-interval", "10ms"}, nil, `invalid --prune-interval "10ms": must be from 1s to 1h`},
		{"prune slow", []string{"--prune-interval", "2h"}, nil, "must be from 1s to 1h"},
		{"ttl env", nil, map[string]string{"PINK_LEASE_TTL": "1s"}, `invalid PINK_LEASE_TTL "1s"`},

		{"http no port", []string{"--http", "127.0.0.1"}, nil, `invalid --http "127.0.0.1": want host:port`},
		{"http bad port", []string{"--http", "127.0.0.1:http"}, nil, "port must be a number from 0 to 65535"},
		{"dev beyond loopback", []string{"--dev", "--http", "0.0.0.0:8002"}, nil, "--dev serves the API and console without login, so --http must be a loopback address"},
		{"dev all interfaces", []string{"--dev", "--http", ":8002"}, nil, "must be a loopback address"},
		{"dev env beyond loopback", []string{"--http", "10.1.2.3:80"}, map[string]string{"PINK_DEV": "1"}, "must be a loopback address"},
		{"dev env garbage", nil, map[string]string{"PINK_DEV": "maybe"}, `invalid PINK_DEV "maybe": want true or false`},

		{"cacert embedded", []string{"--etcd-cacert", ca}, nil, "--etcd-cacert applies to an external etcd only"},
		{"user embedded", []string{"--etcd-user", "u"}, map[string]string{"PINK_ETCD_PASSWORD": "p"}, "--etcd-user applies to an external etcd only"},
		{"password embedded", nil, map[string]string{"PINK_ETCD_PASSWORD": "p"}, "PINK_ETCD_PASSWORD is set but there is no external etcd"},
		{"cert without key", []string{ext, "--etcd-cert", cert}, nil, "--etcd-cert needs --etcd-key"},
		{"key without cert", []string{ext, "--etcd-key", key}, nil, "--etcd-key needs --etcd-cert"},
		{"cacert missing", []string{ext, "--etcd-cacert", filepath.Join(dir, "none.pem")}, nil, "read CA certificates"},
		{"cacert junk", []string{ext, "--etcd-cacert", junk}, nil, "holds no PEM certificate"},
		{"key junk", []string{ext, "--etcd-cert", cert, "--etcd-key", junk}, nil, "load client certificate"},
		{"tls on http", []string{"--etcd", "http://etcd-1:2379", "--etcd-cacert", ca}, nil, "etcd endpoint http://etcd-1:2379 is plain http: use https://"},
		{"user without password", []string{ext, "--etcd-user", "pink"}, nil, "--etcd-user needs the password in the environment variable PINK_ETCD_PASSWORD"},
		{"password without user", []string{ext}, map[string]string{"PINK_ETCD_PASSWORD": "p"}, "PINK_ETCD_PASSWORD is set but --etcd-user is not"},
		{"user with colon", []string{ext, "--etcd-user", "a:b"}, map[string]string{"PINK_ETCD_PASSWORD": "p"}, `invalid --etcd-user "a:b"`},

		{"log level", []string{"--log-level", "verbose"}, nil, `invalid --log-level "verbose": want debug, info, warn or error`},
		{"log format", []string{"--log-format", "xml"}, nil, `invalid --log-format "xml": want text or json`},
		{"log format env", nil, map[string]string{"PINK_LOG_FORMAT": "yaml"}, `invalid PINK_LOG_FORMAT "yaml"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseArgs(tt.args, env(tt.env))
			require.ErrorContains(t, err, tt.want)
			var stderr bytes.Buffer
			code := run(tt.args, env(tt.env), &bytes.Buffer{}, &stderr)
			require.Equal(t, exitUsage, code, "bad input exits with 2")
			require.Contains(t, stderr.String(), tt.want)
			require.Contains(t, stderr.String(), "Run 'pink-node --help' for usage.")
		})
	}
}

func TestParseReportsEveryError(t *testing.T) {
	var stderr bytes.Buffer
	code := run([]string{"--lease-ttl", "1s", "--log-format", "xml", "--prefix", "x"}, env(nil), &bytes.Buffer{}, &stderr)
	require.Equal(t, exitUsage, code)
	out := stderr.String()
	for _, want := range []string{`pink-node: invalid --lease-ttl "1s"`, `pink-node: invalid --log-format "xml"`, `pink-node: invalid --prefix "x"`} {
		require.Contains(t, out, want)
	}
}

func TestValidTLSAccepted(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(ca, certPEM, 0o600))
	require.NoError(t, os.WriteFile(cert, certPEM, 0o600))
	require.NoError(t, os.WriteFile(key, keyPEM, 0o600))
	o, err := parseArgs([]string{"--etcd", "https://etcd-1:2379", "--etcd-cacert", ca, "--etcd-cert", cert, "--etcd-key", key}, env(nil))
	require.NoError(t, err)
	require.Equal(t, ca, o.node.Etcd.CACertFile)
	require.Equal(t, cert, o.node.Etcd.CertFile)
	require.Equal(t, key, o.node.Etcd.KeyFile)
}

func TestHelpAndVersion(t *testing.T) {
	var stdout, stderr bytes.Buffer
	require.Equal(t, exitOK, run([]string{"--help"}, env(nil), &stdout, &stderr))
	help := stdout.String()
	for _, d := range stringFlags {
		require.Contains(t, help, "--"+d.Name)
		require.Contains(t, help, d.Env)
	}
	for _, s := range []string{"--dev", "PINK_DEV", "--version", "PINK_ETCD_PASSWORD"} {
		require.Contains(t, help, s)
	}
	require.Empty(t, stderr.String())

	stdout.Reset()
	require.Equal(t, exitOK, run([]string{"-h"}, env(nil), &stdout, &stderr))
	require.Contains(t, stdout.String(), "Usage: pink-node [flags]")

	stdout.Reset()
	// --version wins over anything else on the line.
	require.Equal(t, exitOK, run([]string{"--version", "--lease-ttl", "1s"}, env(nil), &stdout, &stderr))
	require.True(t, strings.HasPrefix(stdout.String(), "pink-node "), stdout.String())

	version = "v9.9.9"
	defer func() { version = "" }()
	stdout.Reset()
	require.Equal(t, exitOK, run([]string{"--version"}, env(nil), &stdout, &stderr))
	require.Equal(t, "pink-node v9.9.9\n", stdout.String())
}

// selfSigned returns a self-signed certificate and its key, PEM-encoded.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "pink-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	require.NoError(t, err)
	kder, err := x509.MarshalECPrivateKey(k)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}
