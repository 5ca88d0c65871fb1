package memory_test

import (
	"testing"

	"github.com/pink-scheduler/pink/adapters/clock"
	"github.com/pink-scheduler/pink/adapters/memory"
	"github.com/pink-scheduler/pink/test/contract"
)

// newAuthBackend is the auth suites' NewAuthBackend for the memory adapter.
func newAuthBackend(t *testing.T) contract.AuthBackend {
	b := memory.New(clock.System{})
	t.Cleanup(b.Close)
	return contract.AuthBackend{Users: b, Tokens: b, Audit: b, Groups: b}
}
