// Package timing holds the small timing helpers the worker runtime and the
// HTTP workers' gateway share: a retry backoff with jitter, and a timer
// that a select can ignore while it is disarmed.
package timing

import (
	"math/rand/v2"
	"time"

	"github.com/pink-scheduler/pink/ports"
)

// Retry delays: from MinBackoff, doubling, up to MaxBackoff, with ±20%
// jitter so that many clients do not retry in step.
const (
	MinBackoff = 200 * time.Millisecond
	MaxBackoff = 5 * time.Second
)

// Backoff yields the delays between the retries of one failing operation.
// The zero value is ready to use.
type Backoff struct{ n int }

// Next returns the delay before the next retry.
func (b *Backoff) Next() time.Duration {
	d := MaxBackoff
	if b.n < 5 {
		d = min(MinBackoff<<b.n, MaxBackoff)
	}
	b.n++
	return d - d/5 + rand.N(2*d/5+1)
}

// Reset starts over after a success.
func (b *Backoff) Reset() { b.n = 0 }

// Alarm is a timer that may be disarmed: C returns nil then, so a select
// ignores it. The zero value is disarmed. It is owned by one goroutine.
type Alarm struct {
	t     ports.Timer
	armed bool
}

// Set arms the alarm to fire after d on clock c.
func (a *Alarm) Set(c ports.Clock, d time.Duration) {
	if a.t == nil {
		a.t = c.NewTimer(d)
	} else {
		a.t.Reset(d)
	}
	a.armed = true
}

// C is the channel to select on: nil while disarmed.
func (a *Alarm) C() <-chan time.Time {
	if !a.armed {
		return nil
	}
	return a.t.C()
}

// Fired records that the alarm's value was received.
func (a *Alarm) Fired() { a.armed = false }

// Stop disarms the alarm.
func (a *Alarm) Stop() {
	if a.armed {
		a.t.Stop()
	}
	a.armed = false
}
