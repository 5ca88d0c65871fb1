package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/cmd/pink-node/node"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/internal/cli"
)

// envPassword carries the etcd password: never a flag, so it does not show
// in ps or in the shell's history.
const envPassword = "PINK_ETCD_PASSWORD"

// options is the parsed command line.
type options struct {
	node      node.Config
	logLevel  slog.Level
	logFormat string
	version   bool
}

// stringFlags are the value flags, in the order --help lists them.
var stringFlags = []cli.Flag{
	{Name: "etcd", Env: "PINK_ETCD", Usage: "comma-separated client URLs of an external etcd cluster; empty starts an embedded single-member etcd"},
	{Name: "data-dir", Env: "PINK_DATA_DIR", Default: node.DefaultDataDir, Usage: "data directory of the embedded etcd"},
	{Name: "etcd-listen", Env: "PINK_ETCD_LISTEN", Default: node.DefaultClientURL, Usage: "client URL the embedded etcd listens on (for other nodes, workers, etcdctl)"},
	{Name: "etcd-peer-listen", Env: "PINK_ETCD_PEER_LISTEN", Default: node.DefaultPeerURL, Usage: "peer URL the embedded etcd listens on"},
	{Name: "prefix", Env: "PINK_PREFIX", Default: node.DefaultPrefix, Usage: "root of every etcd key Pink uses"},
	{Name: "node-id", Env: "PINK_NODE_ID", Usage: "this node's ID; default the host name and a random suffix"},
	{Name: "lease-ttl", Env: "PINK_LEASE_TTL", Default: node.DefaultLeaseTTL.String(), Usage: "TTL of the node's registration and leadership lease (whole seconds, at least 2s): a crashed leader is replaced within about this long"},
	{Name: "history-per-job", Env: "PINK_HISTORY_PER_JOB", Default: strconv.Itoa(node.DefaultHistoryPerJob), Usage: "finished runs and fire records kept per job (the leader prunes older ones)"},
	{Name: "history-max-age", Env: "PINK_HISTORY_MAX_AGE", Default: node.DefaultHistoryMaxAge.String(), Usage: "finished runs and fire records older than this are pruned (a Go duration, at least 1m)"},
	{Name: "prune-interval", Env: "PINK_PRUNE_INTERVAL", Default: node.DefaultPruneInterval.String(), Usage: "how often the leader prunes history (a Go duration, 1s to 1h)"},
	{Name: "http", Env: "PINK_HTTP", Default: node.DefaultHTTPAddr, Usage: "address the HTTP server (health, API, console) listens on"},
	{Name: "etcd-cacert", Env: "PINK_ETCD_CACERT", Usage: "PEM file of the CAs that sign the external etcd's certificates"},
	{Name: "etcd-cert", Env: "PINK_ETCD_CERT", Usage: "PEM client certificate for the external etcd (with --etcd-key)"},
	{Name: "etcd-key", Env: "PINK_ETCD_KEY", Usage: "PEM key of --etcd-cert"},
	{Name: "etcd-user", Env: "PINK_ETCD_USER", Usage: "etcd user name; the password is read from " + envPassword},
	{Name: "log-level", Env: "PINK_LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error"},
	{Name: "log-format", Env: "PINK_LOG_FORMAT", Default: "text", Usage: "text or json"},
}

// devFlag is --dev, listed after stringFlags.
var devFlag = cli.Flag{
	Name: "dev", Env: "PINK_DEV", Bool: true,
	Usage: "development mode: the API and console need no login; only with a loopback --http address",
}

// allFlags are every flag but --version, in the order --help lists them.
var allFlags = append(stringFlags[:len(stringFlags):len(stringFlags)], devFlag)

// parseArgs parses and checks the command line and the environment
// (getenv): a flag given on the command line wins over its variable,
// which wins over the default. It reports every invalid value at once,
// each naming the flag or variable it came from, and starts nothing.
func parseArgs(args []string, getenv func(string) string) (options, error) {
	cp, version, err := cli.Parse("pink-node", allFlags, args, getenv)
	if err != nil || version {
		return options{version: version}, err
	}
	p := &parser{cp}
	return p.parse()
}

// parser turns raw flag and environment values into options, collecting
// every error.
type parser struct{ *cli.Parser }

// value is one setting and where it came from.
type value = cli.Value

func (p *parser) parse() (options, error) {
	var o options
	c := &o.node

	// etcd: external or embedded.
	etcdV := p.Get("etcd")
	external := strings.TrimSpace(etcdV.S) != ""
	if external {
		c.Etcd.Endpoints = p.endpoints(etcdV)
	}
	dataDir := p.Get("data-dir")
	if strings.TrimSpace(dataDir.S) == "" {
		p.Bad(dataDir, "must not be empty")
	}
	c.Embedded.DataDir = dataDir.S
	for _, name := range []string{"etcd-listen", "etcd-peer-listen"} {
		v := p.Get(name)
		if external && v.Given {
			p.Fail("%s applies to the embedded etcd only: it cannot be used with --etcd", v.Source)
			continue
		}
		u, ok := p.listenURL(v)
		if !ok {
			continue
		}
		if name == "etcd-listen" {
			c.Embedded.ClientURL = u
		} else {
			c.Embedded.PeerURL = u
		}
	}
	if !external && c.Embedded.ClientURL != "" && c.Embedded.PeerURL != "" {
		cu, _ := url.Parse(c.Embedded.ClientURL)
		pu, _ := url.Parse(c.Embedded.PeerURL)
		if cu.Host == pu.Host && cu.Port() != "0" {
			p.Fail("--etcd-listen and --etcd-peer-listen must differ, both are %s", cu.Host)
		}
	}
	p.tlsAndAuth(c, external)

	// The node.
	c.Prefix = p.Prefix("prefix")
	id := p.Get("node-id")
	if id.S == "" {
		h, _ := os.Hostname()
		c.NodeID = node.GenerateID(h)
	} else if err := domain.ValidateName("node_id", id.S); err != nil {
		p.Bad(id, "must be 1-%d characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit", domain.MaxNameLen)
	} else {
		c.NodeID = id.S
	}
	c.LeaseTTL = p.leaseTTL(p.Get("lease-ttl"))
	p.history(c)

	// HTTP.
	httpV := p.Get("http")
	if _, port, err := net.SplitHostPort(httpV.S); err != nil {
		p.Bad(httpV, "want host:port, such as 127.0.0.1:8002")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.Bad(httpV, "port must be a number from 0 to 65535")
	}
	c.HTTPAddr = httpV.S
	c.Dev, _ = p.GetBool("dev")
	if c.Dev && !pinkhttp.IsLoopback(c.HTTPAddr) {
		p.Fail("--dev serves the API and console without login, so --http must be a loopback address such as 127.0.0.1:8002, not %q", c.HTTPAddr)
	}

	o.logLevel = p.LogLevel("log-level")
	o.logFormat = p.LogFormat("log-format")
	return o, p.Err()
}

// endpoints parses --etcd.
func (p *parser) endpoints(v value) []string {
	var out []string
	schemes := map[string]bool{}
	for _, item := range strings.Split(v.S, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			p.Bad(v, "empty endpoint in the list")
			continue
		}
		if !strings.Contains(item, "://") {
			item = "http://" + item
		}
		u, err := url.Parse(item)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			p.Bad(v, "endpoint %q: want a URL such as http://10.0.0.1:2379 or https://etcd-1:2379", item)
			continue
		}
		if u.Hostname() == "" || u.Port() == "" {
			p.Bad(v, "endpoint %q: want a host and a port, such as http://10.0.0.1:2379", item)
			continue
		}
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			p.Bad(v, "endpoint %q: port must be a number from 1 to 65535", item)
			continue
		}
		schemes[u.Scheme] = true
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(schemes) > 1 {
		p.Bad(v, "mixes http:// and https:// endpoints")
	}
	return out
}

// listenURL checks an embedded etcd listen URL and returns it normalized.
func (p *parser) listenURL(v value) (string, bool) {
	s := strings.TrimSpace(v.S)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		p.Bad(v, "want a URL such as http://127.0.0.1:2379")
		return "", false
	case u.Scheme == "https":
		p.Bad(v, "the embedded etcd serves plain http only; for TLS run an etcd cluster and use --etcd")
		return "", false
	case u.Scheme != "http":
		p.Bad(v, "want a URL such as http://127.0.0.1:2379")
		return "", false
	}
	host, port := u.Hostname(), u.Port()
	if host != "localhost" && net.ParseIP(host) == nil {
		p.Bad(v, "the host must be an IP address (or localhost), such as 127.0.0.1")
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.Bad(v, "want a port from 0 to 65535, such as http://127.0.0.1:2379")
		return "", false
	}
	return "http://" + u.Host, true
}

// leaseTTL parses --lease-ttl.
func (p *parser) leaseTTL(v value) time.Duration {
	d, err := time.ParseDuration(v.S)
	switch {
	case err != nil:
		p.Bad(v, "want a Go duration such as 5s or 1m")
	case d < node.MinLeaseTTL:
		p.Bad(v, "must be at least %s", node.MinLeaseTTL)
	case d > node.MaxLeaseTTL:
		p.Bad(v, "must be at most %s", node.MaxLeaseTTL)
	case d%time.Second != 0:
		p.Bad(v, "must be whole seconds (etcd leases are), such as 5s")
	default:
		return d
	}
	return 0
}

// history parses the retention flags.
func (p *parser) history(c *node.Config) {
	v := p.Get("history-per-job")
	if n, err := strconv.Atoi(strings.TrimSpace(v.S)); err != nil || n < 1 || n > node.MaxHistoryPerJob {
		p.Bad(v, "want a whole number from 1 to %d", node.MaxHistoryPerJob)
	} else {
		c.History.PerJob = n
	}
	v = p.Get("history-max-age")
	if d, err := time.ParseDuration(v.S); err != nil {
		p.Bad(v, "want a Go duration such as 168h")
	} else if d < time.Minute {
		p.Bad(v, "must be at least 1m")
	} else {
		c.History.MaxAge = d
	}
	v = p.Get("prune-interval")
	if d, err := time.ParseDuration(v.S); err != nil {
		p.Bad(v, "want a Go duration such as 1m")
	} else if d < time.Second || d > time.Hour {
		p.Bad(v, "must be from 1s to 1h")
	} else {
		c.PruneInterval = d
	}
}

// tlsAndAuth parses the TLS and auth settings of an external etcd.
func (p *parser) tlsAndAuth(c *node.Config, external bool) {
	if external {
		p.EtcdTLSAndAuth(&c.Etcd, envPassword)
		return
	}
	for _, name := range []string{"etcd-cacert", "etcd-cert", "etcd-key", "etcd-user"} {
		if v := p.Get(name); v.Given {
			p.Fail("%s applies to an external etcd only: it needs --etcd", v.Source)
		}
	}
	if p.Getenv(envPassword) != "" {
		p.Fail("%s is set but there is no external etcd (--etcd) to log in to", envPassword)
	}
}

// printUsage writes the --help text.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `pink-node: a Pink scheduler node.

With no --etcd it starts an embedded single-member etcd in --data-dir, so one
command is a working single-machine install; with --etcd it joins an etcd
cluster (high availability: run several nodes on one cluster).

Usage: pink-node [flags]

Every flag can also be set by its environment variable; the command line wins.

`)
	cli.PrintFlags(w, allFlags)
	fmt.Fprintf(w, "\nThe etcd password (with --etcd-user) is read from %s only.\n", envPassword)
}
