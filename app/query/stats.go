package query

import (
	"context"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Stats windows.
const (
	// StatsHours is the number of hourly buckets: the last 24 hours.
	StatsHours = 24
	// StatsDays is the number of daily buckets: the last 30 days.
	StatsDays = 30
)

// Bucket counts the runs scheduled in [Start, End) by state.
type Bucket struct {
	Start, End time.Time
	// Counts has an entry for every state of domain.AllRunStates, zeros
	// included, so a chart needs no special case.
	Counts map[domain.RunState]int
	// Total is the sum of Counts.
	Total int
}

// Stats counts runs per state per hour (the last 24 hours, the current
// one included) and per day (the last 30 days, today included), by the
// time each run was scheduled for (Run.ScheduledAt, the nominal time of
// its fire).
type Stats struct {
	// GeneratedAt is the clock's time when the stats were computed.
	GeneratedAt time.Time
	// Location is the time zone of the hour and day boundaries.
	Location *time.Location
	// Hourly has StatsHours buckets, oldest first.
	Hourly []Bucket
	// Daily has StatsDays buckets, oldest first.
	Daily []Bucket
	// Scanned is how many runs were read.
	Scanned int
	// Truncated is true when the scan stopped at Config.StatsScan runs:
	// the runs scheduled at or before CompleteFrom were not all counted.
	Truncated bool
	// CompleteFrom is the time after which every run was counted: the
	// start of the oldest day without truncation, else the scheduled
	// time of the oldest run read.
	CompleteFrom time.Time
}

// Stats computes the run statistics in loc (nil means UTC). It reads the
// runs of the last StatsDays days through RunStore.ListRuns, newest first,
// pages of ports.MaxPageLimit, and stops after Config.StatsScan runs
// (default DefaultStatsScan = 20 000, i.e. at most 20 store calls), so its
// cost is bounded whatever the history holds; the answer says whether the
// bound cut it short. Retention (by default 100 runs per job and 7 days)
// usually keeps the history well under the bound, and bounds how far back
// the daily buckets can see.
func (s *Service) Stats(ctx context.Context, loc *time.Location) (Stats, error) {
	if loc == nil {
		loc = time.UTC
	}
	now := s.cfg.Clock.Now().In(loc)
	st := Stats{GeneratedAt: now, Location: loc}
	hour := time.Date(now.Year(), now.Month(), now.Day(), now.Hour(), 0, 0, 0, loc)
	for i := StatsHours - 1; i >= 0; i-- {
		start := hour.Add(-time.Duration(i) * time.Hour)
		st.Hourly = append(st.Hourly, newBucket(start, start.Add(time.Hour)))
	}
	for i := StatsDays - 1; i >= 0; i-- {
		start := time.Date(now.Year(), now.Month(), now.Day()-i, 0, 0, 0, 0, loc)
		end := time.Date(now.Year(), now.Month(), now.Day()-i+1, 0, 0, 0, 0, loc)
		st.Daily = append(st.Daily, newBucket(start, end))
	}
	from, to := st.Daily[0].Start, st.Daily[StatsDays-1].End
	if e := st.Hourly[StatsHours-1].End; e.After(to) {
		to = e
	}
	if s := st.Hourly[0].Start; s.Before(from) {
		from = s
	}
	st.CompleteFrom = from
	f := ports.RunFilter{From: from, To: to, PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	for {
		page, err := s.cfg.Runs.ListRuns(ctx, f)
		if err != nil {
			return Stats{}, wrap("stats", err)
		}
		for _, r := range page.Items {
			if st.Scanned == s.cfg.StatsScan {
				st.Truncated = true
				return st, nil
			}
			st.Scanned++
			st.CompleteFrom = r.ScheduledAt // until the scan ends: see below
			count(st.Hourly, r)
			count(st.Daily, r)
		}
		if page.NextCursor == "" {
			st.CompleteFrom = from
			return st, nil
		}
		if st.Scanned == s.cfg.StatsScan {
			st.Truncated = true
			return st, nil
		}
		f.Cursor = page.NextCursor
	}
}

func newBucket(start, end time.Time) Bucket {
	c := make(map[domain.RunState]int, len(domain.AllRunStates))
	for _, s := range domain.AllRunStates {
		c[s] = 0
	}
	return Bucket{Start: start, End: end, Counts: c}
}

// count adds r to the bucket of buckets (sorted, contiguous) holding its
// scheduled time, if any.
func count(buckets []Bucket, r domain.Run) {
	t := r.ScheduledAt
	if len(buckets) == 0 || t.Before(buckets[0].Start) || !t.Before(buckets[len(buckets)-1].End) {
		return
	}
	lo, hi := 0, len(buckets)-1
	for lo < hi { // the last bucket whose start is not after t
		mid := (lo + hi + 1) / 2
		if buckets[mid].Start.After(t) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	if b := &buckets[lo]; t.Before(b.End) && r.State.Valid() {
		b.Counts[r.State]++
		b.Total++
	}
}
