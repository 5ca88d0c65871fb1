package etcd

import "strings"

// DefaultPrefix is the root of every key Pink writes.
const DefaultPrefix = "/pink"

// keys builds the etcd key layout documented in docs/etcd-layout.md. Keep
// both in step: operators and workers in other languages read this layout.
type keys struct{ p string }

func newKeys(prefix string) keys {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return keys{p: strings.TrimRight(prefix, "/")}
}

// Election keys live alone under their prefix: any key there counts as a
// candidate for concurrency.Election.
func (k keys) election() string              { return k.p + "/node/election/" }
func (k keys) nodes() string                 { return k.p + "/node/instances/" }
func (k keys) node(id string) string         { return k.nodes() + id }
func (k keys) groups() string                { return k.p + "/group/instances/" }
func (k keys) group(name string) string      { return k.groups() + name }
func (k keys) jobs() string                  { return k.p + "/job/instances/" }
func (k keys) groupJobs(group string) string { return k.jobs() + group + "/" }
func (k keys) job(group, id string) string   { return k.groupJobs(group) + id }
func (k keys) jobIndex(id string) string     { return k.p + "/job/index/" + id }
func (k keys) workers(group string) string   { return k.p + "/client/" + group + "/instances/" }
func (k keys) allWorkers() string            { return k.p + "/client/" }
func (k keys) worker(group, id string) string {
	return k.workers(group) + id
}

// Run, fire and bookkeeping keys, written by the stores in groups.go,
// jobs.go, fires.go, runs.go and prune.go. A run lives under exactly one of
// the three state prefixes (pending, assigned to a worker, history) and has
// one index entry that says where; see docs/etcd-layout.md.
func (k keys) pendingRuns() string            { return k.p + "/schedule/snapshots/" }
func (k keys) pendingRun(runID string) string { return k.pendingRuns() + runID }
func (k keys) assignedRuns() string           { return k.p + "/execute/snapshots/" }
func (k keys) groupAssigned(group string) string {
	return k.assignedRuns() + group + "/"
}
func (k keys) workerAssigned(group, worker string) string {
	return k.groupAssigned(group) + worker + "/"
}
func (k keys) assignedRun(group, worker, runID string) string {
	return k.workerAssigned(group, worker) + runID
}
func (k keys) historyRuns() string                   { return k.p + "/execute/history/snapshots/" }
func (k keys) jobHistory(jobID string) string        { return k.historyRuns() + jobID + "/" }
func (k keys) historyRun(jobID, runID string) string { return k.jobHistory(jobID) + runID }
func (k keys) runIndexes() string                    { return k.p + "/run/index/" }
func (k keys) runIndex(runID string) string          { return k.runIndexes() + runID }
func (k keys) fires() string                         { return k.p + "/fire/instances/" }
func (k keys) jobFires(jobID string) string          { return k.fires() + jobID + "/" }
func (k keys) fire(jobID, fireID string) string      { return k.jobFires(jobID) + fireID }
func (k keys) fireIndexes() string                   { return k.p + "/fire/index/" }
func (k keys) fireIndex(fireID string) string        { return k.fireIndexes() + fireID }
func (k keys) jobIndexes() string                    { return k.p + "/job/index/" }

// lastFire is a job's last-fire marker: the newest nominal time its
// scheduled fire records stand for (see fires_last.go). lastFiresState is
// the state of the markers' one-time migration from the ledger.
func (k keys) lastFires() string            { return k.p + "/fire/last/" }
func (k keys) lastFire(jobID string) string { return k.lastFires() + jobID }
func (k keys) lastFiresState() string       { return k.p + "/fire/last-state" }
func (k keys) pruneCursor() string          { return k.p + "/prune/cursor" }

// prefixEnd returns the smallest key greater than every key starting with
// prefix (clientv3.GetPrefixRangeEnd).
func prefixEnd(prefix string) string {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1])
		}
	}
	return "\x00"
}

// Auth keys, written by auth.go: users, the admin guard, tokens with their
// three index entries (by hash, by owner, by expiry) and the audit log. See
// "Users, tokens and the audit log" in docs/etcd-layout.md.
func (k keys) users() string                { return k.p + "/auth/users/" }
func (k keys) user(name string) string      { return k.users() + name }
func (k keys) adminGuard() string           { return k.p + "/auth/admin-guard" }
func (k keys) tokens() string               { return k.p + "/auth/tokens/" }
func (k keys) token(id string) string       { return k.tokens() + id }
func (k keys) tokenHash(hash string) string { return k.p + "/auth/token-hash/" + hash }
func (k keys) tokenOwners() string          { return k.p + "/auth/token-owner/" }
func (k keys) tokenOwner(kind, owner string) string {
	return k.tokenOwners() + kind + "/" + owner + "/"
}
func (k keys) tokenOwnerEntry(kind, owner, id string) string {
	return k.tokenOwner(kind, owner) + id
}
func (k keys) tokenExpiries() string { return k.p + "/auth/token-expiry/" }

// tokenExpiry is the expiry index entry of token id; at is idTime of its
// ExpiresAt, so the entries sort by expiry.
func (k keys) tokenExpiry(at, id string) string { return k.tokenExpiries() + at + "~" + id }
func (k keys) audits() string                   { return k.p + "/audit/" }
func (k keys) audit(id string) string           { return k.audits() + id }
