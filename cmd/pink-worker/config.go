package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/adapters/etcd"
	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/app/worker/builtin"
	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/internal/cli"
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

// flags are the flags, in the order --help lists them.
var flags = []cli.Flag{
	{Name: "group", Env: "PINK_GROUP", Usage: "job group the worker serves; required"},
	{Name: "etcd", Env: "PINK_ETCD", Default: defaultEtcd, Usage: "comma-separated client URLs of Pink's etcd cluster (the default is where a pink-node's embedded etcd listens)"},
	{Name: "prefix", Env: "PINK_PREFIX", Default: etcd.DefaultPrefix, Usage: "root of every etcd key Pink uses (the nodes' --prefix)"},
	{Name: "id", Env: "PINK_WORKER_ID", Usage: "worker ID, unique while it runs; default the host name and a random suffix"},
	{Name: "labels", Env: "PINK_LABELS", Usage: "comma-separated key=value labels jobs can select the worker by"},
	{Name: "capacity", Env: "PINK_CAPACITY", Default: strconv.Itoa(domain.DefaultCapacity), Usage: "most runs executed at once"},
	{Name: "lease-ttl", Env: "PINK_LEASE_TTL", Default: worker.DefaultLeaseTTL.String(), Usage: "TTL of the worker's registration (whole seconds): a crashed worker's runs are failed over after about this long"},
	{Name: "drain-timeout", Env: "PINK_DRAIN_TIMEOUT", Default: worker.DefaultDrainTimeout.String(), Usage: "on SIGINT/SIGTERM, how long running runs may finish before they are cancelled"},
	{Name: "allow-shell", Env: "PINK_ALLOW_SHELL", Bool: true, Usage: "register the \"shell\" handler: jobs of the group run commands on this machine as this user (remote code execution by design)"},
	{Name: "shell-allow", Env: "PINK_SHELL_ALLOW", Usage: "comma-separated executables the shell handler may run (names looked up in PATH, or absolute paths); default any"},
	{Name: "allow-shell-syntax", Env: "PINK_ALLOW_SHELL_SYNTAX", Bool: true, Usage: "let shell jobs set \"shell\": true (/bin/sh -c); with --shell-allow, sh must be on it"},
	{Name: "shell-inherit-env", Env: "PINK_SHELL_INHERIT_ENV", Bool: true, Usage: "give commands the worker's whole environment instead of PATH, HOME and LANG only"},
	{Name: "allow-http", Env: "PINK_ALLOW_HTTP", Bool: true, Usage: "register the \"http\" handler (needs --http-allow-hosts)"},
	{Name: "http-allow-hosts", Env: "PINK_HTTP_ALLOW_HOSTS", Usage: "comma-separated hosts the http handler may call: host, host:port or *.domain"},
	{Name: "etcd-cacert", Env: "PINK_ETCD_CACERT", Usage: "PEM file of the CAs that sign etcd's certificates"},
	{Name: "etcd-cert", Env: "PINK_ETCD_CERT", Usage: "PEM client certificate for etcd (with --etcd-key)"},
	{Name: "etcd-key", Env: "PINK_ETCD_KEY", Usage: "PEM key of --etcd-cert"},
	{Name: "etcd-user", Env: "PINK_ETCD_USER", Usage: "etcd user name; the password is read from " + envPassword},
	{Name: "log-level", Env: "PINK_LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error"},
	{Name: "log-format", Env: "PINK_LOG_FORMAT", Default: "text", Usage: "text or json"},
}

// parseArgs parses and checks the command line and the environment
// (getenv): a flag on the command line wins over its variable, which wins
// over the default. It reports every invalid value at once, each naming
// the flag or variable it came from, and starts nothing.
func parseArgs(args []string, getenv func(string) string) (options, error) {
	cp, version, err := cli.Parse("pink-worker", flags, args, getenv)
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

	// The worker.
	group := p.Get("group")
	switch {
	case group.S == "":
		p.Fail("--group (or PINK_GROUP) is required: the job group this worker serves")
	case domain.ValidateName("group", group.S) != nil:
		p.Bad(group, "must be 1-%d characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit", domain.MaxNameLen)
	}
	o.group = group.S
	if id := p.Get("id"); id.S != "" {
		if domain.ValidateName("id", id.S) != nil {
			p.Bad(id, "must be 1-%d characters of a-z, 0-9, '-', '_' or '.', starting with a letter or digit", domain.MaxNameLen)
		}
		o.id = id.S
	}
	o.labels = p.labels(p.Get("labels"))
	capV := p.Get("capacity")
	if n, err := strconv.Atoi(capV.S); err != nil || n < 1 || n > domain.MaxCapacity {
		p.Bad(capV, "want a number from 1 to %d", domain.MaxCapacity)
	} else {
		o.capacity = n
	}
	ttl := p.Get("lease-ttl")
	if d, ok := p.duration(ttl); ok {
		switch {
		case d < etcd.MinRegistrationTTL || d > etcd.MaxRegistrationTTL:
			p.Bad(ttl, "must be between %s and %s", etcd.MinRegistrationTTL, etcd.MaxRegistrationTTL)
		case d%time.Second != 0:
			p.Bad(ttl, "must be whole seconds (etcd leases are), such as 5s")
		default:
			o.leaseTTL = d
		}
	}
	drain := p.Get("drain-timeout")
	if d, ok := p.duration(drain); ok {
		if d < 0 {
			p.Bad(drain, "must not be negative")
		}
		o.drainTimeout = d
	}

	// The handlers.
	before := p.NumErrs()
	o.shell = p.shell()
	o.http = p.http()
	if o.shell == nil && o.http == nil && p.NumErrs() == before {
		p.Fail("no handlers enabled: pass --allow-shell (jobs run commands on this machine: " +
			"remote code execution by design; limit it with --shell-allow) and/or --allow-http " +
			"with --http-allow-hosts (jobs call those hosts)")
	}

	// etcd.
	o.etcd.Endpoints = p.endpoints(p.Get("etcd"))
	o.prefix = p.Prefix("prefix")
	p.EtcdTLSAndAuth(&o.etcd, envPassword)

	o.logLevel = p.LogLevel("log-level")
	o.logFormat = p.LogFormat("log-format")
	return o, p.Err()
}

// duration parses a Go duration.
func (p *parser) duration(v value) (time.Duration, bool) {
	d, err := time.ParseDuration(v.S)
	if err != nil {
		p.Bad(v, "want a Go duration such as 5s or 1m")
		return 0, false
	}
	return d, true
}

// list splits a comma-separated value, refusing empty items.
func (p *parser) list(v value) []string {
	if strings.TrimSpace(v.S) == "" {
		return nil
	}
	var out []string
	for _, item := range strings.Split(v.S, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			p.Bad(v, "empty item in the list")
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
			p.Bad(v, "label %q: want key=value", item)
			continue
		}
		if _, dup := m[k]; dup {
			p.Bad(v, "label %q given twice", k)
		}
		m[k] = val
	}
	if err := domain.ValidateLabels("labels", m); err != nil {
		p.Bad(v, "%s", strings.TrimPrefix(err.Error(), "pink: invalid labels: "))
	}
	return m
}

// shell parses the shell handler's flags; nil means off.
func (p *parser) shell() *builtin.ShellOptions {
	on, _ := p.GetBool("allow-shell")
	allow := p.Get("shell-allow")
	syntax, syntaxV := p.GetBool("allow-shell-syntax")
	inherit, inheritV := p.GetBool("shell-inherit-env")
	if !on {
		for _, v := range []value{allow, syntaxV, inheritV} {
			if v.Given {
				p.Fail("%s configures the shell handler, which is off: it needs --allow-shell", v.Source)
			}
		}
		return nil
	}
	o := &builtin.ShellOptions{Allow: p.list(allow), AllowShellSyntax: syntax, InheritEnv: inherit}
	if err := o.Validate(); err != nil {
		p.Bad(allow, "%s", strings.TrimPrefix(err.Error(), "shell allow-list: "))
	}
	return o
}

// http parses the HTTP handler's flags; nil means off.
func (p *parser) http() *builtin.HTTPOptions {
	on, _ := p.GetBool("allow-http")
	hostsV := p.Get("http-allow-hosts")
	hosts := p.list(hostsV)
	switch {
	case !on && hostsV.Given:
		p.Fail("%s configures the http handler, which is off: it needs --allow-http", hostsV.Source)
		return nil
	case !on:
		return nil
	case len(hosts) == 0:
		p.Fail("--allow-http needs --http-allow-hosts: the hosts jobs may call (host, host:port or *.domain)")
		return nil
	}
	o := &builtin.HTTPOptions{AllowHosts: hosts}
	if err := o.Validate(); err != nil {
		p.Bad(hostsV, "%s", strings.TrimPrefix(err.Error(), "http allow-list: "))
	}
	return o
}

// endpoints parses --etcd.
func (p *parser) endpoints(v value) []string {
	items := p.list(v)
	if len(items) == 0 {
		p.Bad(v, "want at least one etcd client URL, such as %s", defaultEtcd)
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
			p.Bad(v, "endpoint %q: want a URL such as http://10.0.0.1:2379 or https://etcd-1:2379", item)
			continue
		}
		if n, err := strconv.Atoi(u.Port()); err != nil || n < 1 || n > 65535 || u.Hostname() == "" {
			p.Bad(v, "endpoint %q: want a host and a port from 1 to 65535, such as http://10.0.0.1:2379", item)
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
	cli.PrintFlags(w, flags)
	fmt.Fprintf(w, "\nThe etcd password (with --etcd-user) is read from %s only.\n"+
		"SIGINT or SIGTERM drains: no new runs, running ones get --drain-timeout; a second signal exits at once.\n", envPassword)
}
