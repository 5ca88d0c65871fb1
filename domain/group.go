package domain

import "time"

// MaxDescriptionLen bounds free-text descriptions.
const MaxDescriptionLen = 1024

// Group is a job group: a named pool of workers and the jobs that run on it.
type Group struct {
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	// Version is set by the store and increases on every change.
	Version int64 `json:"version"`
}

// Validate checks the group's user-supplied fields.
func (g *Group) Validate() error {
	if err := ValidateName("name", g.Name); err != nil {
		return err
	}
	return validateText("description", g.Description, MaxDescriptionLen, false)
}
