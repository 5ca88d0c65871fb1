package etcd

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

var _ ports.GroupStore = (*Store)(nil)

// CreateGroup stores a new group under <p>/group/instances/<name> if no
// group has that name (one Txn: compare the key absent, put). It sets
// Version to 1; the timestamps are the caller's.
func (s *Store) CreateGroup(ctx context.Context, g domain.Group) (domain.Group, error) {
	if err := domain.ValidateName("name", g.Name); err != nil {
		return domain.Group{}, fmt.Errorf("create group: %w", err)
	}
	g.Version = 1
	val, err := encodeGroup(&g)
	if err != nil {
		return domain.Group{}, err
	}
	key := s.k.group(g.Name)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, val)).Commit()
	if err != nil {
		return domain.Group{}, translate(ctx, "create group "+g.Name, err)
	}
	if !resp.Succeeded {
		return domain.Group{}, fmt.Errorf("create group %q: %w", g.Name, domain.ErrAlreadyExists)
	}
	return g, nil
}

// GetGroup returns the group, or domain.ErrNotFound.
func (s *Store) GetGroup(ctx context.Context, name string) (domain.Group, error) {
	g, _, err := s.getGroup(ctx, name)
	return g, err
}

// getGroup returns the group and its key's ModRevision.
func (s *Store) getGroup(ctx context.Context, name string) (domain.Group, int64, error) {
	if err := domain.ValidateName("name", name); err != nil {
		return domain.Group{}, 0, fmt.Errorf("group %q: %w", name, domain.ErrNotFound)
	}
	key := s.k.group(name)
	resp, err := s.cli.Get(ctx, key)
	if err != nil {
		return domain.Group{}, 0, translate(ctx, "get group "+name, err)
	}
	if len(resp.Kvs) == 0 {
		return domain.Group{}, 0, fmt.Errorf("group %q: %w", name, domain.ErrNotFound)
	}
	g, err := decodeGroup(key, resp.Kvs[0].Value)
	return g, resp.Kvs[0].ModRevision, err
}

// ListGroups lists groups by name, one range read per page.
func (s *Store) ListGroups(ctx context.Context, p ports.PageRequest) (ports.Page[domain.Group], error) {
	var page ports.Page[domain.Group]
	after, err := decodeCursor("g", p.Cursor)
	if err != nil {
		return page, err
	}
	start := s.k.groups()
	if after != "" {
		start = s.k.group(after) + "\x00"
	}
	limit := p.EffectiveLimit()
	kvs, _, err := s.rangeAsc(ctx, "list groups", start, prefixEnd(s.k.groups()), int(pageLimit(limit)), false)
	if err != nil {
		return page, err
	}
	for i, kv := range kvs {
		if i == limit {
			page.NextCursor = encodeCursor("g", page.Items[limit-1].Name)
			break
		}
		g, err := decodeGroup(string(kv.Key), kv.Value)
		if err != nil {
			return page, err
		}
		page.Items = append(page.Items, g)
	}
	return page, nil
}

// UpdateGroup changes a group through fn with a compare-and-swap on the
// group key's ModRevision, retrying on a lost race (at most maxCASTries
// times, then domain.ErrConflict). The name cannot change. Version goes up
// by one.
func (s *Store) UpdateGroup(ctx context.Context, name string, fn func(*domain.Group) error) (domain.Group, error) {
	var out domain.Group
	err := casLoop(ctx, "update group "+name, func() error {
		g, rev, err := s.getGroup(ctx, name)
		if err != nil {
			return err
		}
		old := g.Version
		if err := fn(&g); err != nil {
			return err
		}
		if g.Name != name {
			return &domain.ValidationError{Field: "name", Reason: "a group cannot be renamed"}
		}
		g.Version = old + 1
		val, err := encodeGroup(&g)
		if err != nil {
			return err
		}
		key := s.k.group(name)
		resp, err := s.cli.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(key), "=", rev)).
			Then(clientv3.OpPut(key, val)).Commit()
		if err != nil {
			return translate(ctx, "update group "+name, err)
		}
		if !resp.Succeeded {
			return errTryAgain
		}
		out = g
		return nil
	})
	return out, err
}

// DeleteGroup removes a group that has no jobs, in one Txn comparing the
// group key present and no key under <p>/job/instances/<group>/ (a prefix
// compare), so a concurrent CreateJob cannot slip in.
func (s *Store) DeleteGroup(ctx context.Context, name string) error {
	if err := domain.ValidateName("name", name); err != nil {
		return fmt.Errorf("group %q: %w", name, domain.ErrNotFound)
	}
	key, jobs := s.k.group(name), s.k.groupJobs(name)
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), ">", 0),
			clientv3.Compare(clientv3.CreateRevision(jobs), "=", 0).WithPrefix()).
		Then(clientv3.OpDelete(key)).
		Else(clientv3.OpGet(key, clientv3.WithCountOnly())).Commit()
	if err != nil {
		return translate(ctx, "delete group "+name, err)
	}
	if resp.Succeeded {
		return nil
	}
	if resp.Responses[0].GetResponseRange().GetCount() == 0 {
		return fmt.Errorf("delete group %q: %w", name, domain.ErrNotFound)
	}
	return fmt.Errorf("delete group %q: the group still has jobs: %w", name, domain.ErrConflict)
}
