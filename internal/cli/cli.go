// Package cli holds what the commands pink-node and pink-worker share:
// flags that each have an environment variable, parsed with every error
// collected; the log flags and the logger; the version string; the report
// of a usage error.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/pink-scheduler/pink/adapters/etcd"
)

// Exit codes of the commands.
const (
	ExitOK    = 0
	ExitError = 1 // failed to start, or stopped on a failure
	ExitUsage = 2 // invalid flags or environment
)

// ErrHelp asks for the usage text (-h, --help).
var ErrHelp = errors.New("help requested")

// Flag is a flag and its environment variable.
type Flag struct {
	Name, Env, Default, Usage string
	Bool                      bool
}

// Value is one setting and where it came from.
type Value struct {
	S      string
	Source string // "--flag" or "ENV_VAR"
	Given  bool   // on the command line or in the environment
}

// Parser turns raw flag and environment values into settings, collecting
// every error.
type Parser struct {
	cmd       string
	flags     []Flag
	getenv    func(string) string
	raw       map[string]*string
	bools     map[string]*bool
	onCmdLine map[string]bool
	errs      []error
}

// Parse parses args as the command cmd with flags and --version; getenv
// reads the environment. It returns ErrHelp for -h and --help, and
// version true, with no parser, for --version (which wins over anything
// else on the line). A flag on the command line wins over its variable,
// which wins over the default.
func Parse(cmd string, flags []Flag, args []string, getenv func(string) string) (p *Parser, version bool, err error) {
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	raw := make(map[string]*string, len(flags))
	bools := make(map[string]*bool)
	for _, d := range flags {
		if d.Bool {
			bools[d.Name] = fs.Bool(d.Name, false, d.Usage)
		} else {
			raw[d.Name] = fs.String(d.Name, d.Default, d.Usage)
		}
	}
	versionFlag := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, false, ErrHelp
		}
		return nil, false, err
	}
	if *versionFlag {
		return nil, true, nil
	}
	if fs.NArg() > 0 {
		return nil, false, fmt.Errorf("unexpected argument %q: %s takes flags only", fs.Arg(0), cmd)
	}
	onCmdLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCmdLine[f.Name] = true })
	return &Parser{cmd: cmd, flags: flags, getenv: getenv, raw: raw, bools: bools, onCmdLine: onCmdLine}, false, nil
}

func (p *Parser) def(name string) Flag {
	for _, d := range p.flags {
		if d.Name == name {
			return d
		}
	}
	panic(p.cmd + ": no flag " + name)
}

// Getenv reads the environment variable k.
func (p *Parser) Getenv(k string) string { return p.getenv(k) }

// Get returns a string flag and where it came from.
func (p *Parser) Get(name string) Value {
	d := p.def(name)
	if p.onCmdLine[name] {
		return Value{S: *p.raw[name], Source: "--" + name, Given: true}
	}
	if v := p.getenv(d.Env); v != "" {
		return Value{S: v, Source: d.Env, Given: true}
	}
	return Value{S: d.Default, Source: "--" + name}
}

// GetBool returns a boolean flag and where it came from; an invalid
// variable is an error, and false.
func (p *Parser) GetBool(name string) (bool, Value) {
	d := p.def(name)
	if p.onCmdLine[name] {
		return *p.bools[name], Value{S: strconv.FormatBool(*p.bools[name]), Source: "--" + name, Given: true}
	}
	if s := p.getenv(d.Env); s != "" {
		v := Value{S: s, Source: d.Env, Given: true}
		b, err := strconv.ParseBool(s)
		if err != nil {
			p.Bad(v, "want true or false")
		}
		return b, v
	}
	return false, Value{S: "false", Source: "--" + name}
}

// Bad records that v is invalid: `invalid SOURCE "VALUE": why`.
func (p *Parser) Bad(v Value, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("invalid %s %q: %s", v.Source, v.S, fmt.Sprintf(format, args...)))
}

// Fail records an error.
func (p *Parser) Fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

// NumErrs is how many errors are recorded so far.
func (p *Parser) NumErrs() int { return len(p.errs) }

// Err joins the recorded errors; nil if there are none.
func (p *Parser) Err() error { return errors.Join(p.errs...) }

// prefixRE matches a valid key prefix.
var prefixRE = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)

// Prefix returns the etcd key prefix of flag name (Pink's --prefix).
func (p *Parser) Prefix(name string) string {
	v := p.Get(name)
	if !prefixRE.MatchString(v.S) {
		p.Bad(v, "want a key path such as /pink: a '/' then names of letters, digits, '.', '_' or '-', separated by '/', without a trailing '/'")
	}
	return v.S
}

// EtcdTLSAndAuth parses the flags etcd-cacert, etcd-cert, etcd-key and
// etcd-user, and the password in the variable envPassword, into c, whose
// Endpoints are already set.
func (p *Parser) EtcdTLSAndAuth(c *etcd.ClientConfig, envPassword string) {
	ca, cert, key, user := p.Get("etcd-cacert"), p.Get("etcd-cert"), p.Get("etcd-key"), p.Get("etcd-user")
	password := p.getenv(envPassword)
	switch {
	case cert.Given && !key.Given:
		p.Fail("%s needs --etcd-key (the certificate's private key)", cert.Source)
	case key.Given && !cert.Given:
		p.Fail("%s needs --etcd-cert (the client certificate)", key.Source)
	}
	c.CACertFile, c.CertFile, c.KeyFile = ca.S, cert.S, key.S
	if (ca.Given || cert.Given) && cert.Given == key.Given {
		if _, err := c.TLSConfig(); err != nil {
			p.Fail("etcd TLS (--etcd-cacert, --etcd-cert, --etcd-key): %v", strings.TrimPrefix(err.Error(), "etcd client: "))
		}
		for _, ep := range c.Endpoints {
			if strings.HasPrefix(ep, "http://") {
				p.Fail("TLS files are given but etcd endpoint %s is plain http: use https://", ep)
				break
			}
		}
	}
	switch {
	case user.Given && password == "":
		p.Fail("%s needs the password in the environment variable %s", user.Source, envPassword)
	case !user.Given && password != "":
		p.Fail("%s is set but --etcd-user is not", envPassword)
	case user.Given && strings.ContainsAny(user.S, " \t\n:"):
		p.Bad(user, "must not contain spaces or ':'")
	}
	c.Username, c.Password = user.S, password
}

// LogLevel returns the log level of flag name.
func (p *Parser) LogLevel(name string) slog.Level {
	v := p.Get(name)
	l, ok := ParseLogLevel(v.S)
	if !ok {
		p.Bad(v, "want debug, info, warn or error")
	}
	return l
}

// LogFormat returns the log format of flag name: "text" or "json".
func (p *Parser) LogFormat(name string) string {
	v := p.Get(name)
	f, ok := ParseLogFormat(v.S)
	if !ok {
		p.Bad(v, "want text or json")
	}
	return f
}

// ParseLogLevel parses debug, info, warn (or warning) or error, in any
// case.
func ParseLogLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// ParseLogFormat parses text or json, in any case, into lower case.
func ParseLogFormat(s string) (string, bool) {
	switch f := strings.ToLower(s); f {
	case "text", "json":
		return f, true
	}
	return "", false
}

// NewLogger returns the process's logger, writing to w in format ("json",
// else text).
func NewLogger(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Version is the build's version: set, if not empty (a main's
// -ldflags "-X main.version=v1.2.3"), else the module version and VCS
// revision recorded by the go command.
func Version(set string) string {
	if set != "" {
		return set
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "-dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + modified
	}
	return v
}

// PrintFlags writes the flags' lines of the --help text, then --version's.
func PrintFlags(w io.Writer, flags []Flag) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range flags {
		dflt := ""
		if d.Default != "" {
			dflt = " (default " + d.Default + ")"
		}
		fmt.Fprintf(tw, "  --%s\t%s\t%s%s\n", d.Name, d.Env, d.Usage, dflt)
	}
	fmt.Fprintf(tw, "  --version\t\tprint the version and exit\n")
	_ = tw.Flush()
}

// PrintUsageError writes err, each line prefixed with "cmd: ", and where
// to find the usage.
func PrintUsageError(w io.Writer, cmd string, err error) {
	fmt.Fprintf(w, "%s: %s\nRun '%s --help' for usage.\n", cmd,
		strings.ReplaceAll(err.Error(), "\n", "\n"+cmd+": "), cmd)
}
