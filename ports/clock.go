package ports

import "time"

// Clock tells the time and makes timers. Services take a Clock instead of
// calling time.Now, so tests can control time.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that sends the time on its channel once d
	// has passed.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer, like *time.Timer.
type Timer interface {
	// C returns the channel the timer fires on.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
	// Reset makes the timer fire after d, as time.Timer.Reset (Go 1.23+
	// semantics: no stale value is left in the channel).
	Reset(d time.Duration) bool
}
