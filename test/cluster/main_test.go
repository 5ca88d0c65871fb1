package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// full runs the whole matrix: every scenario with several seeds.
var full = flag.Bool("full", false, "run the full cluster fault matrix (make test-cluster)")

// binDir holds the binaries built for this run; empty when skipped.
var binDir string

// enabled reports whether the cluster tests run at all.
func enabled() bool { return *full || os.Getenv("PINK_CLUSTER") == "1" }

func TestMain(m *testing.M) {
	flag.Parse()
	if !enabled() {
		os.Exit(m.Run()) // every test skips itself
	}
	dir, err := os.MkdirTemp("", "pink-cluster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	// PINK_BUILD_TAGS builds deliberately broken binaries, to show that the
	// checks catch what they claim: PINK_BUILD_TAGS=pink_nofence disables
	// fencing in the etcd adapter (adapters/etcd/nofence.go).
	buildArgs := []string{"build"}
	if tags := os.Getenv("PINK_BUILD_TAGS"); tags != "" {
		buildArgs = append(buildArgs, "-tags", tags)
	}
	buildArgs = append(buildArgs, "-o", dir+"/", "../../cmd/pink-node", "../../cmd/pink-worker", "./etcdmember", "./sdkworker")
	build := exec.Command("go", buildArgs...)
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the binaries:", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// skipUnlessEnabled skips t unless the cluster tests were asked for.
func skipUnlessEnabled(t *testing.T) {
	t.Helper()
	if !enabled() {
		t.Skip("cluster tests: run make test-cluster")
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is a running binary with its combined output captured.
type proc struct {
	name string
	args []string
	env  []string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// Output returns what the process printed so far.
func (p *proc) Output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// start runs a binary of binDir (or an absolute path) until the end of the
// test, printing its output if the test failed.
func start(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startEnv(t, nil, name, args...)
}

// startEnv is start with variables added to the environment.
func startEnv(t *testing.T, env []string, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, args: args, env: env, done: make(chan struct{})}
	path := name
	if !filepath.IsAbs(name) {
		path = filepath.Join(binDir, name)
	}
	p.cmd = exec.Command(path, args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	p.cmd.Env = append(append(os.Environ(), "PINK_LOG_LEVEL=debug", "PINK_ADMIN_PASSWORD=correct horse battery staple"), env...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(10 * time.Second)
		if logs := os.Getenv("PINK_CLUSTER_LOGS"); (t.Failed() && logs == "1") || logs == "all" {
			t.Logf("---- %s %s output:\n%s", name, strings.Join(args, " "), p.Output())
		}
	})
	return p
}

// alive reports whether the process has not exited.
func (p *proc) alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends SIGCONT (in case it was stopped) and SIGTERM, waits up to
// grace, then kills.
func (p *proc) stop(grace time.Duration) {
	if !p.alive() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGCONT)
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// kill9 kills the process the hard way and waits for it.
func (p *proc) kill9() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) signal(s syscall.Signal) { _ = p.cmd.Process.Signal(s) }

// restart starts the same binary again with the same arguments and
// environment (after it exited or was killed).
func (p *proc) restart(t *testing.T) *proc {
	t.Helper()
	return startEnv(t, p.env, p.name, p.args...)
}

// getJSON GETs a path of addr and decodes the JSON body.
func getJSON(addr, path string, timeout time.Duration, v any) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
