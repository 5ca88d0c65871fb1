package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/domain"
)

func TestErrorTable(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		code   string
		field  string
	}{
		{&domain.ValidationError{Field: "retry.max_attempts", Reason: "too many"}, http.StatusBadRequest, "invalid", "retry.max_attempts"},
		{&domain.ScheduleError{Field: "schedule", Expr: "61 * * * *", Reason: "minute 61"}, http.StatusBadRequest, "invalid", "schedule"},
		{fmt.Errorf("create job: %w: %w", &domain.ValidationError{Field: "group", Reason: "no such group"}, domain.ErrNotFound), http.StatusBadRequest, "invalid", "group"},
		{fmt.Errorf("x: %w", domain.ErrUnauthenticated), http.StatusUnauthorized, "unauthenticated", ""},
		{fmt.Errorf("x: %w", domain.ErrForbidden), http.StatusForbidden, "forbidden", ""},
		{fmt.Errorf("get job: %w", domain.ErrNotFound), http.StatusNotFound, "not_found", ""},
		{domain.ErrAlreadyExists, http.StatusConflict, "already_exists", ""},
		{domain.ErrConflict, http.StatusConflict, "conflict", ""},
		{domain.ErrStaleAttempt, http.StatusConflict, "stale", ""},
		{fmt.Errorf("run: %w", domain.ErrIllegalTransition), http.StatusConflict, "illegal_transition", ""},
		{fmt.Errorf("etcd: %w", domain.ErrUnavailable), http.StatusServiceUnavailable, "unavailable", ""},
		{context.DeadlineExceeded, http.StatusServiceUnavailable, "unavailable", ""},
		{errTooLarge, http.StatusRequestEntityTooLarge, "too_large", ""},
		{errors.New("disk on fire: secret=hunter2"), http.StatusInternalServerError, "internal", ""},
	} {
		got := classify(tc.err)
		require.Equal(t, tc.status, got.status, "%v", tc.err)
		require.Equal(t, tc.code, got.code, "%v", tc.err)
		require.Equal(t, tc.field, got.field, "%v", tc.err)
		require.NotContains(t, got.message, "pink: ")
		require.NotContains(t, got.message, "hunter2", "an unexpected error is not shown")
	}
	require.Equal(t, "retry.max_attempts: too many", message(&domain.ValidationError{Field: "retry.max_attempts", Reason: "too many"}))
}
