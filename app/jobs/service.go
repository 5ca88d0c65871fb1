package jobs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pink-scheduler/pink/domain"
	"github.com/pink-scheduler/pink/ports"
)

// Config wires a Service. Groups, Jobs and Clock are required; Fires and
// Workers are needed by Trigger.
type Config struct {
	Groups  ports.GroupStore
	Jobs    ports.JobStore
	Fires   ports.FireStore
	Workers ports.WorkerRegistry
	Clock   ports.Clock
	// MaxParams bounds a job's params in bytes; default
	// domain.DefaultMaxParams.
	MaxParams int
	// NewID returns a new job ID; default 16 random base32 characters.
	NewID func() string
}

// Service manages groups and jobs.
type Service struct {
	cfg Config
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Groups == nil || cfg.Jobs == nil || cfg.Clock == nil {
		return nil, errors.New("jobs: Groups, Jobs and Clock are required")
	}
	if cfg.MaxParams <= 0 {
		cfg.MaxParams = domain.DefaultMaxParams
	}
	if cfg.NewID == nil {
		cfg.NewID = RandomID
	}
	return &Service{cfg: cfg}, nil
}

// RandomID returns 16 random characters of [a-z2-7] (80 bits).
func RandomID() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather)
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	return string(b[:])
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now().UTC() }

// CreateGroup validates and stores a new group. Returns a
// *domain.ValidationError or domain.ErrAlreadyExists.
func (s *Service) CreateGroup(ctx context.Context, g domain.Group) (domain.Group, error) {
	if err := g.Validate(); err != nil {
		return domain.Group{}, err
	}
	now := s.now()
	g.CreatedAt, g.UpdatedAt, g.Version = now, now, 0
	return s.cfg.Groups.CreateGroup(ctx, g)
}

// UpdateGroup changes a group's description.
func (s *Service) UpdateGroup(ctx context.Context, name, description string) (domain.Group, error) {
	probe := domain.Group{Name: name, Description: description}
	if err := probe.Validate(); err != nil {
		return domain.Group{}, err
	}
	now := s.now()
	return s.cfg.Groups.UpdateGroup(ctx, name, func(g *domain.Group) error {
		g.Description, g.UpdatedAt = description, now
		return nil
	})
}

// DeleteGroup removes an empty group (domain.ErrConflict if it has jobs).
func (s *Service) DeleteGroup(ctx context.Context, name string) error {
	return s.cfg.Groups.DeleteGroup(ctx, name)
}

// CreateJob fills defaults, validates and stores a new job. An empty ID is
// generated. The job plans from now: it never fires for a time before it
// was created. Returns a *domain.ValidationError (or *domain.ScheduleError)
// naming the bad field, domain.ErrAlreadyExists, or a "group" validation
// error if the group does not exist.
func (s *Service) CreateJob(ctx context.Context, j domain.Job) (domain.Job, error) {
	if j.ID == "" {
		j.ID = s.cfg.NewID()
	}
	j.Normalize()
	if err := j.Validate(s.cfg.MaxParams); err != nil {
		return domain.Job{}, err
	}
	now := s.now()
	j.CreatedAt, j.UpdatedAt, j.PlanFrom, j.Version = now, now, now, 0
	return s.cfg.Jobs.CreateJob(ctx, j)
}

// ReplaceJob replaces a job's definition (PUT). The ID, group and creation
// time are kept; the group cannot change (delete and create instead). A
// change of schedule, time zone or state makes the job plan from now.
func (s *Service) ReplaceJob(ctx context.Context, id string, j domain.Job) (domain.Job, error) {
	if j.ID != "" && j.ID != id {
		return domain.Job{}, &domain.ValidationError{Field: "id", Reason: fmt.Sprintf("cannot change from %q to %q", id, j.ID)}
	}
	j.ID = id
	j.Normalize()
	if err := j.Validate(s.cfg.MaxParams); err != nil {
		return domain.Job{}, err
	}
	now := s.now()
	return s.cfg.Jobs.UpdateJob(ctx, id, func(cur *domain.Job) error {
		if j.Group != cur.Group {
			return &domain.ValidationError{Field: "group", Reason: fmt.Sprintf("cannot move a job from group %q to %q", cur.Group, j.Group)}
		}
		next := j.Clone()
		next.CreatedAt, next.UpdatedAt, next.Version = cur.CreatedAt, now, cur.Version
		next.PlanFrom = cur.PlanFrom
		if cur.ScheduleKey() != next.ScheduleKey() || cur.State != next.State {
			next.PlanFrom = now
		}
		*cur = next
		return nil
	})
}

// UpdateJob changes a job through fn (a partial edit), then validates the
// result like ReplaceJob.
func (s *Service) UpdateJob(ctx context.Context, id string, fn func(*domain.Job) error) (domain.Job, error) {
	now := s.now()
	return s.cfg.Jobs.UpdateJob(ctx, id, func(cur *domain.Job) error {
		next := cur.Clone()
		if err := fn(&next); err != nil {
			return err
		}
		next.Normalize()
		if err := next.Validate(s.cfg.MaxParams); err != nil {
			return err
		}
		if next.ID != cur.ID || next.Group != cur.Group {
			return &domain.ValidationError{Field: "group", Reason: "the ID and group of a job cannot change"}
		}
		if cur.ScheduleKey() != next.ScheduleKey() || cur.State != next.State {
			next.PlanFrom = now
		}
		next.UpdatedAt = now
		*cur = next
		return nil
	})
}

// PauseJob stops a job from firing. Pausing a paused job is a no-op.
func (s *Service) PauseJob(ctx context.Context, id string) (domain.Job, error) {
	return s.setState(ctx, id, domain.JobPaused)
}

// ResumeJob makes a paused job fire again, from now on: the fires it would
// have had while paused are not caught up.
func (s *Service) ResumeJob(ctx context.Context, id string) (domain.Job, error) {
	return s.setState(ctx, id, domain.JobActive)
}

// errUnchanged stops an update that would change nothing.
var errUnchanged = errors.New("unchanged")

func (s *Service) setState(ctx context.Context, id string, st domain.JobState) (domain.Job, error) {
	now := s.now()
	j, err := s.cfg.Jobs.UpdateJob(ctx, id, func(j *domain.Job) error {
		if j.State == st {
			return errUnchanged
		}
		j.State, j.UpdatedAt, j.PlanFrom = st, now, now
		return nil
	})
	if errors.Is(err, errUnchanged) {
		return s.cfg.Jobs.GetJob(ctx, id)
	}
	return j, err
}

// DeleteJob removes a job; the leader deletes its pending runs.
func (s *Service) DeleteJob(ctx context.Context, id string) (domain.Job, error) {
	return s.cfg.Jobs.DeleteJob(ctx, id)
}

// GetJob returns a job.
func (s *Service) GetJob(ctx context.Context, id string) (domain.Job, error) {
	return s.cfg.Jobs.GetJob(ctx, id)
}

// MaxPlanCount bounds Plan and Preview.
const MaxPlanCount = 1000

// Plan returns the next count fire times of a job after now (after a
// paused job's resumption, they would be the same).
func (s *Service) Plan(ctx context.Context, id string, count int) ([]time.Time, error) {
	j, err := s.cfg.Jobs.GetJob(ctx, id)
	if err != nil {
		return nil, err
	}
	after := s.now()
	if j.PlanFrom.After(after) {
		after = j.PlanFrom
	}
	return Preview(j.Schedule, j.Timezone, after, count)
}

// Preview validates a schedule and returns its next count fire times after
// after, in the schedule's time zone.
func Preview(expr, timezone string, after time.Time, count int) ([]time.Time, error) {
	if count < 1 || count > MaxPlanCount {
		return nil, &domain.ValidationError{Field: "count", Reason: fmt.Sprintf("must be between 1 and %d, got %d", MaxPlanCount, count)}
	}
	s, err := domain.ParseSchedule(expr, timezone)
	if err != nil {
		return nil, err
	}
	out := s.NextN(after, count)
	for i := range out {
		out[i] = out[i].In(s.Location())
	}
	return out, nil
}

// validParams checks a trigger's params override.
func (s *Service) validParams(b json.RawMessage) error {
	if len(b) > s.cfg.MaxParams {
		return &domain.ValidationError{Field: "params", Reason: fmt.Sprintf("must be at most %d bytes, got %d", s.cfg.MaxParams, len(b))}
	}
	if len(b) > 0 && !json.Valid(b) {
		return &domain.ValidationError{Field: "params", Reason: "must be valid JSON"}
	}
	return nil
}
