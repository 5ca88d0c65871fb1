package etcd

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/pink-scheduler/pink/domain"
)

// Every value Pink writes is a JSON envelope with a schema version and one
// payload field named after the record kind, for example
//
//	{"version":1,"job":{"id":"nightly","group":"etl",...,"version":7}}
//
// The envelope's "version" is the schema version of the value (codecVersion).
// The payload's own "version" is the record's Version: a counter the store
// sets to 1 on create and increments on every change (it travels with a run
// when the run moves between keys). A reader rejects a value with a newer
// schema version than it knows instead of misreading it, and ignores unknown
// fields, so a newer Pink may add fields without a version bump.
const codecVersion = 1

// maxValueSize bounds one encoded value. etcd refuses requests above
// --max-request-bytes (1.5 MiB by default); values are checked before they
// are sent so that the caller gets domain.ErrInvalid, not a gRPC error.
const maxValueSize = 1 << 20

// envelope is the versioned JSON wrapper of every value. Exactly one
// payload field is set.
type envelope struct {
	Version int           `json:"version"`
	Group   *domain.Group `json:"group,omitempty"`
	Job     *domain.Job   `json:"job,omitempty"`
	Fire    *domain.Fire  `json:"fire,omitempty"`
	Run     *domain.Run   `json:"run,omitempty"`
	// JobRef is the value of a job index key: the job's group.
	JobRef *jobRef `json:"job_ref,omitempty"`
	// RunRef is the value of a run index key: where the run lives now.
	RunRef *runRef `json:"run_ref,omitempty"`
	// FireRef is the value of a fire index key: the fire's status and kind.
	FireRef *fireRef `json:"fire_ref,omitempty"`
	// Prune is the value of the prune cursor key.
	Prune *pruneState `json:"prune,omitempty"`
	// User is a user: <p>/auth/users/<name>.
	User *domain.User `json:"user,omitempty"`
	// AdminGuard is the value of <p>/auth/admin-guard (see auth.go).
	AdminGuard *adminGuard `json:"admin_guard,omitempty"`
	// Token is a token: <p>/auth/tokens/<id>.
	Token *domain.Token `json:"token,omitempty"`
	// TokenRef is the value of a token's index entries (by hash, owner and
	// expiry): enough to find all of the token's keys.
	TokenRef *tokenRef `json:"token_ref,omitempty"`
	// Audit is an audit log entry: <p>/audit/<entry-id>.
	Audit *domain.AuditEntry `json:"audit,omitempty"`
}

// jobRef points a job ID at its group: <p>/job/index/<job-id>.
type jobRef struct {
	Group string `json:"group"`
}

// runRef summarises a run for its index key <p>/run/index/<run-id>: enough
// to compute the key the run lives under (see runKey) and to filter
// listings without reading the run itself.
type runRef struct {
	JobID    string          `json:"job_id"`
	Group    string          `json:"group"`
	State    domain.RunState `json:"state"`
	WorkerID string          `json:"worker_id,omitempty"`
}

// fireRef summarises a fire for its index key <p>/fire/index/<fire-id>.
// Fire records never change, so neither does their index entry.
type fireRef struct {
	JobID  string            `json:"job_id"`
	Status domain.FireStatus `json:"status"`
	Kind   domain.FireKind   `json:"kind"`
}

// encode marshals e with the current schema version and enforces the size
// bound.
func encode(what string, e envelope) (string, error) {
	e.Version = codecVersion
	b, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode %s: %w: %w", what, domain.ErrInvalid, err)
	}
	if len(b) > maxValueSize {
		return "", fmt.Errorf("encode %s: %w", what, &domain.ValidationError{Field: "value",
			Reason: fmt.Sprintf("encoded record is %d bytes, more than the limit of %d", len(b), maxValueSize)})
	}
	return string(b), nil
}

// decode unmarshals a value written by encode and checks its version.
func decode(key string, b []byte) (envelope, error) {
	var e envelope
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("decode %s: %w", key, err)
	}
	if e.Version < 1 || e.Version > codecVersion {
		return e, fmt.Errorf("decode %s: value schema version %d not supported (this Pink reads 1..%d)",
			key, e.Version, codecVersion)
	}
	return e, nil
}

func encodeGroup(g *domain.Group) (string, error) { return encode("group", envelope{Group: g}) }
func encodeJob(j *domain.Job) (string, error)     { return encode("job", envelope{Job: j}) }
func encodeFire(f *domain.Fire) (string, error)   { return encode("fire", envelope{Fire: f}) }
func encodeRun(r *domain.Run) (string, error)     { return encode("run", envelope{Run: r}) }

func decodeGroup(key string, b []byte) (domain.Group, error) {
	e, err := decode(key, b)
	if err == nil && e.Group == nil {
		err = fmt.Errorf("decode %s: no group in value", key)
	}
	if err != nil {
		return domain.Group{}, err
	}
	return *e.Group, nil
}

func decodeJob(key string, b []byte) (domain.Job, error) {
	e, err := decode(key, b)
	if err == nil && e.Job == nil {
		err = fmt.Errorf("decode %s: no job in value", key)
	}
	if err != nil {
		return domain.Job{}, err
	}
	return *e.Job, nil
}

func decodeFire(key string, b []byte) (domain.Fire, error) {
	e, err := decode(key, b)
	if err == nil && e.Fire == nil {
		err = fmt.Errorf("decode %s: no fire in value", key)
	}
	if err != nil {
		return domain.Fire{}, err
	}
	return *e.Fire, nil
}

func decodeRun(key string, b []byte) (domain.Run, error) {
	e, err := decode(key, b)
	if err == nil && e.Run == nil {
		err = fmt.Errorf("decode %s: no run in value", key)
	}
	if err != nil {
		return domain.Run{}, err
	}
	return *e.Run, nil
}

func decodeRunRef(key string, b []byte) (runRef, error) {
	e, err := decode(key, b)
	if err == nil && e.RunRef == nil {
		err = fmt.Errorf("decode %s: no run_ref in value", key)
	}
	if err != nil {
		return runRef{}, err
	}
	return *e.RunRef, nil
}

// Cursors are opaque to callers: base64url of "<kind>:<position>". The kind
// makes a cursor of one listing invalid for another.
func encodeCursor(kind, pos string) string {
	if pos == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(kind + ":" + pos))
}

// decodeCursor returns the position of a cursor made by encodeCursor for
// kind, "" for an empty cursor, and domain.ErrInvalid for anything else.
func decodeCursor(kind, c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	pos, ok := strings.CutPrefix(string(b), kind+":")
	if err != nil || !ok || pos == "" {
		return "", &domain.ValidationError{Field: "cursor", Reason: "not a cursor of this listing"}
	}
	return pos, nil
}
