package main

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sample is one observation: when it was made and the lag it saw.
type sample struct {
	at  time.Time
	lag time.Duration
}

// recorder collects samples from many goroutines.
type recorder struct {
	mu sync.Mutex
	s  []sample
}

func (r *recorder) add(at time.Time, lag time.Duration) {
	r.mu.Lock()
	r.s = append(r.s, sample{at, lag})
	r.mu.Unlock()
}

// addAll adds samples observed together (one watch response).
func (r *recorder) addAll(at time.Time, lags []time.Duration) {
	r.mu.Lock()
	for _, l := range lags {
		r.s = append(r.s, sample{at, l})
	}
	r.mu.Unlock()
}

// window returns the lags of the samples observed in [from, to).
func (r *recorder) window(from, to time.Time) []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []time.Duration
	for _, s := range r.s {
		if !s.at.Before(from) && s.at.Before(to) {
			out = append(out, s.lag)
		}
	}
	return out
}

// dist summarises lags: count, percentiles, and how many were negative
// (an event before its nominal time: a fire early).
type dist struct {
	n             int
	p50, p99, max time.Duration
	early         int
}

func distOf(lags []time.Duration) dist {
	d := dist{n: len(lags)}
	if d.n == 0 {
		return d
	}
	s := slices.Clone(lags)
	slices.Sort(s)
	for _, l := range s {
		if l < 0 {
			d.early++
		}
	}
	d.p50 = s[(d.n-1)*50/100]
	d.p99 = s[(d.n-1)*99/100]
	d.max = s[d.n-1]
	return d
}

// cpuTime returns the CPU time (user + system) the process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssBytes returns the process's resident set size (VmRSS), or 0, after
// returning the memory the Go heap does not use to the system.
func rssBytes() int64 {
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// heapAfterGC collects garbage twice and returns the live heap in bytes.
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// loadAvg returns /proc/loadavg's first three fields.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// machine describes the host: CPUs, model, memory.
func machine() string {
	model := "?"
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
		_ = f.Close()
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if i := bytes.Index(b, []byte("MemTotal:")); i >= 0 {
			line, _, _ := bytes.Cut(b[i+len("MemTotal:"):], []byte("\n"))
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(string(line)), " kB"), 10, 64)
			mem = strconv.FormatFloat(float64(kb)/(1<<20), 'f', 1, 64) + " GiB"
		}
	}
	return strconv.Itoa(runtime.NumCPU()) + " CPUs (" + model + "), " + mem + " RAM, " + runtime.Version() +
		", GOMAXPROCS " + strconv.Itoa(runtime.GOMAXPROCS(0))
}
