package query

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// WorkerView is a live worker and the runs it holds.
type WorkerView struct {
	Worker domain.Worker
	// Running lists the runs assigned to the worker or running on it, by
	// ID descending.
	Running []domain.Run
}

// Workers lists the live workers of group ("" for every group), by ID, one
// page at a time, each with its assigned and running runs. The runs come
// from one RunStore.ListRuns of the active runs (of the group), reading at
// most Config.ActiveScan of them; past that bound it asks
// RunStore.ListAssigned for each worker of the page instead, so the answer
// is exact either way. A malformed group is a *domain.ValidationError for
// field "group"; an unknown one lists nothing.
func (s *Service) Workers(ctx context.Context, group string, p ports.PageRequest) (ports.Page[WorkerView], error) {
	var out ports.Page[WorkerView]
	if err := validName("group", group); err != nil {
		return out, err
	}
	all, _, err := s.cfg.Workers.ListWorkers(ctx, group)
	if err != nil {
		return out, wrap("list workers", err)
	}
	slices.SortFunc(all, func(a, b domain.Worker) int { return strings.Compare(a.ID, b.ID) })
	page, err := pageAfter(cursorWorkers, all, func(w domain.Worker) string { return w.ID }, p)
	if err != nil {
		return out, err
	}
	out.NextCursor = page.NextCursor
	out.Items = make([]WorkerView, len(page.Items))
	if len(page.Items) == 0 {
		return out, nil
	}
	byWorker, complete, err := s.activeByWorker(ctx, group)
	if err != nil {
		return out, err
	}
	for i, w := range page.Items {
		out.Items[i].Worker = w
		if complete {
			out.Items[i].Running = byWorker[w.ID]
			continue
		}
		runs, _, err := s.cfg.Runs.ListAssigned(ctx, w.Group, w.ID)
		if err != nil {
			return out, wrap("list runs of worker "+w.ID, err)
		}
		for _, r := range runs {
			if r.State == domain.RunAssigned || r.State == domain.RunRunning {
				out.Items[i].Running = append(out.Items[i].Running, r)
			}
		}
		slices.SortFunc(out.Items[i].Running, func(a, b domain.Run) int { return strings.Compare(b.ID, a.ID) })
	}
	return out, nil
}

// activeByWorker reads the assigned and running runs of group ("" for all)
// by worker, and reports whether it read them all within the bound.
func (s *Service) activeByWorker(ctx context.Context, group string) (map[string][]domain.Run, bool, error) {
	f := ports.RunFilter{Group: group, States: []domain.RunState{domain.RunAssigned, domain.RunRunning},
		PageRequest: ports.PageRequest{Limit: ports.MaxPageLimit}}
	out := map[string][]domain.Run{}
	scanned := 0
	for {
		page, err := s.cfg.Runs.ListRuns(ctx, f)
		if err != nil {
			return nil, false, wrap("list active runs", err)
		}
		for _, r := range page.Items {
			scanned++
			if r.WorkerID != "" {
				out[r.WorkerID] = append(out[r.WorkerID], r)
			}
		}
		if page.NextCursor == "" {
			return out, true, nil
		}
		if scanned >= s.cfg.ActiveScan {
			return nil, false, nil
		}
		f.Cursor = page.NextCursor
	}
}

// NodeView is a live scheduler node.
type NodeView struct {
	Node domain.Node
	// Leader is true for the node that currently leads the cluster.
	Leader bool
}

// NodePage is a page of nodes and who leads.
type NodePage struct {
	Items      []NodeView
	NextCursor string
	// LeaderID is the leader's node ID, "" when there is none (or no
	// Config.Leader). The leader may be missing from Items while its
	// registration is renewed or expires.
	LeaderID string
}

// Nodes lists the live scheduler nodes by ID, one page at a time, marking
// the leader (Config.Leader; domain.ErrNotFound from it means no leader).
func (s *Service) Nodes(ctx context.Context, p ports.PageRequest) (NodePage, error) {
	var out NodePage
	leader, err := s.LeaderID(ctx)
	if err != nil {
		return out, err
	}
	all, err := s.cfg.Nodes.ListNodes(ctx)
	if err != nil {
		return out, wrap("list nodes", err)
	}
	slices.SortFunc(all, func(a, b domain.Node) int { return strings.Compare(a.ID, b.ID) })
	page, err := pageAfter(cursorNodes, all, func(n domain.Node) string { return n.ID }, p)
	if err != nil {
		return out, err
	}
	out.LeaderID, out.NextCursor = leader, page.NextCursor
	out.Items = make([]NodeView, len(page.Items))
	for i, n := range page.Items {
		out.Items[i] = NodeView{Node: n, Leader: leader != "" && n.ID == leader}
	}
	return out, nil
}

// LeaderID returns the current leader's node ID, or "" when there is none
// or no Config.Leader was given.
func (s *Service) LeaderID(ctx context.Context) (string, error) {
	if s.cfg.Leader == nil {
		return "", nil
	}
	li, err := s.cfg.Leader.Leader(ctx)
	if errors.Is(err, domain.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", wrap("find leader", err)
	}
	return li.NodeID, nil
}
