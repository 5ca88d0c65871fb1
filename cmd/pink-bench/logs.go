package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// logEvent is a log line of interest to the harness: a scheduler saying
// it leads, or is ready.
type logEvent struct {
	node string
	msg  string
	at   time.Time
	took time.Duration // the "took" attribute, if any
}

// logSink receives the log of every component of the harness. It keeps
// the events the harness waits for ("leader ready", ...), counts warnings
// and errors by message to summarise them at the end, and drops the rest,
// so logging costs little and the table stays readable. With -v it prints
// every line it gets (Info and up from schedulers, Warn and up from the
// rest) as it comes.
type logSink struct {
	out     io.Writer
	verbose bool

	mu      sync.Mutex
	cond    *sync.Cond
	events  []logEvent
	counted map[string]int
}

// watched are the messages the harness waits for.
var watched = map[string]bool{"leader ready": true, "leading": true}

func newLogSink(out io.Writer, verbose bool) *logSink {
	s := &logSink{out: out, verbose: verbose, counted: make(map[string]int)}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// logger returns a logger for a component: Info for schedulers (whose
// Info lines are rare and include "leader ready"), Warn for the rest.
func (s *logSink) logger(level slog.Level, attrs ...any) *slog.Logger {
	return slog.New(&sinkHandler{s: s, level: level}).With(attrs...)
}

// wait returns the first event with msg from node at or after since, or
// false when ctx ends first.
func (s *logSink) wait(ctx context.Context, node, msg string, since time.Time) (logEvent, bool) {
	stop := context.AfterFunc(ctx, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for _, e := range s.events {
			if e.node == node && e.msg == msg && !e.at.Before(since) {
				return e, true
			}
		}
		if ctx.Err() != nil {
			return logEvent{}, false
		}
		s.cond.Wait()
	}
}

// summary writes the warnings and errors counted, most frequent first.
func (s *logSink) summary(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.counted) == 0 {
		return
	}
	keys := slices.SortedFunc(maps.Keys(s.counted), func(a, b string) int { return s.counted[b] - s.counted[a] })
	fmt.Fprintln(w, "warnings and errors logged during the run (count, level and message):")
	for _, k := range keys {
		fmt.Fprintf(w, "  %7d  %s\n", s.counted[k], k)
	}
}

type sinkHandler struct {
	s     *logSink
	level slog.Level
	attrs []slog.Attr
}

func (h *sinkHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *sinkHandler) Handle(_ context.Context, r slog.Record) error {
	s := h.s
	if watched[r.Message] {
		e := logEvent{msg: r.Message, at: r.Time}
		each := func(a slog.Attr) bool {
			switch a.Key {
			case "node":
				e.node = a.Value.String()
			case "took":
				if d, ok := a.Value.Any().(time.Duration); ok {
					e.took = d
				}
			}
			return true
		}
		for _, a := range h.attrs {
			each(a)
		}
		r.Attrs(each)
		s.mu.Lock()
		s.events = append(s.events, e)
		s.cond.Broadcast()
		s.mu.Unlock()
	}
	key := r.Level.String() + " " + r.Message
	if r.Level >= slog.LevelWarn {
		s.mu.Lock()
		s.counted[key]++
		s.mu.Unlock()
	}
	if s.verbose {
		line := r.Time.Format("15:04:05.000") + " " + key
		for _, a := range h.attrs {
			line += " " + a.String()
		}
		r.Attrs(func(a slog.Attr) bool { line += " " + a.String(); return true })
		fmt.Fprintln(s.out, line)
	}
	return nil
}

func (h *sinkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clip(h.attrs), as...)
	return &c
}

// WithGroup is not used by Pink's components; attributes stay flat.
func (h *sinkHandler) WithGroup(string) slog.Handler { return h }
