package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// CreateGroup stores a new group and sets its Version. It returns
// domain.ErrAlreadyExists if the name is taken, and a
// *domain.ValidationError for a name that is not a valid key segment.
func (b *Backend) CreateGroup(_ context.Context, g domain.Group) (domain.Group, error) {
	if err := domain.ValidateName("name", g.Name); err != nil {
		return domain.Group{}, fmt.Errorf("create group: %w", err)
	}
	if err := b.checkSize("create group "+g.Name, g); err != nil {
		return domain.Group{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.groups[g.Name]; ok {
		return domain.Group{}, fmt.Errorf("create group %q: %w", g.Name, domain.ErrAlreadyExists)
	}
	g.Version = b.bump()
	b.groups[g.Name] = g
	b.publish()
	return g, nil
}

// GetGroup returns the group, or domain.ErrNotFound.
func (b *Backend) GetGroup(_ context.Context, name string) (domain.Group, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	g, ok := b.groups[name]
	if !ok {
		return domain.Group{}, fmt.Errorf("get group %q: %w", name, domain.ErrNotFound)
	}
	return g, nil
}

// ListGroups lists groups by name.
func (b *Backend) ListGroups(_ context.Context, p ports.PageRequest) (ports.Page[domain.Group], error) {
	b.mu.Lock()
	items := make([]domain.Group, 0, len(b.groups))
	for _, g := range b.groups {
		items = append(items, g)
	}
	b.mu.Unlock()
	slices.SortFunc(items, func(x, y domain.Group) int { return strings.Compare(x.Name, y.Name) })
	return paginate(listGroups, items, func(g domain.Group) string { return g.Name }, strings.Compare, p)
}

// UpdateGroup changes a group through fn, atomically: fn runs on a copy
// without the store locked, and the result is stored only if the group did
// not change meanwhile (otherwise fn runs again on the new value). Returns
// domain.ErrNotFound, fn's error, domain.ErrInvalid if fn renamed the group,
// or domain.ErrConflict after too many lost races.
func (b *Backend) UpdateGroup(ctx context.Context, name string, fn func(*domain.Group) error) (domain.Group, error) {
	return casUpdate[domain.Group]{
		what:    fmt.Sprintf("update group %q", name),
		load:    func() (domain.Group, bool) { g, ok := b.groups[name]; return g, ok },
		version: func(g domain.Group) int64 { return g.Version },
		clone:   func(g domain.Group) domain.Group { return g },
		check: func(_, next *domain.Group) error {
			if next.Name != name {
				return &domain.ValidationError{Field: "name", Reason: "a group cannot be renamed"}
			}
			return b.checkSize("group", next)
		},
		store: func(_, next domain.Group) domain.Group {
			next.Version = b.bump()
			b.groups[name] = next
			b.publish()
			return next
		},
	}.run(ctx, b, fn)
}

// DeleteGroup removes an empty group. Returns domain.ErrNotFound, or
// domain.ErrConflict if the group still has jobs.
func (b *Backend) DeleteGroup(_ context.Context, name string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.groups[name]; !ok {
		return fmt.Errorf("delete group %q: %w", name, domain.ErrNotFound)
	}
	for _, j := range b.jobs {
		if j.Group == name {
			return fmt.Errorf("delete group %q: it still has jobs (%s, ...): %w", name, j.ID, domain.ErrConflict)
		}
	}
	b.bump()
	delete(b.groups, name)
	b.publish()
	return nil
}
