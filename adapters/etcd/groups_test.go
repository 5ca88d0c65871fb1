package etcd

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Helpers shared by the store tests (groups, jobs, fires, runs, prune).

// st0 is the reference time of the store tests' fixtures.
var st0 = time.Date(2026, 11, 26, 16, 0, 0, 0, time.UTC)

// newTestStore returns a Store under a fresh prefix of the shared server,
// with a context bounded by the test.
func newTestStore(t *testing.T) (*Store, context.Context) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	s := NewStore(testServer.Client(), Options{Prefix: testPrefix(t),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return s, ctx
}

// testFence makes a fence out of a plain key: its create revision is the
// token. Deleting the key ends the "leadership".
func testFence(t *testing.T, s *Store) ports.Fence {
	t.Helper()
	key := s.k.p + "/test-fence"
	resp, err := s.cli.Put(t.Context(), key, "leader")
	require.NoError(t, err)
	return ports.Fence{Key: key, Token: resp.Header.Revision}
}

// rawKVs returns every key under the store's prefix.
func rawKVs(t *testing.T, s *Store) map[string]*mvccpb.KeyValue {
	t.Helper()
	resp, err := s.cli.Get(t.Context(), s.k.p+"/", clientv3.WithPrefix())
	require.NoError(t, err)
	out := make(map[string]*mvccpb.KeyValue, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		out[strings.TrimPrefix(string(kv.Key), s.k.p)] = kv
	}
	return out
}

// rawJSON decodes the value of key (relative to the store's prefix).
func rawJSON(t *testing.T, s *Store, key string) map[string]any {
	t.Helper()
	resp, err := s.cli.Get(t.Context(), s.k.p+key)
	require.NoError(t, err)
	require.Len(t, resp.Kvs, 1, "key %s", key)
	var m map[string]any
	require.NoError(t, json.Unmarshal(resp.Kvs[0].Value, &m))
	return m
}

func TestGroupKeyLayoutAndVersion(t *testing.T) {
	s, ctx := newTestStore(t)
	g, err := s.CreateGroup(ctx, domain.Group{Name: "alpha", Description: "first", CreatedAt: st0, UpdatedAt: st0})
	require.NoError(t, err)
	require.EqualValues(t, 1, g.Version)

	kvs := rawKVs(t, s)
	require.Len(t, kvs, 1)
	require.Contains(t, kvs, "/group/instances/alpha")
	v := rawJSON(t, s, "/group/instances/alpha")
	require.EqualValues(t, 1, v["version"], "the envelope's schema version")
	require.Equal(t, "alpha", v["group"].(map[string]any)["name"])
	require.EqualValues(t, 1, v["group"].(map[string]any)["version"], "the record's own Version")

	g, err = s.UpdateGroup(ctx, "alpha", func(g *domain.Group) error { g.Description = "second"; return nil })
	require.NoError(t, err)
	require.EqualValues(t, 2, g.Version, "Version counts changes")
	require.EqualValues(t, 2, rawJSON(t, s, "/group/instances/alpha")["group"].(map[string]any)["version"])
}

func TestDeleteGroupComparesOnlyItsOwnJobPrefix(t *testing.T) {
	s, ctx := newTestStore(t)
	for _, g := range []string{"alpha", "alpha-x"} {
		_, err := s.CreateGroup(ctx, domain.Group{Name: g})
		require.NoError(t, err)
	}
	// A job of "alpha-x" lives under job/instances/alpha-x/, which is not
	// under alpha/: it must not block deleting "alpha".
	_, err := s.CreateJob(ctx, storeJob("j1", "alpha-x"))
	require.NoError(t, err)
	require.NoError(t, s.DeleteGroup(ctx, "alpha"))
	require.ErrorIs(t, s.DeleteGroup(ctx, "alpha-x"), domain.ErrConflict)
}

func TestCreateJobAndDeleteGroupRace(t *testing.T) {
	s, ctx := newTestStore(t)
	// Whatever the interleaving, a job never outlives its group.
	for i := range 30 {
		_, err := s.CreateGroup(ctx, domain.Group{Name: "alpha"})
		require.NoError(t, err)
		jobErr := make(chan error, 1)
		go func() {
			_, err := s.CreateJob(ctx, storeJob("j1", "alpha"))
			jobErr <- err
		}()
		delErr := s.DeleteGroup(ctx, "alpha")
		cErr := <-jobErr
		_, getErr := s.GetGroup(ctx, "alpha")
		switch {
		case cErr == nil:
			require.ErrorIs(t, delErr, domain.ErrConflict, "round %d: the job won, the delete must fail", i)
			require.NoError(t, getErr)
			_, err := s.DeleteJob(ctx, "j1")
			require.NoError(t, err)
			require.NoError(t, s.DeleteGroup(ctx, "alpha"))
		default:
			require.ErrorIs(t, cErr, domain.ErrNotFound, "round %d", i)
			require.Equal(t, "group", domain.FieldOf(cErr))
			require.NoError(t, delErr)
		}
		require.Empty(t, rawKVs(t, s), "round %d: nothing left behind", i)
	}
}

func TestOversizedValuesRefusedBeforeSending(t *testing.T) {
	s, ctx := newTestStore(t)
	_, err := s.CreateGroup(ctx, domain.Group{Name: "alpha", Description: strings.Repeat("x", maxValueSize)})
	require.ErrorIs(t, err, domain.ErrInvalid)
	require.Equal(t, "value", domain.FieldOf(err))
	require.Empty(t, rawKVs(t, s))
}

func TestBadCursorsAndNamesAreHarmless(t *testing.T) {
	s, ctx := newTestStore(t)
	_, err := s.ListGroups(ctx, ports.PageRequest{Cursor: encodeCursor("j", "alpha/j1")})
	require.ErrorIs(t, err, domain.ErrInvalid, "a cursor of another listing")
	_, err = s.GetGroup(ctx, "../job")
	require.ErrorIs(t, err, domain.ErrNotFound)
	_, err = s.CreateGroup(ctx, domain.Group{Name: "a/b"})
	require.ErrorIs(t, err, domain.ErrInvalid)
}
