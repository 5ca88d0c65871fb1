package worker

import (
	"math/rand/v2"
	"time"

	"github.com/pink-scheduler/pink/ports"
)

// Retry delays: from minBackoff, doubling, up to maxBackoff, with ±20%
// jitter so that many workers do not retry in step.
const (
	minBackoff = 200 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// backoff yields the delays between the retries of one failing operation.
type backoff struct{ n int }

// next returns the delay before the next retry.
func (b *backoff) next() time.Duration {
	d := maxBackoff
	if b.n < 5 {
		d = min(minBackoff<<b.n, maxBackoff)
	}
	b.n++
	return d - d/5 + rand.N(2*d/5+1)
}

// reset starts over after a success.
func (b *backoff) reset() { b.n = 0 }

// alarm is a timer of the loop that may be disarmed: C returns nil then,
// so a select ignores it.
type alarm struct {
	t     ports.Timer
	armed bool
}

// set arms the alarm to fire after d.
func (a *alarm) set(c ports.Clock, d time.Duration) {
	if a.t == nil {
		a.t = c.NewTimer(d)
	} else {
		a.t.Reset(d)
	}
	a.armed = true
}

// C is the channel to select on: nil while disarmed.
func (a *alarm) C() <-chan time.Time {
	if !a.armed {
		return nil
	}
	return a.t.C()
}

// fired records that the alarm's value was received.
func (a *alarm) fired() { a.armed = false }

// stop disarms the alarm.
func (a *alarm) stop() {
	if a.armed {
		a.t.Stop()
	}
	a.armed = false
}
