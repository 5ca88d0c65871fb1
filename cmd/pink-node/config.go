package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	pinkhttp "github.com/pink-scheduler/pink/adapters/http"
	"github.com/pink-scheduler/pink/cmd/pink-node/node"
	"github.com/pink-scheduler/pink/domain"
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

// errHelp asks for the usage text (-h, --help).
var errHelp = errors.New("help requested")

// flagDef is a string flag and its environment variable.
type flagDef struct {
	name, env, def, usage string
}

// stringFlags are the value flags, in the order --help lists them.
var stringFlags = []flagDef{
	{"etcd", "PINK_ETCD", "", "comma-separated client URLs of an external etcd cluster; empty starts an embedded single-member etcd"},
	{"data-dir", "PINK_DATA_DIR", node.DefaultDataDir, "data directory of the embedded etcd"},
	{"etcd-listen", "PINK_ETCD_LISTEN", node.DefaultClientURL, "client URL the embedded etcd listens on (for other nodes, workers, etcdctl)"},
	{"etcd-peer-listen", "PINK_ETCD_PEER_LISTEN", node.DefaultPeerURL, "peer URL the embedded etcd listens on"},
	{"prefix", "PINK_PREFIX", node.DefaultPrefix, "root of every etcd key Pink uses"},
	{"node-id", "PINK_NODE_ID", "", "this node's ID; default the host name and a random suffix"},
	{"lease-ttl", "PINK_LEASE_TTL", node.DefaultLeaseTTL.String(), "TTL of the node's registration and leadership lease (whole seconds, at least 2s): a crashed leader is replaced within about this long"},
	{"http", "PINK_HTTP", node.DefaultHTTPAddr, "address the HTTP server (health, API, console) listens on"},
	{"etcd-cacert", "PINK_ETCD_CACERT", "", "PEM file of the CAs that sign the external etcd's certificates"},
	{"etcd-cert", "PINK_ETCD_CERT", "", "PEM client certificate for the external etcd (with --etcd-key)"},
	{"etcd-key", "PINK_ETCD_KEY", "", "PEM key of --etcd-cert"},
	{"etcd-user", "PINK_ETCD_USER", "", "etcd user name; the password is read from " + envPassword},
	{"log-level", "PINK_LOG_LEVEL", "info", "debug, info, warn or error"},
	{"log-format", "PINK_LOG_FORMAT", "text", "text or json"},
}

// devUsage is --dev's help text.
const devUsage = "development mode: the API and console need no login; only with a loopback --http address"

// parseArgs parses and checks the command line and the environment
// (getenv): a flag given on the command line wins over its variable,
// which wins over the default. It reports every invalid value at once,
// each naming the flag or variable it came from, and starts nothing.
func parseArgs(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("pink-node", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	raw := make(map[string]*string, len(stringFlags))
	for _, d := range stringFlags {
		raw[d.name] = fs.String(d.name, d.def, d.usage)
	}
	devFlag := fs.Bool("dev", false, devUsage)
	versionFlag := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return options{}, errHelp
		}
		return options{}, err
	}
	if *versionFlag {
		return options{version: true}, nil
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected argument %q: pink-node takes flags only", fs.Arg(0))
	}
	onCmdLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCmdLine[f.Name] = true })

	p := &parser{getenv: getenv, raw: raw, onCmdLine: onCmdLine}
	return p.parse(*devFlag)
}

// parser turns raw flag and environment values into options, collecting
// every error.
type parser struct {
	getenv    func(string) string
	raw       map[string]*string
	onCmdLine map[string]bool
	errs      []error
}

// value is one setting and where it came from.
type value struct {
	s      string
	source string // "--flag" or "ENV_VAR"
	given  bool   // on the command line or in the environment
}

func (p *parser) get(name string) value {
	env := envOf(name)
	if p.onCmdLine[name] {
		return value{s: *p.raw[name], source: "--" + name, given: true}
	}
	if v := p.getenv(env); v != "" {
		return value{s: v, source: env, given: true}
	}
	return value{s: *p.raw[name], source: "--" + name}
}

func envOf(name string) string {
	for _, d := range stringFlags {
		if d.name == name {
			return d.env
		}
	}
	if name == "dev" {
		return "PINK_DEV"
	}
	panic("pink-node: no flag " + name)
}

func (p *parser) bad(v value, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("invalid %s %q: %s", v.source, v.s, fmt.Sprintf(format, args...)))
}

func (p *parser) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *parser) parse(devFlag bool) (options, error) {
	var o options
	c := &o.node

	// etcd: external or embedded.
	etcdV := p.get("etcd")
	external := strings.TrimSpace(etcdV.s) != ""
	if external {
		c.Etcd.Endpoints = p.endpoints(etcdV)
	}
	dataDir := p.get("data-dir")
	if strings.TrimSpace(dataDir.s) == "" {
		p.bad(dataDir, "must not be empty")
	}
	c.Embedded.DataDir = dataDir.s
	for _, name := range []string{"etcd-listen", "etcd-peer-listen"} {
		v := p.get(name)
		if external && v.given {
			p.fail("%s applies to the embedded etcd only: it cannot be used with --etcd", v.source)
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
			p.fail("--etcd-listen and --etcd-peer-listen must differ, both are %s", cu.Host)
		}
	}
	p.tlsAndAuth(c, external)

	// The node.
	prefix := p.get("prefix")
	if !prefixRE.MatchString(prefix.s) {
		p.bad(prefix, "want a key path such as /pink: a '/' then names of letters, digits, '.', '_' or '-', separated by '/', without a trailing '/'")
	}
	c.Prefix = prefix.s
	id := p.get("node-id")
	if id.s == "" {
		h, _ := os.Hostname()
		c.NodeID = node.GenerateID(h)
	} else if err := domain.ValidateName("node_id", id.s); err != nil {
		p.bad(id, "must be 1-%d characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit", domain.MaxNameLen)
	} else {
		c.NodeID = id.s
	}
	c.LeaseTTL = p.leaseTTL(p.get("lease-ttl"))

	// HTTP.
	httpV := p.get("http")
	if _, port, err := net.SplitHostPort(httpV.s); err != nil {
		p.bad(httpV, "want host:port, such as 127.0.0.1:8002")
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.bad(httpV, "port must be a number from 0 to 65535")
	}
	c.HTTPAddr = httpV.s
	c.Dev = devFlag
	if !p.onCmdLine["dev"] {
		if s := p.getenv("PINK_DEV"); s != "" {
			b, err := strconv.ParseBool(s)
			if err != nil {
				p.bad(value{s: s, source: "PINK_DEV"}, "want true or false")
			}
			c.Dev = b
		}
	}
	if c.Dev && !pinkhttp.IsLoopback(c.HTTPAddr) {
		p.fail("--dev serves the API and console without login, so --http must be a loopback address such as 127.0.0.1:8002, not %q", c.HTTPAddr)
	}

	// Logging.
	lv := p.get("log-level")
	switch strings.ToLower(lv.s) {
	case "debug":
		o.logLevel = slog.LevelDebug
	case "info":
		o.logLevel = slog.LevelInfo
	case "warn", "warning":
		o.logLevel = slog.LevelWarn
	case "error":
		o.logLevel = slog.LevelError
	default:
		p.bad(lv, "want debug, info, warn or error")
	}
	lf := p.get("log-format")
	switch strings.ToLower(lf.s) {
	case "text", "json":
		o.logFormat = strings.ToLower(lf.s)
	default:
		p.bad(lf, "want text or json")
	}
	return o, errors.Join(p.errs...)
}

// prefixRE matches a valid --prefix.
var prefixRE = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)

// endpoints parses --etcd.
func (p *parser) endpoints(v value) []string {
	var out []string
	schemes := map[string]bool{}
	for _, item := range strings.Split(v.s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			p.bad(v, "empty endpoint in the list")
			continue
		}
		if !strings.Contains(item, "://") {
			item = "http://" + item
		}
		u, err := url.Parse(item)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			p.bad(v, "endpoint %q: want a URL such as http://10.0.0.1:2379 or https://etcd-1:2379", item)
			continue
		}
		if u.Hostname() == "" || u.Port() == "" {
			p.bad(v, "endpoint %q: want a host and a port, such as http://10.0.0.1:2379", item)
			continue
		}
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 {
			p.bad(v, "endpoint %q: port must be a number from 1 to 65535", item)
			continue
		}
		schemes[u.Scheme] = true
		out = append(out, u.Scheme+"://"+u.Host)
	}
	if len(schemes) > 1 {
		p.bad(v, "mixes http:// and https:// endpoints")
	}
	return out
}

// listenURL checks an embedded etcd listen URL and returns it normalized.
func (p *parser) listenURL(v value) (string, bool) {
	s := strings.TrimSpace(v.s)
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "":
		p.bad(v, "want a URL such as http://127.0.0.1:2379")
		return "", false
	case u.Scheme == "https":
		p.bad(v, "the embedded etcd serves plain http only; for TLS run an etcd cluster and use --etcd")
		return "", false
	case u.Scheme != "http":
		p.bad(v, "want a URL such as http://127.0.0.1:2379")
		return "", false
	}
	host, port := u.Hostname(), u.Port()
	if host != "localhost" && net.ParseIP(host) == nil {
		p.bad(v, "the host must be an IP address (or localhost), such as 127.0.0.1")
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		p.bad(v, "want a port from 0 to 65535, such as http://127.0.0.1:2379")
		return "", false
	}
	return "http://" + u.Host, true
}

// leaseTTL parses --lease-ttl.
func (p *parser) leaseTTL(v value) time.Duration {
	d, err := time.ParseDuration(v.s)
	switch {
	case err != nil:
		p.bad(v, "want a Go duration such as 5s or 1m")
	case d < node.MinLeaseTTL:
		p.bad(v, "must be at least %s", node.MinLeaseTTL)
	case d > node.MaxLeaseTTL:
		p.bad(v, "must be at most %s", node.MaxLeaseTTL)
	case d%time.Second != 0:
		p.bad(v, "must be whole seconds (etcd leases are), such as 5s")
	default:
		return d
	}
	return 0
}

// tlsAndAuth parses the TLS and auth settings of an external etcd.
func (p *parser) tlsAndAuth(c *node.Config, external bool) {
	ca, cert, key, user := p.get("etcd-cacert"), p.get("etcd-cert"), p.get("etcd-key"), p.get("etcd-user")
	password := p.getenv(envPassword)
	if !external {
		for _, v := range []value{ca, cert, key, user} {
			if v.given {
				p.fail("%s applies to an external etcd only: it needs --etcd", v.source)
			}
		}
		if password != "" {
			p.fail("%s is set but there is no external etcd (--etcd) to log in to", envPassword)
		}
		return
	}
	switch {
	case cert.given && !key.given:
		p.fail("%s needs --etcd-key (the certificate's private key)", cert.source)
	case key.given && !cert.given:
		p.fail("%s needs --etcd-cert (the client certificate)", key.source)
	}
	c.Etcd.CACertFile, c.Etcd.CertFile, c.Etcd.KeyFile = ca.s, cert.s, key.s
	if (ca.given || cert.given) && cert.given == key.given {
		if _, err := c.Etcd.TLSConfig(); err != nil {
			p.fail("etcd TLS (--etcd-cacert, --etcd-cert, --etcd-key): %v", strings.TrimPrefix(err.Error(), "etcd client: "))
		}
		for _, ep := range c.Etcd.Endpoints {
			if strings.HasPrefix(ep, "http://") {
				p.fail("TLS files are given but etcd endpoint %s is plain http: use https://", ep)
				break
			}
		}
	}
	switch {
	case user.given && password == "":
		p.fail("%s needs the password in the environment variable %s", user.source, envPassword)
	case !user.given && password != "":
		p.fail("%s is set but --etcd-user is not", envPassword)
	case user.given && strings.ContainsAny(user.s, " \t\n:"):
		p.bad(user, "must not contain spaces or ':'")
	}
	c.Etcd.Username, c.Etcd.Password = user.s, password
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
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range stringFlags {
		def := ""
		if d.def != "" {
			def = " (default " + d.def + ")"
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s%s\n", d.name, d.env, d.usage, def)
	}
	fmt.Fprintf(tw, "  --dev\tPINK_DEV\t%s\n", devUsage)
	fmt.Fprintf(tw, "  --version\t\tprint the version and exit\n")
	_ = tw.Flush()
	fmt.Fprintf(w, "\nThe etcd password (with --etcd-user) is read from %s only.\n", envPassword)
}
