// Package clock implements ports.Clock: System reads the real clock, Fake is
// moved by hand in tests.
//
// Inside a testing/synctest bubble, System is deterministic too: time only
// moves when every goroutine of the bubble is blocked.
package clock

import (
	"time"

	"github.com/pink-scheduler/pink/ports"
)

// System is the real clock.
type System struct{}

var _ ports.Clock = System{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// NewTimer wraps time.NewTimer.
func (System) NewTimer(d time.Duration) ports.Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (s systemTimer) C() <-chan time.Time        { return s.t.C }
func (s systemTimer) Stop() bool                 { return s.t.Stop() }
func (s systemTimer) Reset(d time.Duration) bool { return s.t.Reset(d) }
