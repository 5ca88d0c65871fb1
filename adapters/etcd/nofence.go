//go:build pink_nofence

package etcd

// A deliberately broken build: `go build -tags pink_nofence` makes every
// fenced write succeed whoever writes it. Never ship it; test/cluster
// builds it (PINK_BUILD_TAGS=pink_nofence) to show that its checks catch
// an ex-leader's late writes.
func init() { fencingDisabled = true }
