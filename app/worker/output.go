package worker

import (
	"sync"
	"unicode/utf8"

	"github.com/pink-scheduler/pink/domain"
)

// output is a run's Output: the part of what the handler wrote that has not
// been sent to the store yet, bounded to its last max bytes. It is safe for
// concurrent use. Writes never fail; after close they are dropped.
type output struct {
	max int

	mu     sync.Mutex
	buf    []byte
	closed bool
}

func newOutput(max int) *output { return &output{max: max} }

// keep is how much of the tail the buffer holds: max bytes plus enough to
// cut at a character boundary later.
func (o *output) keep() int { return o.max + utf8.UTFMax }

// Write appends p, dropping the oldest bytes beyond the bound.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return len(p), nil
	}
	if len(p) >= o.keep() {
		o.buf = append(o.buf[:0], p[len(p)-o.keep():]...)
		return len(p), nil
	}
	o.buf = append(o.buf, p...)
	if len(o.buf) > 2*o.keep() { // trim now and then, not on every write
		o.buf = o.buf[:copy(o.buf, o.buf[len(o.buf)-o.keep():])]
	}
	return len(p), nil
}

// take returns what was written since the last take (its last max bytes,
// cut at a character boundary) and empties the buffer.
func (o *output) take() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := domain.TailString(string(o.buf), o.max)
	o.buf = o.buf[:0]
	return s
}

// unread puts back a chunk that could not be sent, before what was written
// since.
func (o *output) unread(chunk string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := make([]byte, 0, len(chunk)+len(o.buf))
	b = append(append(b, chunk...), o.buf...)
	if len(b) > o.keep() {
		b = b[len(b)-o.keep():]
	}
	o.buf = b
}

// close drops every later write and returns what is left, like take.
func (o *output) close() string {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
	return o.take()
}
