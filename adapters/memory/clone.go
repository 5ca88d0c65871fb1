package memory

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/pink-scheduler/pink/domain"
)

// cloneFire returns a deep copy of f.
func cloneFire(f domain.Fire) domain.Fire {
	f.RunIDs = slices.Clone(f.RunIDs)
	f.Params = append(json.RawMessage(nil), f.Params...)
	if f.Summary != nil {
		s := *f.Summary
		f.Summary = &s
	}
	return f
}

// cloneWorker returns a deep copy of w.
func cloneWorker(w domain.Worker) domain.Worker {
	w.Labels = maps.Clone(w.Labels)
	w.Handlers = slices.Clone(w.Handlers)
	return w
}
