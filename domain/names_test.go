package domain_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

// skipBug skips a test that shows a known bug in the domain code, unless
// PINK_BUG_TESTS=1 (run them that way to check a fix).
func skipBug(t *testing.T, explanation string) {
	t.Helper()
	if os.Getenv("PINK_BUG_TESTS") != "1" {
		t.Skip("BUG: " + explanation)
	}
}

// requireInvalid checks that err is a validation error (errors.Is
// domain.ErrInvalid) naming field.
func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, domain.ErrInvalid, "error %q does not match ErrInvalid", err)
	require.Equal(t, field, domain.FieldOf(err), "error %q names the wrong field", err)
	require.Contains(t, err.Error(), field, "the message should name the field")
}

func TestValidateName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
	}{
		{"single letter", "a", true},
		{"single digit", "7", true},
		{"typical", "nightly-report", true},
		{"all allowed punctuation", "a0-b_c.d", true},
		{"leading digit", "0abc", true},
		{"max length", strings.Repeat("a", domain.MaxNameLen), true},
		{"trailing punctuation", "a-_.", true},

		{"empty", "", false},
		{"too long", strings.Repeat("a", domain.MaxNameLen+1), false},
		{"upper case", "Nightly", false},
		{"upper case inside", "nightLy", false},
		{"slash", "a/b", false},
		{"tilde", "a~b", false},
		{"leading dash", "-a", false},
		{"leading underscore", "_a", false},
		{"leading dot", ".a", false},
		{"space", "a b", false},
		{"colon", "a:b", false},
		{"non-ASCII", "café", false},
		{"NUL", "a\x00", false},
		{"newline", "a\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := domain.ValidateName("id", tt.in)
			if tt.ok {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, "id")
			var ve *domain.ValidationError
			require.True(t, errors.As(err, &ve), "want a *ValidationError, got %T", err)
			assert.NotEmpty(t, ve.Reason)
		})
	}
}

// TestValidateNameUsesGivenField: the field name is the caller's, so the
// same rule reports "group", "id", "worker_id" as appropriate.
func TestValidateNameUsesGivenField(t *testing.T) {
	for _, field := range []string{"group", "id", "worker_id"} {
		requireInvalid(t, domain.ValidateName(field, "BAD"), field)
	}
}

func TestValidateLabels(t *testing.T) {
	many := func(n int) map[string]string {
		m := make(map[string]string, n)
		for i := range n {
			m[fmt.Sprintf("k%d", i)] = "v"
		}
		return m
	}
	tests := []struct {
		name   string
		labels map[string]string
		field  string // "" means valid
	}{
		{"nil", nil, ""},
		{"empty", map[string]string{}, ""},
		{"typical", map[string]string{"team/owner": "Data Platform", "Zone": "eu-1", "tier": ""}, ""},
		{"all key characters", map[string]string{"aZ09-_./": "x"}, ""},
		{"max labels", many(domain.MaxLabels), ""},
		{"max key length", map[string]string{strings.Repeat("k", domain.MaxLabelKeyLen): "v"}, ""},
		{"max value length", map[string]string{"k": strings.Repeat("v", domain.MaxLabelValueLen)}, ""},
		{"value with tab and newline", map[string]string{"k": "a\tb\nc"}, ""},
		{"value with unicode", map[string]string{"k": "Zürich €"}, ""},

		{"too many labels", many(domain.MaxLabels + 1), "labels"},
		{"empty key", map[string]string{"": "v"}, "labels"},
		{"key too long", map[string]string{strings.Repeat("k", domain.MaxLabelKeyLen+1): "v"}, "labels"},
		{"key with space", map[string]string{"a b": "v"}, "labels"},
		{"key with tilde", map[string]string{"a~b": "v"}, "labels"},
		{"key with colon", map[string]string{"a:b": "v"}, "labels"},
		{"key non-ASCII", map[string]string{"zürich": "v"}, "labels"},
		{"value too long", map[string]string{"k": strings.Repeat("v", domain.MaxLabelValueLen+1)}, "labels.k"},
		{"value with NUL", map[string]string{"k": "a\x00b"}, "labels.k"},
		{"value with escape", map[string]string{"k": "\x1b[31m"}, "labels.k"},
		{"value with DEL", map[string]string{"k": "a\x7f"}, "labels.k"},
		{"value invalid UTF-8", map[string]string{"k": "a\xffb"}, "labels.k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := domain.ValidateLabels("labels", tt.labels)
			if tt.field == "" {
				require.NoError(t, err)
				return
			}
			requireInvalid(t, err, tt.field)
		})
	}
}

func TestFieldOf(t *testing.T) {
	assert.Equal(t, "", domain.FieldOf(nil))
	assert.Equal(t, "", domain.FieldOf(errors.New("plain")))
	assert.Equal(t, "", domain.FieldOf(domain.ErrNotFound))

	ve := &domain.ValidationError{Field: "retry.max_attempts", Reason: "too many"}
	assert.Equal(t, "retry.max_attempts", domain.FieldOf(ve))
	wrapped := fmt.Errorf("create job %q: %w", "x", ve)
	assert.Equal(t, "retry.max_attempts", domain.FieldOf(wrapped))
	assert.ErrorIs(t, wrapped, domain.ErrInvalid)
	assert.NotErrorIs(t, wrapped, domain.ErrNotFound)
	assert.Equal(t, "pink: invalid retry.max_attempts: too many", ve.Error())

	_, err := domain.ParseSchedule("61 * * * *", "")
	require.Error(t, err)
	assert.Equal(t, "schedule", domain.FieldOf(fmt.Errorf("wrap: %w", err)))
	assert.ErrorIs(t, err, domain.ErrInvalid)
}

// TestRecordValidate covers the small Validate methods of groups, workers
// and nodes, which are mostly ValidateName and text checks.
func TestRecordValidate(t *testing.T) {
	t.Run("group", func(t *testing.T) {
		require.NoError(t, (&domain.Group{Name: "reports", Description: "Nightly\treports\n"}).Validate())
		requireInvalid(t, (&domain.Group{Name: "Reports"}).Validate(), "name")
		requireInvalid(t, (&domain.Group{Name: ""}).Validate(), "name")
		requireInvalid(t, (&domain.Group{Name: "r", Description: strings.Repeat("d", domain.MaxDescriptionLen+1)}).Validate(), "description")
		requireInvalid(t, (&domain.Group{Name: "r", Description: "bell\a"}).Validate(), "description")
	})
	t.Run("worker", func(t *testing.T) {
		valid := func() domain.Worker {
			return domain.Worker{ID: "w-1", Group: "reports", Hostname: "host-1", Address: "10.0.0.1:7000",
				Labels: map[string]string{"zone": "a"}, Handlers: []string{"report.nightly"}, Capacity: domain.DefaultCapacity}
		}
		w := valid()
		require.NoError(t, w.Validate())
		tests := []struct {
			field  string
			mutate func(*domain.Worker)
		}{
			{"id", func(w *domain.Worker) { w.ID = "W1" }},
			{"group", func(w *domain.Worker) { w.Group = "" }},
			{"hostname", func(w *domain.Worker) { w.Hostname = strings.Repeat("h", domain.MaxAddressLen+1) }},
			{"address", func(w *domain.Worker) { w.Address = "a\x00" }},
			{"labels", func(w *domain.Worker) { w.Labels = map[string]string{"a b": ""} }},
			{"handlers", func(w *domain.Worker) { w.Handlers = make([]string, domain.MaxHandlers+1) }},
			{"handlers", func(w *domain.Worker) { w.Handlers = []string{"ok", ""} }},
			{"capacity", func(w *domain.Worker) { w.Capacity = 0 }},
			{"capacity", func(w *domain.Worker) { w.Capacity = domain.MaxCapacity + 1 }},
		}
		for _, tt := range tests {
			w := valid()
			tt.mutate(&w)
			requireInvalid(t, w.Validate(), tt.field)
		}
	})
	t.Run("node", func(t *testing.T) {
		require.NoError(t, (&domain.Node{ID: "node-1", Address: "http://10.0.0.1:8080", Hostname: "h"}).Validate())
		requireInvalid(t, (&domain.Node{ID: "node/1"}).Validate(), "id")
		requireInvalid(t, (&domain.Node{ID: "n", Address: "a\r"}).Validate(), "address")
		requireInvalid(t, (&domain.Node{ID: "n", Hostname: strings.Repeat("h", domain.MaxAddressLen+1)}).Validate(), "hostname")
	})
}
