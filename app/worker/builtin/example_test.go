//go:build unix

package builtin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/app/worker/builtin"
)

// The shell handler as a worker calls it, for a job whose params are
// {"command": [...]}. A worker registers it with
// w.Handle(builtin.ShellName, builtin.Shell(opts)).
func ExampleShell() {
	shell := builtin.Shell(builtin.ShellOptions{Allow: []string{"echo", "sh"}})
	var out strings.Builder
	run := func(params string) {
		out.Reset()
		_, err := shell(context.Background(), worker.Run{ID: "run-1", Attempt: 1, Params: json.RawMessage(params), Output: &out})
		fmt.Printf("output %q, error: %v\n", out.String(), err)
	}
	run(`{"command": ["echo", "hello", "$USER"]}`)
	run(`{"command": ["sh", "-c", "echo run $PINK_RUN_ID attempt $PINK_ATTEMPT; exit 3"]}`)
	run(`{"command": ["/bin/rm", "-rf", "/tmp/x"]}`)
	// Output:
	// output "hello $USER\n", error: <nil>
	// output "run run-1 attempt 1\n", error: exit status 3; output ends with:
	// run run-1 attempt 1
	// output "", error: executable /bin/rm is not allowed on this worker: allowed are echo, sh
}
