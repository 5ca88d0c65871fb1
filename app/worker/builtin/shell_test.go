//go:build unix

package builtin_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/app/worker/builtin"
	"github.com/pink-scheduler/pink/domain"
)

type shellParams struct {
	Command []string          `json:"command"`
	Env     map[string]string `json:"env,omitempty"`
	Dir     string            `json:"dir,omitempty"`
	Shell   bool              `json:"shell,omitempty"`
	Timeout string            `json:"timeout,omitempty"`
}

func TestShellRunsCommand(t *testing.T) {
	out, err := call(t, builtin.Shell(builtin.ShellOptions{}), shellParams{Command: []string{"echo", "hello"}})
	require.NoError(t, err)
	assert.Equal(t, "hello\n", out)
}

func TestShellNonZeroExitFailsWithCodeAndTail(t *testing.T) {
	out, err := call(t, builtin.Shell(builtin.ShellOptions{}), shellParams{
		Command: []string{"sh", "-c", "echo to-stdout; echo to-stderr >&2; exit 3"},
	})
	require.Error(t, err)
	assert.Equal(t, "exit status 3; output ends with:\nto-stdout\nto-stderr", err.Error())
	assert.Equal(t, "to-stdout\nto-stderr\n", out, "stdout and stderr both reach the output")
}

func TestShellErrorTailIsBounded(t *testing.T) {
	out, err := call(t, builtin.Shell(builtin.ShellOptions{}), shellParams{
		Command: []string{"sh", "-c", `i=0; while [ $i -lt 500 ]; do echo "line $i of filler text"; i=$((i+1)); done; echo LAST; exit 1`},
	})
	require.Error(t, err)
	assert.Greater(t, len(out), 10_000, "the output has everything")
	assert.True(t, strings.HasPrefix(err.Error(), "exit status 1; output ends with:\n"), err.Error())
	assert.True(t, strings.HasSuffix(err.Error(), "line 499 of filler text\nLAST"), "the tail is the end of the output")
	assert.LessOrEqual(t, len(err.Error()), builtin.ErrTailBytes+len("exit status 1; output ends with:\n"))
}

func TestShellStreamsOutputWhileRunning(t *testing.T) {
	h := builtin.Shell(builtin.ShellOptions{KillGrace: 100 * time.Millisecond})
	run, out := newRun(t, shellParams{Command: []string{"sh", "-c", "echo first; sleep 100"}})
	ctx, cancel := context.WithCancelCause(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := h(ctx, run)
		done <- err
	}()
	require.Eventually(t, func() bool { return out.String() == "first\n" }, 10*time.Second, 10*time.Millisecond,
		"the output arrives before the command ends")
	select {
	case err := <-done:
		t.Fatalf("the handler returned early: %v", err)
	default:
	}
	cancel(worker.ErrRunCancelled)
	select {
	case err := <-done:
		require.ErrorContains(t, err, "command stopped: pink worker: run cancelled; its process group was terminated")
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not return after its context was cancelled")
	}
}

func TestShellAppliesEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PINK_TEST_WORKER_SECRET", "s3cret")
	p := shellParams{Command: []string{"sh", "-c", "pwd; env"}, Env: map[string]string{"GREETING": "hi there"}, Dir: dir}

	out, err := call(t, builtin.Shell(builtin.ShellOptions{}), p)
	require.NoError(t, err)
	lines := strings.Split(out, "\n")
	real, err := filepath.EvalSymlinks(dir)
	require.NoError(t, err)
	assert.Contains(t, []string{dir, real}, lines[0], "runs in the params' dir")
	assert.Contains(t, lines, "GREETING=hi there")
	assert.Contains(t, lines, "PATH="+os.Getenv("PATH"))
	assert.Contains(t, lines, "PINK_RUN_ID=job1-20260101T000000Z-0")
	assert.Contains(t, lines, "PINK_ATTEMPT=2")
	assert.Contains(t, lines, "PINK_SCHEDULED_AT=2026-01-01T00:00:00Z")
	assert.NotContains(t, out, "s3cret", "the worker's environment is not passed on")

	out, err = call(t, builtin.Shell(builtin.ShellOptions{InheritEnv: true}), p)
	require.NoError(t, err)
	assert.Contains(t, strings.Split(out, "\n"), "PINK_TEST_WORKER_SECRET=s3cret", "InheritEnv passes it on")
	assert.Contains(t, strings.Split(out, "\n"), "GREETING=hi there")
}

func TestShellRelativeProgramIsInDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho from script\n"), 0o755))
	out, err := call(t, builtin.Shell(builtin.ShellOptions{}), shellParams{Command: []string{"./run.sh"}, Dir: dir})
	require.NoError(t, err)
	assert.Equal(t, "from script\n", out)
}

// pgidOf reads the process group ID a command printed first ("echo $$").
func pgidOf(t *testing.T, out string) int {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)\n`).FindStringSubmatch(out)
	require.NotNil(t, m, "output %q", out)
	pgid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return pgid
}

// requireGroupGone waits until no process of the group exists. Killed
// processes stay zombies until their new parent reaps them, which can
// take a few seconds when that is an init that reaps lazily.
func requireGroupGone(t *testing.T, pgid int) {
	t.Helper()
	require.Eventually(t, func() bool {
		return errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH)
	}, 20*time.Second, 20*time.Millisecond, "process group %d still has processes", pgid)
}

func TestShellStopKillsTheWholeProcessGroup(t *testing.T) {
	const script = "echo $$; sleep 100 & sleep 100"
	cases := []struct {
		name    string
		opts    builtin.ShellOptions
		params  shellParams
		stop    func(context.CancelCauseFunc)
		wantErr string
	}{{
		name:    "params timeout",
		params:  shellParams{Command: []string{"sh", "-c", script}, Timeout: "300ms"},
		wantErr: "command stopped: the params' timeout of 300ms passed; its process group was terminated",
	}, {
		name:    "run cancelled",
		params:  shellParams{Command: []string{"sh", "-c", script}},
		stop:    func(cancel context.CancelCauseFunc) { cancel(worker.ErrRunCancelled) },
		wantErr: "command stopped: pink worker: run cancelled",
	}, {
		name:    "SIGTERM ignored: SIGKILL after the grace",
		opts:    builtin.ShellOptions{KillGrace: 200 * time.Millisecond},
		params:  shellParams{Command: []string{"sh", "-c", "trap '' TERM; " + script}},
		stop:    func(cancel context.CancelCauseFunc) { cancel(worker.ErrShuttingDown) },
		wantErr: "command stopped: pink worker: worker shutting down",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := builtin.Shell(tc.opts)
			run, out := newRun(t, tc.params)
			ctx, cancel := context.WithCancelCause(t.Context())
			defer cancel(nil)
			done := make(chan error, 1)
			go func() {
				_, err := h(ctx, run)
				done <- err
			}()
			require.Eventually(t, func() bool { return strings.Contains(out.String(), "\n") }, 10*time.Second, 5*time.Millisecond)
			pgid := pgidOf(t, out.String())
			require.NoError(t, syscall.Kill(-pgid, 0), "the group is running")
			if tc.stop != nil {
				tc.stop(cancel)
			}
			select {
			case err := <-done:
				require.ErrorContains(t, err, tc.wantErr)
			case <-time.After(20 * time.Second):
				t.Fatal("the handler did not return")
			}
			requireGroupGone(t, pgid)
		})
	}
}

func TestShellEndsProcessesLeftBehind(t *testing.T) {
	h := builtin.Shell(builtin.ShellOptions{KillGrace: 500 * time.Millisecond})
	start := time.Now()
	out, err := call(t, h, shellParams{Command: []string{"sh", "-c", "echo $$; sleep 100 &"}})
	require.NoError(t, err, "the command itself exited 0")
	assert.Less(t, time.Since(start), 10*time.Second, "the handler does not wait for the background process")
	requireGroupGone(t, pgidOf(t, out))
}

func TestShellAllowList(t *testing.T) {
	h := builtin.Shell(builtin.ShellOptions{Allow: []string{"echo"}})
	echo, err := exec.LookPath("echo")
	require.NoError(t, err)

	for _, cmd := range [][]string{{"echo", "ok"}, {echo, "ok"}} {
		out, err := call(t, h, shellParams{Command: cmd})
		require.NoError(t, err, "%q", cmd)
		assert.Equal(t, "ok\n", out)
	}
	if real, _ := filepath.EvalSymlinks("/bin"); real != "/bin" && filepath.Dir(echo) == real {
		_, err := call(t, h, shellParams{Command: []string{"/bin/echo", "ok"}})
		require.NoError(t, err, "/bin/echo is %s on a merged-/usr system", echo)
	}

	// An executable of the same name elsewhere is another program.
	dir := t.TempDir()
	fake := filepath.Join(dir, "echo")
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\ntouch "+filepath.Join(dir, "ran")+"\n"), 0o755))
	marker := filepath.Join(dir, "touched")
	refused := []struct {
		name string
		p    shellParams
		want string
	}{
		{"other program", shellParams{Command: []string{"touch", marker}}, "executable touch (/"},
		{"same name elsewhere", shellParams{Command: []string{fake}}, "executable " + fake + " is not allowed on this worker: allowed are echo"},
		{"loader variable", shellParams{Command: []string{"echo"}, Env: map[string]string{"LD_PRELOAD": "/tmp/x.so"}}, "env LD_PRELOAD: dynamic loader variables are not allowed"},
		{"shell syntax", shellParams{Command: []string{"touch " + marker}, Shell: true}, "shell syntax"},
	}
	for _, tc := range refused {
		_, err := call(t, h, tc.p)
		require.ErrorIs(t, err, builtin.ErrNotAllowed, tc.name)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
	assert.NoFileExists(t, marker, "nothing refused ran")
	assert.NoFileExists(t, filepath.Join(dir, "ran"), "nothing refused ran")

	// With shell syntax enabled, the allow-list must hold the shell too.
	h = builtin.Shell(builtin.ShellOptions{Allow: []string{"echo"}, AllowShellSyntax: true})
	_, err = call(t, h, shellParams{Command: []string{"touch " + marker}, Shell: true})
	require.ErrorIs(t, err, builtin.ErrNotAllowed)
	assert.ErrorContains(t, err, "executable /bin/sh")
	assert.NoFileExists(t, marker)
}

func TestShellSyntaxOnlyWhenAllowed(t *testing.T) {
	p := shellParams{Command: []string{`echo "$1-$2" | tr a-z A-Z`, "ab", "cd"}, Shell: true}
	_, err := call(t, builtin.Shell(builtin.ShellOptions{}), p)
	require.ErrorIs(t, err, builtin.ErrNotAllowed)
	assert.ErrorContains(t, err, `"shell": true (shell syntax) is not allowed on this worker`)

	out, err := call(t, builtin.Shell(builtin.ShellOptions{AllowShellSyntax: true}), p)
	require.NoError(t, err)
	assert.Equal(t, "AB-CD\n", out, "command[1:] are the script's $1, $2, ...")

	p.Command = []string{"echo $0 via a pipe | cat"}
	out, err = call(t, builtin.Shell(builtin.ShellOptions{AllowShellSyntax: true, Allow: []string{"sh"}}), p)
	require.NoError(t, err)
	assert.Equal(t, "sh via a pipe\n", out)

	// Without "shell": true nothing is interpolated.
	out, err = call(t, builtin.Shell(builtin.ShellOptions{AllowShellSyntax: true}), shellParams{Command: []string{"echo", "$HOME", "a;b", "`id`"}})
	require.NoError(t, err)
	assert.Equal(t, "$HOME a;b `id`\n", out)
}

func TestShellProgramNotFound(t *testing.T) {
	_, err := call(t, builtin.Shell(builtin.ShellOptions{}), shellParams{Command: []string{"pink-no-such-program"}})
	require.EqualError(t, err, `executable "pink-no-such-program" not found in the worker's PATH`)
	_, err = call(t, builtin.Shell(builtin.ShellOptions{}), shellParams{Command: []string{"/nonexistent/prog"}})
	require.EqualError(t, err, `executable "/nonexistent/prog": no such file or directory`)
}

func TestShellRejectsBadParams(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	h := builtin.Shell(builtin.ShellOptions{MaxParams: 4096})
	cases := []struct {
		name, params, want string
	}{
		{"empty", ``, `pink: invalid params: required: a JSON object such as {"command":["echo","hello"]}`},
		{"null", `null`, `invalid params: required`},
		{"not an object", `["echo"]`, `pink: invalid params: must be a JSON object, got array`},
		{"malformed", `{"command":`, `invalid params: malformed JSON`},
		{"unknown field", `{"command":["echo"],"cmd":"x"}`, `pink: invalid params: unknown field "cmd"`},
		{"trailing data", `{"command":["echo"]} {}`, `invalid params: unexpected data after the JSON object`},
		{"too big", `{"command":["echo","` + strings.Repeat("x", 5000) + `"]}`, `invalid params: must be at most 4096 bytes`},
		{"no command", `{"env":{"A":"1"}}`, `pink: invalid params.command: required`},
		{"empty command", `{"command":[]}`, `invalid params.command: required`},
		{"command a string", `{"command":"echo hi"}`, `pink: invalid params.command: must be an array of strings, got string`},
		{"empty program", `{"command":[""]}`, `invalid params.command: the program (command[0]) is empty`},
		{"too many args", `{"command":["echo"` + strings.Repeat(`,""`, builtin.MaxArgs) + `]}`, `invalid params.command: at most 1024 elements`},
		{"NUL in an argument", `{"command":["echo","a\u0000b"]}`, `invalid params.command[1]: holds a NUL byte`},
		{"env key with =", `{"command":["echo"],"env":{"A=B":"1"}}`, `invalid params.env: bad variable name "A=B"`},
		{"env key empty", `{"command":["echo"],"env":{"":"1"}}`, `invalid params.env: bad variable name ""`},
		{"env reserved", `{"command":["echo"],"env":{"PINK_RUN_ID":"x"}}`, `invalid params.env: PINK_RUN_ID is set by the worker`},
		{"env not strings", `{"command":["echo"],"env":{"A":1}}`, `invalid params.env: must be a string, got number`},
		{"dir relative", `{"command":["echo"],"dir":"tmp"}`, `invalid params.dir: must be an absolute path, got "tmp"`},
		{"dir missing", `{"command":["echo"],"dir":"/nonexistent/dir"}`, `invalid params.dir: "/nonexistent/dir": no such file or directory`},
		{"dir a file", `{"command":["echo"],"dir":"` + file + `"}`, `is not a directory`},
		{"timeout a number", `{"command":["echo"],"timeout":30}`, `invalid params.timeout: must be a string, got number`},
		{"timeout bad", `{"command":["echo"],"timeout":"soon"}`, `invalid params.timeout: must be a duration such as "30s", got "soon"`},
		{"timeout negative", `{"command":["echo"],"timeout":"-1s"}`, `invalid params.timeout: must be between`},
		{"shell not a bool", `{"command":["echo"],"shell":"yes"}`, `invalid params.shell: must be a boolean, got string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call(t, h, tc.params)
			require.ErrorIs(t, err, domain.ErrInvalid)
			assert.ErrorContains(t, err, tc.want)
			assert.True(t, worker.IsPermanent(err), "bad params fail the run without retries")
		})
	}
}

func TestShellOptionsValidate(t *testing.T) {
	require.NoError(t, builtin.ShellOptions{Allow: []string{"echo", "/bin/sh"}}.Validate())
	assert.EqualError(t, builtin.ShellOptions{Allow: []string{"pink-no-such-program"}}.Validate(),
		`shell allow-list: executable "pink-no-such-program" not found in the worker's PATH`)
	for _, bad := range []string{"", "bin/echo", "./echo"} {
		opts := builtin.ShellOptions{Allow: []string{bad}}
		assert.Error(t, opts.Validate(), "%q", bad)
		assert.Panics(t, func() { builtin.Shell(opts) }, "%q", bad)
	}
}
