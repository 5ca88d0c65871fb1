package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// checkFence returns domain.ErrNotLeader unless f names the current
// leader key with its create revision, like the etcd adapter's
// Compare(CreateRevision(f.Key), "=", f.Token). Callers hold mu.
func (b *Backend) checkFence(f ports.Fence) error {
	if f.IsZero() || len(b.candidates) == 0 {
		return fmt.Errorf("fence %s@%d: %w", f.Key, f.Token, domain.ErrNotLeader)
	}
	if c := b.candidates[0]; c.key != f.Key || c.createRev != f.Token {
		return fmt.Errorf("fence %s@%d is not the current leadership: %w", f.Key, f.Token, domain.ErrNotLeader)
	}
	return nil
}

// CreateFires writes a batch of fires with their runs, fenced, in one
// atomic write. A fire whose ID exists is left as it is, and so are the
// runs of its write (created[i] is false); the others are created with
// their runs. A fire with a zero LeaderToken gets the fence's token.
// Returns domain.ErrNotLeader, writing nothing, if fence is not the current
// leadership, and a *domain.ValidationError, writing nothing, for a record
// that is too big or IDs that do not belong together.
func (b *Backend) CreateFires(_ context.Context, fence ports.Fence, batch []ports.FireWrite) ([]bool, error) {
	for _, w := range batch {
		if w.Fire.ID == "" {
			return nil, fmt.Errorf("create fires: %w", &domain.ValidationError{Field: "id", Reason: "a fire needs an ID"})
		}
		if err := b.checkSize(fmt.Sprintf("create fire %q", w.Fire.ID), w.Fire); err != nil {
			return nil, err
		}
		for _, r := range w.Runs {
			if r.ID == "" || r.FireID != w.Fire.ID {
				return nil, fmt.Errorf("create fire %q: %w", w.Fire.ID,
					&domain.ValidationError{Field: "runs", Reason: fmt.Sprintf("run %q does not belong to the fire", r.ID)})
			}
			if err := b.checkSize(fmt.Sprintf("create run %q", r.ID), r); err != nil {
				return nil, err
			}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkFence(fence); err != nil {
		return nil, fmt.Errorf("create fires: %w", err)
	}
	created := make([]bool, len(batch))
	rev := b.bump()
	var events []entry
	for i, w := range batch {
		if _, ok := b.fires[w.Fire.ID]; ok {
			continue
		}
		f := cloneFire(w.Fire)
		if f.LeaderToken == 0 {
			f.LeaderToken = fence.Token
		}
		b.fires[f.ID] = f
		for _, r := range w.Runs {
			r = r.Clone()
			r.Version = rev
			prev, had := b.runs[r.ID]
			b.runs[r.ID] = r
			e := entry{kind: kindRun, val: r}
			if had {
				e.prev = prev
			}
			events = append(events, e)
		}
		created[i] = true
	}
	b.publish(events...)
	return created, nil
}

// GetFire returns the fire, or domain.ErrNotFound.
func (b *Backend) GetFire(_ context.Context, id string) (domain.Fire, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f, ok := b.fires[id]
	if !ok {
		return domain.Fire{}, fmt.Errorf("get fire %q: %w", id, domain.ErrNotFound)
	}
	return cloneFire(f), nil
}

// ListFires lists the fires f selects, newest first (by ID, which starts
// with the nominal time).
func (b *Backend) ListFires(_ context.Context, f ports.FireFilter) (ports.Page[domain.Fire], error) {
	b.mu.Lock()
	var items []domain.Fire
	for _, x := range b.fires {
		if (f.JobID == "" || x.JobID == f.JobID) && (f.Status == "" || x.Status == f.Status) {
			items = append(items, cloneFire(x))
		}
	}
	b.mu.Unlock()
	slices.SortFunc(items, func(x, y domain.Fire) int { return strings.Compare(y.ID, x.ID) })
	return paginate(listFires, items, func(x domain.Fire) string { return x.ID }, descending, f.PageRequest)
}

// lastNominal is the newest nominal time a fire record stands for: the
// last folded time of a skip summary, or its nominal time.
func lastNominal(f domain.Fire) time.Time {
	if f.Summary != nil && f.Summary.Last.After(f.Nominal) {
		return f.Summary.Last
	}
	return f.Nominal
}

// LastFires returns, for every job with a scheduled fire record, the
// newest nominal time its scheduled records stand for (for a skip summary,
// its last folded time). Manual fires do not count.
func (b *Backend) LastFires(context.Context) (map[string]time.Time, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	last := map[string]time.Time{}
	for _, f := range b.fires {
		if f.Kind == domain.FireManual {
			continue
		}
		if t, ok := last[f.JobID]; !ok || lastNominal(f).After(t) {
			last[f.JobID] = lastNominal(f)
		}
	}
	return last, nil
}

// CreateManualFire writes a manual fire and its runs, create-if-absent,
// without a fence. Returns domain.ErrAlreadyExists if the ID exists and a
// *domain.ValidationError for a fire that is not manual or runs that do
// not belong to it.
func (b *Backend) CreateManualFire(_ context.Context, w ports.FireWrite) error {
	if err := checkManual(w); err != nil {
		return err
	}
	for _, r := range w.Runs {
		if err := b.checkSize(fmt.Sprintf("create run %q", r.ID), r); err != nil {
			return err
		}
	}
	if err := b.checkSize(fmt.Sprintf("create fire %q", w.Fire.ID), w.Fire); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.fires[w.Fire.ID]; ok {
		return fmt.Errorf("create manual fire %q: %w", w.Fire.ID, domain.ErrAlreadyExists)
	}
	for _, r := range w.Runs {
		if _, ok := b.runs[r.ID]; ok {
			return fmt.Errorf("create manual fire %q: run %q: %w", w.Fire.ID, r.ID, domain.ErrAlreadyExists)
		}
	}
	rev := b.bump()
	b.fires[w.Fire.ID] = cloneFire(w.Fire)
	var events []entry
	for _, r := range w.Runs {
		r = r.Clone()
		r.Version = rev
		b.runs[r.ID] = r
		events = append(events, entry{kind: kindRun, val: r})
	}
	b.publish(events...)
	return nil
}

// checkManual checks the shape of a manual fire write.
func checkManual(w ports.FireWrite) error {
	f := w.Fire
	jobID, _, err := domain.ParseFireID(f.ID)
	if err != nil {
		return err
	}
	if f.Kind != domain.FireManual || strings.Count(f.ID, "~") != 2 {
		return &domain.ValidationError{Field: "kind", Reason: fmt.Sprintf("fire %q is not a manual fire", f.ID)}
	}
	if f.JobID != jobID {
		return &domain.ValidationError{Field: "job_id", Reason: fmt.Sprintf("%q does not match the fire ID %q", f.JobID, f.ID)}
	}
	for _, r := range w.Runs {
		if r.FireID != f.ID || !strings.HasPrefix(r.ID, f.ID+"~") || r.JobID != f.JobID || r.State != domain.RunPending {
			return &domain.ValidationError{Field: "runs", Reason: fmt.Sprintf("run %q is not a pending run of fire %q", r.ID, f.ID)}
		}
	}
	return nil
}
