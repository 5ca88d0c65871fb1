package domain

import "time"

// CatchUp is what to do with the nominal times a job missed.
type CatchUp struct {
	// Fire lists the nominal times to fire now, oldest first.
	Fire []time.Time
	// Skip lists nominal times to record as skipped, one record each.
	Skip []time.Time
	// Summary folds skipped times beyond MaxSkipRecords into one record.
	Summary *SkipSummary
}

// MaxCatchUpScan bounds the nominal times older than the misfire window
// that PlanCatchUp enumerates one by one (about 0.1 s of CPU), so an absurd
// outage of a 1-second job cannot stall the leader. Beyond it the summary
// is marked Truncated and the scan jumps to the window.
const MaxCatchUpScan = 1_000_000

// PlanCatchUp applies the misfire policy m to the nominal times of s in
// (since, now]. A time older than now minus the window is skipped whatever
// the policy. MisfireSkip skips every missed time; MisfireFireOnce fires the
// newest time inside the window and skips the rest; MisfireFireAll fires
// every time inside the window (the newest MaxCatchUpFires) and skips the
// rest. Skipped times beyond MaxSkipRecords are folded into Summary; if
// more than MaxCatchUpScan old times were missed, Summary is Truncated: the
// times after Summary.Last and before the window were not enumerated.
func PlanCatchUp(s *Schedule, since, now time.Time, m Misfire) CatchUp {
	var inWindow, old []time.Time
	var summary *SkipSummary
	addSkip := func(t time.Time) {
		if len(old) < MaxSkipRecords {
			old = append(old, t)
			return
		}
		if summary == nil {
			summary = &SkipSummary{First: t}
		}
		summary.Count++
		summary.Last = t
	}
	edge := now.Add(-m.Window.Std())
	t := since
	for scanned := 0; ; scanned++ {
		if scanned == MaxCatchUpScan && t.Before(edge) {
			// Too many old times to count one by one: fold the rest of
			// them, up to the window, into the summary without counting.
			if summary == nil {
				summary = &SkipSummary{First: t, Last: t}
			}
			summary.Truncated = true
			t = edge.Add(-time.Nanosecond)
		}
		next, ok := s.Next(t)
		if !ok || next.After(now) {
			break
		}
		t = next
		if next.Before(edge) || m.Policy == MisfireSkip {
			addSkip(next)
			continue
		}
		inWindow = append(inWindow, next)
	}
	keep := 0
	switch m.Policy {
	case MisfireFireOnce:
		keep = min(1, len(inWindow))
	case MisfireFireAll:
		keep = min(MaxCatchUpFires, len(inWindow))
	}
	for _, t := range inWindow[:len(inWindow)-keep] {
		addSkip(t)
	}
	return CatchUp{Fire: inWindow[len(inWindow)-keep:], Skip: old, Summary: summary}
}
