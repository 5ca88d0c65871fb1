package auth

import (
	"sync"
	"time"

	"github.com/pink-scheduler/pink/ports"
)

// LimiterConfig tunes a LoginLimiter. Zero fields take the defaults.
type LimiterConfig struct {
	// MaxFailures is how many failures a key may have within Window before
	// it is locked; default 5.
	MaxFailures int
	// Window is the sliding window failures are counted in; default 1m.
	Window time.Duration
	// Backoff is the first lockout; each further one in a streak doubles
	// it, up to MaxBackoff. Defaults 30s and 15m.
	Backoff, MaxBackoff time.Duration
	// MaxKeys bounds the memory: beyond it the idle keys are forgotten, then
	// the least recently failed ones; default 10000.
	MaxKeys int
}

// maxKeyLen bounds the user names and addresses the limiter remembers.
const maxKeyLen = 128

// LoginLimiter slows password guessing, in memory, per user name and per
// remote address: a key that failed MaxFailures times within Window is
// locked for Backoff, and every failure while its recent failures still
// fill the window locks it again for twice as long, and so does the next
// lockout, up to MaxBackoff: at the cap, MaxFailures guesses per MaxBackoff.
// A streak ends once a key has had no lockout for MaxBackoff after its last
// one ended. Success clears the
// user name's failures (not the address's: one good account must not
// reset an attacker's address).
//
// Locking per user name lets anyone lock a user out of logging in for up
// to MaxBackoff at a time; that is the usual price, and their API tokens
// keep working. The limiter is per process: behind several nodes, each
// counts on its own. Safe for concurrent use.
type LoginLimiter struct {
	clock ports.Clock
	cfg   LimiterConfig

	mu   sync.Mutex
	keys map[string]*limitEntry
}

// limitEntry is what the limiter knows about one key.
type limitEntry struct {
	fails   []time.Time // failures within the window, oldest first
	strikes int         // lockouts in the current streak
	until   time.Time   // locked before this instant
	last    time.Time   // the last failure
}

// NewLoginLimiter returns a limiter reading time from clock.
func NewLoginLimiter(clock ports.Clock, cfg LimiterConfig) *LoginLimiter {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Window <= 0 {
		cfg.Window = time.Minute
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 30 * time.Second
	}
	if cfg.MaxBackoff < cfg.Backoff {
		cfg.MaxBackoff = max(15*time.Minute, cfg.Backoff)
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 10_000
	}
	return &LoginLimiter{clock: clock, cfg: cfg, keys: map[string]*limitEntry{}}
}

// limitKeys returns the keys of an attempt; an empty user or address has
// none.
func limitKeys(user, addr string) []string {
	var out []string
	if user != "" {
		out = append(out, "u\x00"+user[:min(len(user), maxKeyLen)])
	}
	if addr != "" {
		out = append(out, "a\x00"+addr[:min(len(addr), maxKeyLen)])
	}
	return out
}

// Allow reports whether a login for user from addr (an IP address, without
// the port) may be tried now, and if not, how long until it may. Call it
// before checking the password, and Failure or Success after.
func (l *LoginLimiter) Allow(user, addr string) (bool, time.Duration) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var wait time.Duration
	for _, k := range limitKeys(user, addr) {
		if e := l.keys[k]; e != nil && now.Before(e.until) {
			wait = max(wait, e.until.Sub(now))
		}
	}
	return wait == 0, wait
}

// Failure records a failed login for user from addr.
func (l *LoginLimiter) Failure(user, addr string) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range limitKeys(user, addr) {
		e := l.keys[k]
		if e == nil {
			l.makeRoom(now)
			e = &limitEntry{}
			l.keys[k] = e
		}
		l.fail(e, now)
	}
}

// fail records one failure of e at now. Callers hold mu.
func (l *LoginLimiter) fail(e *limitEntry, now time.Time) {
	if e.strikes > 0 && now.Sub(e.until) >= l.cfg.MaxBackoff {
		e.strikes = 0 // quiet for MaxBackoff since the last lockout: the streak is over
	}
	e.fails = append(l.recent(e, now), now)
	e.last = now
	if len(e.fails) >= l.cfg.MaxFailures {
		e.strikes++
		backoff := l.cfg.MaxBackoff
		if shift := e.strikes - 1; shift < 30 && l.cfg.Backoff<<shift < l.cfg.MaxBackoff {
			backoff = l.cfg.Backoff << shift
		}
		e.until = now.Add(backoff)
		e.fails = e.fails[len(e.fails)-l.cfg.MaxFailures:]
	}
}

// recent returns e's failures within the window before now. Callers hold
// mu.
func (l *LoginLimiter) recent(e *limitEntry, now time.Time) []time.Time {
	i := 0
	for i < len(e.fails) && now.Sub(e.fails[i]) >= l.cfg.Window {
		i++
	}
	return e.fails[i:]
}

// Success records a successful login: the user name's failures and
// lockouts are forgotten.
func (l *LoginLimiter) Success(user, _ string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range limitKeys(user, "") {
		delete(l.keys, k)
	}
}

// idle reports whether e no longer affects anything at now. Callers hold
// mu.
func (l *LoginLimiter) idle(e *limitEntry, now time.Time) bool {
	return !now.Before(e.until) && len(l.recent(e, now)) == 0 &&
		(e.strikes == 0 || now.Sub(e.until) >= l.cfg.MaxBackoff)
}

// makeRoom frees a slot for a new key if the limiter is full: first every
// idle key goes, then, if none was idle, the key that failed longest ago.
// Callers hold mu.
func (l *LoginLimiter) makeRoom(now time.Time) {
	if len(l.keys) < l.cfg.MaxKeys {
		return
	}
	for k, e := range l.keys {
		if l.idle(e, now) {
			delete(l.keys, k)
		}
	}
	if len(l.keys) < l.cfg.MaxKeys {
		return
	}
	var oldest string
	for k, e := range l.keys {
		if oldest == "" || e.last.Before(l.keys[oldest].last) {
			oldest = k
		}
	}
	delete(l.keys, oldest)
}

// Len returns how many keys the limiter remembers.
func (l *LoginLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}
