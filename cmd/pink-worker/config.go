package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/app/worker/builtin"
	"github.com/pink-scheduler/pink/domain"
)

// envPassword carries the etcd password: never a flag, so it does not show
// in ps or in the shell's history.
const envPassword = "PINK_ETCD_PASSWORD"

// Defaults of the flags.
const (
	defaultEtcd = "http://127.0.0.1:2379"
)

// options is the parsed command line.
type options struct {
	group        string
	id           string // "" generates one
	labels       map[string]string
	capacity     int
	leaseTTL     time.Duration
	drainTimeout time.Duration
	prefix       string
	etcd         etcd.ClientConfig
	// shell and http are nil when the handler is off.
	shell     *builtin.ShellOptions
	http      *builtin.HTTPOptions
	logLevel  slog.Level
	logFormat string
	version   bool
}

// handlers returns the names of the handlers the options enable.
func (o *options) handlers() []string {
	var hs []string
	if o.shell != nil {
		hs = append(hs, builtin.ShellName)
	}
	if o.http != nil {
		hs = append(hs, builtin.HTTPName)
	}
	return hs
}

// errHelp asks for the usage text (-h, --help).
var errHelp = errors.New("help requested")

// flagDef is a flag and its environment variable.
type flagDef struct {
	name, env, def, usage string
	bool                  bool
}

// flags are the flags, in the order --help lists them.
var flags = []flagDef{
	{name: "group", env: "PINK_GROUP", usage: "job group the worker serves; required"},
	{name: "etcd", env: "PINK_ETCD", def: defaultEtcd, usage: "comma-separated client URLs of Pink's etcd cluster (the default is where a pink-node's embedded etcd listens)"},
	{name: "prefix", env: "PINK_PREFIX", def: etcd.DefaultPrefix, usage: "root of every etcd key Pink uses (the nodes' --prefix)"},
	{name: "id", env: "PINK_WORKER_ID", usage: "worker ID, unique while it runs; default the host name and a random suffix"},
	{name: "labels", env: "PINK_LABELS", usage: "comma-separated key=value labels jobs can select the worker by"},
	{name: "capacity", env: "PINK_CAPACITY", def: strconv.Itoa(domain.DefaultCapacity), usage: "most runs executed at once"},
	{name: "lease-ttl", env: "PINK_LEASE_TTL", def: worker.DefaultLeaseTTL.String(), usage: "TTL of the worker's registration (whole seconds): a crashed worker's runs are failed over after about this long"},
	{name: "drain-timeout", env: "PINK_DRAIN_TIMEOUT", def: worker.DefaultDrainTimeout.String(), usage: "on SIGINT/SIGTERM, how long running runs may finish before they are cancelled"},
	{name: "allow-shell", env: "PINK_ALLOW_SHELL", bool: true, usage: "register the \"shell\" handler: jobs of the group run commands on this machine as this user (remote code execution by design)"},
	{name: "shell-allow", env: "PINK_SHELL_ALLOW", usage: "comma-separated executables the shell handler may run (names looked up in PATH, or absolute paths); default any"},
	{name: "allow-shell-syntax", env: "PINK_ALLOW_SHELL_SYNTAX", bool: true, usage: "let shell jobs set \"shell\": true (/bin/sh -c); with --shell-allow, sh must be on it"},
	{name: "shell-inherit-env", env: "PINK_SHELL_INHERIT_ENV", bool: true, usage: "give commands the worker's whole environment instead of PATH, HOME and LANG only"},
	{name: "allow-http", env: "PINK_ALLOW_HTTP", bool: true, usage: "register the \"http\" handler (needs --http-allow-hosts)"},
	{name: "http-allow-hosts", env: "PINK_HTTP_ALLOW_HOSTS", usage: "comma-separated hosts the http handler may call: host, host:port or *.domain"},
	{name: "etcd-cacert", env: "PINK_ETCD_CACERT", usage: "PEM file of the CAs that sign etcd's certificates"},
	{name: "etcd-cert", env: "PINK_ETCD_CERT", usage: "PEM client certificate for etcd (with --etcd-key)"},
	{name: "etcd-key", env: "PINK_ETCD_KEY", usage: "PEM key of --etcd-cert"},
	{name: "etcd-user", env: "PINK_ETCD_USER", usage: "etcd user name; the password is read from " + envPassword},
	{name: "log-level", env: "PINK_LOG_LEVEL", def: "info", usage: "debug, info, warn or error"},
	{name: "log-format", env: "PINK_LOG_FORMAT", def: "text", usage: "text or json"},
}

// parseArgs parses and checks the command line and the environment
// (getenv): a flag on the command line wins over its variable, which wins
// over the default. It reports every invalid value at once, each naming
// the flag or variable it came from, and starts nothing.
func parseArgs(args []string, getenv func(string) string) (options, error) {
	fs := flag.NewFlagSet("pink-worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	raw := make(map[string]*string, len(flags))
	bools := make(map[string]*bool)
	for _, d := range flags {
		if d.bool {
			bools[d.name] = fs.Bool(d.name, false, d.usage)
		} else {
			raw[d.name] = fs.String(d.name, d.def, d.usage)
		}
	}
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
		return options{}, fmt.Errorf("unexpected argument %q: pink-worker takes flags only", fs.Arg(0))
	}
	onCmdLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCmdLine[f.Name] = true })
	p := &parser{getenv: getenv, raw: raw, bools: bools, onCmdLine: onCmdLine}
	return p.parse()
}

// parser turns raw flag and environment values into options, collecting
// every error.
type parser struct {
	getenv    func(string) string
	raw       map[string]*string
	bools     map[string]*bool
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
	d := def(name)
	if p.onCmdLine[name] {
		return value{s: *p.raw[name], source: "--" + name, given: true}
	}
	if v := p.getenv(d.env); v != "" {
		return value{s: v, source: d.env, given: true}
	}
	return value{s: d.def, source: "--" + name}
}

// getBool returns a boolean flag and where it came from.
func (p *parser) getBool(name string) (bool, value) {
	d := def(name)
	if p.onCmdLine[name] {
		return *p.bools[name], value{s: strconv.FormatBool(*p.bools[name]), source: "--" + name, given: true}
	}
	if s := p.getenv(d.env); s != "" {
		v := value{s: s, source: d.env, given: true}
		b, err := strconv.ParseBool(s)
		if err != nil {
			p.bad(v, "want true or false")
		}
		return b, v
	}
	return false, value{s: "false", source: "--" + name}
}

func def(name string) flagDef {
	for _, d := range flags {
		if d.name == name {
			return d
		}
	}
	panic("pink-worker: no flag " + name)
}

func (p *parser) bad(v value, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("invalid %s %q: %s", v.source, v.s, fmt.Sprintf(format, args...)))
}

func (p *parser) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *parser) parse() (options, error) {
	var o options

	// The worker.
	group := p.get("group")
	switch {
	case group.s == "":
		p.fail("--group (or PINK_GROUP) is required: the job group this worker serves")
	case domain.ValidateName("group", group.s) != nil:
		p.bad(group, "must be 1-%d characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit", domain.MaxNameLen)
	}
	o.group = group.s
	if id := p.get("id"); id.s != "" {
		if domain.ValidateName("id", id.s) != nil {
			p.bad(id, "must be 1-%d characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit", domain.MaxNameLen)
		}
		o.id = id.s
	}
	o.labels = p.labels(p.get("labels"))
	capV := p.get("capacity")
	if n, err := strconv.Atoi(capV.s); err != nil || n < 1 || n > domain.MaxCapacity {
		p.bad(capV, "want a number from 1 to %d", domain.MaxCapacity)
	} else {
		o.capacity = n
	}
	ttl := p.get("lease-ttl")
	if d, ok := p.duration(ttl); ok {
		switch {
		case d < etcd.MinRegistrationTTL || d > etcd.MaxRegistrationTTL:
			p.bad(ttl, "must be between %s and %s", etcd.MinRegistrationTTL, etcd.MaxRegistrationTTL)
		case d%time.Second != 0:
			p.bad(ttl, "must be whole seconds (etcd leases are), such as 5s")
		default:
			o.leaseTTL = d
		}
	}
	drain := p.get("drain-timeout")
	if d, ok := p.duration(drain); ok {
		if d < 0 {
			p.bad(drain, "must not be negative")
		}
		o.drainTimeout = d
	}

	// The handlers.
	before := len(p.errs)
	o.shell = p.shell()
	o.http = p.http()
	if o.shell == nil && o.http == nil && len(p.errs) == before {
		p.fail("no handlers enabled: pass --allow-shell (jobs run commands on this machine: " +
			"remote code execution by design; limit it with --shell-allow) and/or --allow-http " +
			"with --http-allow-hosts (jobs call those hosts)")
	}

	// etcd.
	o.etcd.Endpoints = p.endpoints(p.get("etcd"))
	prefix := p.get("prefix")
	if !prefixRE.MatchString(prefix.s) {
		p.bad(prefix, "want a key path such as /pink: a '/' then names of letters, digits, '.', '_' or '-', separated by '/', without a trailing '/'")
	}
	o.prefix = prefix.s
	p.tlsAndAuth(&o.etcd)

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

// duration parses a Go duration.
func (p *parser) duration(v value) (time.Duration, bool) {
	d, err := time.ParseDuration(v.s)
	if err != nil {
		p.bad(v, "want a Go duration such as 5s or 1m")
		return 0, false
	}
	return d, true
}

// list splits a comma-separated value, refusing empty items.
func (p *parser) list(v value) []string {
	if strings.TrimSpace(v.s) == "" {
		return nil
	}
	var out []string
	for _, item := range strings.Split(v.s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			p.bad(v, "empty item in the list")
			continue
		}
		out = append(out, item)
	}
	return out
}

// labels parses --labels.
func (p *parser) labels(v value) map[string]string {
	items := p.list(v)
	if len(items) == 0 {
		return nil
	}
	m := make(map[string]string, len(items))
	for _, item := range items {
		k, val, ok := strings.Cut(item, "=")
		if !ok || k == "" {
			p.bad(v, "label %q: want key=value", item)
			continue
		}
		if _, dup := m[k]; dup {
			p.bad(v, "label %q given twice", k)
		}
		m[k] = val
	}
	if err := domain.ValidateLabels("labels", m); err != nil {
		p.bad(v, "%s", strings.TrimPrefix(err.Error(), "pink: invalid labels: "))
	}
	return m
}

// shell parses the shell handler's flags; nil means off.
func (p *parser) shell() *builtin.ShellOptions {
	on, _ := p.getBool("allow-shell")
	allow := p.get("shell-allow")
	syntax, syntaxV := p.getBool("allow-shell-syntax")
	inherit, inheritV := p.getBool("shell-inherit-env")
	if !on {
		for _, v := range []value{allow, syntaxV, inheritV} {
			if v.given {
				p.fail("%s configures the shell handler, which is off: it needs --allow-shell", v.source)
			}
		}
		return nil
	}
	o := &builtin.ShellOptions{Allow: p.list(allow), AllowShellSyntax: syntax, InheritEnv: inherit}
	if err := o.Validate(); err != nil {
		p.bad(allow, "%s", strings.TrimPrefix(err.Error(), "shell allow-list: "))
	}
	return o
}

// http parses the HTTP handler's flags; nil means off.
func (p *parser) http() *builtin.HTTPOptions {
	on, _ := p.getBool("allow-http")
	hostsV := p.get("http-allow-hosts")
	hosts := p.list(hostsV)
	switch {
	case !on && hostsV.given:
		p.fail("%s configures the http handler, which is off: it needs --allow-http", hostsV.source)
		return nil
	case !on:
		return nil
	case len(hosts) == 0:
		p.fail("--allow-http needs --http-allow-hosts: the hosts jobs may call (host, host:port or *.domain)")
		return nil
	}
	o := &builtin.HTTPOptions{AllowHosts: hosts}
	if err := o.Validate(); err != nil {
		p.bad(hostsV, "%s", strings.TrimPrefix(err.Error(), "http allow-list: "))
	}
	return o
}

// endpoints parses --etcd.
func (p *parser) endpoints(v value) []string {
	items := p.list(v)
	if len(items) == 0 {
		p.bad(v, "want at least one etcd client URL, such as %s", defaultEtcd)
	}
	var out []string
	schemes := map[string]bool{}
	for _, item := range items {
		if !strings.Contains(item, "://") {
			item = "http://" + item
		}
		u, err := url.Parse(item)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			p.bad(v, "endpoint %q: want a URL such as http://10.0.0.1:2379 or https://etcd-1:2379", item)
			continue
		}
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 || u.Hostname() == "" {
			p.bad(v, "endpoint %q: want a host and a port from 1 to 65535, such as http://10.0.0.1:2379", item)
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

// tlsAndAuth parses etcd's TLS and auth settings.
func (p *parser) tlsAndAuth(c *etcd.ClientConfig) {
	ca, cert, key, user := p.get("etcd-cacert"), p.get("etcd-cert"), p.get("etcd-key"), p.get("etcd-user")
	password := p.getenv(envPassword)
	switch {
	case cert.given && !key.given:
		p.fail("%s needs --etcd-key (the certificate's private key)", cert.source)
	case key.given && !cert.given:
		p.fail("%s needs --etcd-cert (the client certificate)", key.source)
	}
	c.CACertFile, c.CertFile, c.KeyFile = ca.s, cert.s, key.s
	if (ca.given || cert.given) && cert.given == key.given {
		if _, err := c.TLSConfig(); err != nil {
			p.fail("etcd TLS (--etcd-cacert, --etcd-cert, --etcd-key): %v", strings.TrimPrefix(err.Error(), "etcd client: "))
		}
		for _, ep := range c.Endpoints {
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
	c.Username, c.Password = user.s, password
}

// printUsage writes the --help text.
func printUsage(w io.Writer) {
	fmt.Fprint(w, `pink-worker: a Pink worker with the built-in handlers.

It registers in a job group on Pink's etcd and runs the jobs the leader
assigns to it. Its handlers are off unless enabled:

  shell  runs a job's command: {"command":["prog","arg",...],"env":{...},"dir":"/path"}.
         This is remote code execution by design: anyone who can create jobs
         in the group runs programs here, as this user. Enable it with
         --allow-shell, and limit it with --shell-allow.
  http   calls a URL: {"url":"https://...","method":"POST","body":"..."}, only
         to the hosts of --http-allow-hosts. Enable it with --allow-http.

Usage: pink-worker --group G (--allow-shell | --allow-http --http-allow-hosts H) [flags]

Every flag can also be set by its environment variable; the command line wins.

`)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range flags {
		dflt := ""
		if d.def != "" {
			dflt = " (default " + d.def + ")"
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s%s\n", d.name, d.env, d.usage, dflt)
	}
	fmt.Fprintf(tw, "  --version\t\tprint the version and exit\n")
	_ = tw.Flush()
	fmt.Fprintf(w, "\nThe etcd password (with --etcd-user) is read from %s only.\n"+
		"SIGINT or SIGTERM drains: no new runs, running ones get --drain-timeout; a second signal exits at once.\n", envPassword)
}
