package builtin

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

// ShellName is the handler name jobs use for Shell.
const ShellName = "shell"

// Bounds of the shell handler's params (besides the params' own size).
const (
	MaxArgs      = 1024
	MaxEnvVars   = 256
	MaxEnvKeyLen = 256
	MaxPathLen   = 4096
)

// DefaultKillGrace is ShellOptions.KillGrace when it is 0.
const DefaultKillGrace = 2 * time.Second

// shellPath is the shell of "shell": true.
const shellPath = "/bin/sh"

// defaultPATH is the PATH of a command when the worker has none.
const defaultPATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Environment variables the shell handler sets for every command; a job's
// env may not set them.
const (
	EnvRunID       = "PINK_RUN_ID"
	EnvFireID      = "PINK_FIRE_ID"
	EnvJobID       = "PINK_JOB_ID"
	EnvGroup       = "PINK_GROUP"
	EnvAttempt     = "PINK_ATTEMPT"
	EnvShard       = "PINK_SHARD"
	EnvShards      = "PINK_SHARDS"
	EnvScheduledAt = "PINK_SCHEDULED_AT"
)

var reservedEnv = []string{EnvRunID, EnvFireID, EnvJobID, EnvGroup, EnvAttempt, EnvShard, EnvShards, EnvScheduledAt}

// ShellOptions is the worker's policy for the shell handler.
type ShellOptions struct {
	// Allow lists the executables a job may run, each a base name looked
	// up in the worker's PATH ("pg_dump") or an absolute path
	// ("/opt/tools/backup"). A command is allowed if it resolves
	// (exec.LookPath, in the worker's PATH) to the same file as an entry:
	// "echo" allows "echo" and "/usr/bin/echo", not "/tmp/x/echo". Empty
	// allows any executable. With a non-empty list, a job may not set
	// LD_* or DYLD_* variables, which would load code into an allowed
	// program. The list limits what starts, not what it does: allowing an
	// interpreter (sh, python, ...) allows everything.
	Allow []string
	// AllowShellSyntax lets a job set "shell": true, which runs
	// /bin/sh -c command[0] (command[1:] become $1, $2, ...). With a
	// non-empty Allow, /bin/sh must be on it too.
	AllowShellSyntax bool
	// InheritEnv gives commands the worker's whole environment (with any
	// secret in it) instead of the minimal one (PATH, HOME, LANG); a job's
	// env and the PINK_* variables are added in both cases.
	InheritEnv bool
	// KillGrace is how long the processes of a command get to exit after
	// SIGTERM before SIGKILL, when the run ends or is cancelled (and for
	// processes a command left behind); default DefaultKillGrace. Keep it
	// well under the 5 s the worker runtime waits for a handler it
	// cancelled at its drain timeout.
	KillGrace time.Duration
	// MaxParams bounds a run's params in bytes; default
	// domain.DefaultMaxParams.
	MaxParams int
}

// Validate checks the options: every Allow entry must be a base name or an
// absolute path and resolve to an executable now.
func (o ShellOptions) Validate() error {
	if err := o.validateStatic(); err != nil {
		return err
	}
	for _, a := range o.Allow {
		if _, err := lookPath(a); err != nil {
			return fmt.Errorf("shell allow-list: %w", err)
		}
	}
	return nil
}

// validateStatic checks what does not depend on the file system.
func (o ShellOptions) validateStatic() error {
	for _, a := range o.Allow {
		switch {
		case a == "":
			return fmt.Errorf("shell allow-list: empty entry")
		case hasNUL(a):
			return fmt.Errorf("shell allow-list: entry %q holds a NUL byte", a)
		case strings.ContainsRune(a, '/') && !filepath.IsAbs(a):
			return fmt.Errorf("shell allow-list: entry %q must be a program name or an absolute path", a)
		}
	}
	if o.KillGrace < 0 {
		return fmt.Errorf("shell: negative kill grace %s", o.KillGrace)
	}
	if o.MaxParams < 0 {
		return fmt.Errorf("shell: negative MaxParams %d", o.MaxParams)
	}
	return nil
}

// shellParams are a shell run's params.
type shellParams struct {
	Command []string          `json:"command"`
	Env     map[string]string `json:"env"`
	Dir     string            `json:"dir"`
	Shell   bool              `json:"shell"`
	Timeout string            `json:"timeout"`
}

const shellExample = `{"command":["echo","hello"]}`

// command is a checked, resolved command, ready to start.
type command struct {
	path    string // absolute
	args    []string
	env     []string
	dir     string
	timeout time.Duration
}

// Shell returns the shell handler: it runs the program of the run's params
// without a shell (unless "shell": true and opts.AllowShellSyntax), in a
// process group of its own, with a minimal environment:
//
//	{"command": ["prog", "arg1", ...],  // required
//	 "env": {"K": "V"},                 // added to PATH, HOME, LANG
//	 "dir": "/abs/path",                // must exist; default the worker's
//	 "shell": false,                    // true: /bin/sh -c command[0]
//	 "timeout": "30s"}                  // besides the job's timeout
//
// Its stdout and stderr go to the run's output as they come. Exit status 0
// succeeds; another fails the run with "exit status N" and the last
// ErrTailBytes of the output. When the run's context ends (timeout,
// cancel, shutdown) or the params' timeout passes, the whole process group
// gets SIGTERM, then SIGKILL after opts.KillGrace; processes the command
// leaves behind in its group when it exits are ended the same way. The
// command also gets PINK_RUN_ID, PINK_ATTEMPT and the other PINK_*
// variables, so it can be idempotent per run.
//
// Shell panics if opts are invalid without looking at the file system (see
// ShellOptions.Validate, which also checks that each Allow entry exists).
func Shell(opts ShellOptions) worker.HandlerFunc {
	if err := opts.validateStatic(); err != nil {
		panic("builtin.Shell: " + err.Error())
	}
	opts.Allow = slices.Clone(opts.Allow)
	if opts.KillGrace == 0 {
		opts.KillGrace = DefaultKillGrace
	}
	if opts.MaxParams == 0 {
		opts.MaxParams = domain.DefaultMaxParams
	}
	return func(ctx context.Context, run worker.Run) (worker.Result, error) {
		c, err := opts.prepare(run)
		if err != nil {
			return worker.Result{}, err
		}
		return worker.Result{}, runCommand(ctx, c, run.Output, opts.KillGrace)
	}
}

// prepare decodes, checks and resolves a run's command.
func (o *ShellOptions) prepare(run worker.Run) (command, error) {
	var p shellParams
	if err := decodeParams(run.Params, o.MaxParams, &p, shellExample); err != nil {
		return command{}, err
	}
	if err := o.check(&p); err != nil {
		return command{}, err
	}
	timeout, err := parseTimeout(p.Timeout)
	if err != nil {
		return command{}, err
	}
	dir, err := checkDir(p.Dir)
	if err != nil {
		return command{}, err
	}
	path, args, err := o.resolve(&p, dir)
	if err != nil {
		return command{}, err
	}
	return command{path: path, args: args, env: o.environ(p.Env, run), dir: p.Dir, timeout: timeout}, nil
}

// check validates the params' command and env.
func (o *ShellOptions) check(p *shellParams) error {
	switch {
	case len(p.Command) == 0:
		return invalid("command", "required: the program and its arguments, such as [\"echo\", \"hello\"]")
	case len(p.Command) > MaxArgs:
		return invalid("command", "at most %d elements, got %d", MaxArgs, len(p.Command))
	case p.Command[0] == "":
		return invalid("command", "the program (command[0]) is empty")
	}
	for i, a := range p.Command {
		if hasNUL(a) {
			return invalid(fmt.Sprintf("command[%d]", i), "holds a NUL byte")
		}
	}
	if len(p.Env) > MaxEnvVars {
		return invalid("env", "at most %d variables, got %d", MaxEnvVars, len(p.Env))
	}
	for k, v := range p.Env {
		switch {
		case k == "" || len(k) > MaxEnvKeyLen || strings.ContainsAny(k, "=\x00"):
			return invalid("env", "bad variable name %q: 1 to %d bytes, without '=' or NUL", k, MaxEnvKeyLen)
		case hasNUL(v):
			return invalid("env", "the value of %s holds a NUL byte", k)
		case slices.Contains(reservedEnv, k):
			return invalid("env", "%s is set by the worker", k)
		case len(o.Allow) > 0 && (strings.HasPrefix(k, "LD_") || strings.HasPrefix(k, "DYLD_")):
			return fmt.Errorf("env %s: dynamic loader variables are %w while an allow-list of executables is set", k, ErrNotAllowed)
		}
	}
	return nil
}

// checkDir checks the params' working directory: absolute, existing.
func checkDir(dir string) (string, error) {
	if dir == "" {
		return os.Getwd()
	}
	switch {
	case len(dir) > MaxPathLen:
		return "", invalid("dir", "at most %d bytes, got %d", MaxPathLen, len(dir))
	case hasNUL(dir):
		return "", invalid("dir", "holds a NUL byte")
	case !filepath.IsAbs(dir):
		return "", invalid("dir", "must be an absolute path, got %q", dir)
	}
	fi, err := os.Stat(dir)
	switch {
	case err != nil:
		return "", invalid("dir", "%q: %v", dir, unwrapPathError(err))
	case !fi.IsDir():
		return "", invalid("dir", "%q is not a directory", dir)
	}
	return dir, nil
}

// resolve returns the absolute path of the program to start and its
// arguments, refusing what the options do not allow.
func (o *ShellOptions) resolve(p *shellParams, dir string) (string, []string, error) {
	prog, args := p.Command[0], p.Command
	if p.Shell {
		if !o.AllowShellSyntax {
			return "", nil, fmt.Errorf("\"shell\": true (shell syntax) is %w: run the program directly, "+
				"or start the worker with shell syntax enabled (pink-worker --allow-shell-syntax)", ErrNotAllowed)
		}
		prog = shellPath
		args = append([]string{"sh", "-c", p.Command[0], "sh"}, p.Command[1:]...)
	}
	name := prog
	if strings.ContainsRune(name, '/') && !filepath.IsAbs(name) {
		name = filepath.Join(dir, name) // what exec would do with Dir set
	}
	path, err := lookPath(name)
	if err != nil {
		return "", nil, err
	}
	if err := o.allowed(prog, path); err != nil {
		return "", nil, err
	}
	return path, args, nil
}

// allowed checks path, the resolved prog, against the allow-list.
func (o *ShellOptions) allowed(prog, path string) error {
	if len(o.Allow) == 0 {
		return nil
	}
	want := canonical(path)
	for _, a := range o.Allow {
		if p, err := lookPath(a); err == nil && canonical(p) == want {
			return nil
		}
	}
	shown := prog
	if path != prog {
		shown = fmt.Sprintf("%s (%s)", prog, path)
	}
	return fmt.Errorf("executable %s is %w: allowed are %s", shown, ErrNotAllowed, strings.Join(o.Allow, ", "))
}

// environ returns a command's environment: the worker's minimal (or whole)
// environment, then the job's variables, then the run's PINK_* ones.
func (o *ShellOptions) environ(jobEnv map[string]string, run worker.Run) []string {
	env := map[string]string{}
	if o.InheritEnv {
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
				env[k] = v
			}
		}
	} else {
		env["PATH"] = defaultPATH
		for _, k := range []string{"PATH", "HOME", "LANG"} {
			if v, ok := os.LookupEnv(k); ok {
				env[k] = v
			}
		}
	}
	for k, v := range jobEnv {
		env[k] = v
	}
	env[EnvRunID] = run.ID
	env[EnvFireID] = run.FireID
	env[EnvJobID] = run.JobID
	env[EnvGroup] = run.Group
	env[EnvAttempt] = strconv.Itoa(run.Attempt)
	env[EnvShard] = strconv.Itoa(run.Shard)
	env[EnvShards] = strconv.Itoa(run.Shards)
	if !run.ScheduledAt.IsZero() {
		env[EnvScheduledAt] = run.ScheduledAt.UTC().Format(time.RFC3339Nano)
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}
