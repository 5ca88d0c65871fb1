package clock

import (
	"sort"
	"sync"
	"time"

	"github.com/pink-scheduler/pink/ports"
)

// Fake is a clock that moves only when Advance or Set is called. Timers
// fire synchronously inside Advance, in deadline order. It is safe for
// concurrent use.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

var _ ports.Clock = (*Fake)(nil)

// NewFake returns a Fake set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// NewTimer returns a timer that fires once the fake time reaches now+d.
func (f *Fake) NewTimer(d time.Duration) ports.Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTimer{f: f, c: make(chan time.Time, 1)}
	t.arm(f.now.Add(d))
	return t
}

// Timers returns how many timers are armed; tests wait on it to know a
// goroutine has started waiting.
func (f *Fake) Timers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.timers)
}

// Advance moves the clock forward by d, firing due timers in order.
func (f *Fake) Advance(d time.Duration) { f.Set(f.Now().Add(d)) }

// Set moves the clock to t (never backwards for timers: a timer fires when
// the clock reaches its deadline).
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		sort.Slice(f.timers, func(i, j int) bool { return f.timers[i].when.Before(f.timers[j].when) })
		if len(f.timers) == 0 || f.timers[0].when.After(t) {
			break
		}
		ft := f.timers[0]
		f.timers = f.timers[1:]
		ft.armed = false
		if ft.when.After(f.now) {
			f.now = ft.when
		}
		select {
		case ft.c <- f.now:
		default:
		}
	}
	f.now = t
}

type fakeTimer struct {
	f     *Fake
	c     chan time.Time
	when  time.Time
	armed bool
}

func (t *fakeTimer) arm(when time.Time) {
	t.when, t.armed = when, true
	t.f.timers = append(t.f.timers, t)
}

func (t *fakeTimer) disarm() bool {
	if !t.armed {
		return false
	}
	t.armed = false
	for i, o := range t.f.timers {
		if o == t {
			t.f.timers = append(t.f.timers[:i], t.f.timers[i+1:]...)
			break
		}
	}
	return true
}

func (t *fakeTimer) C() <-chan time.Time { return t.c }

func (t *fakeTimer) Stop() bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	return t.disarm()
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.f.mu.Lock()
	defer t.f.mu.Unlock()
	was := t.disarm()
	select { // drop a stale value, as time.Timer does since Go 1.23
	case <-t.c:
	default:
	}
	t.arm(t.f.now.Add(d))
	return was
}
