package api_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/stretchr/testify/require"
)

// TestMountedUnderAPIV1 mounts the handler as the server does and checks
// routing, path parameters and the relative Location headers.
func TestMountedUnderAPIV1(t *testing.T) {
	e := newEnv(t)
	outer := chi.NewRouter()
	outer.Use(middleware.Recoverer, middleware.GetHead)
	outer.Mount("/api/v1", e.h)
	do := func(method, path, body string) *httptest.ResponseRecorder {
		var hr *http.Request
		if body == "" {
			hr = httptest.NewRequest(method, path, nil)
		} else {
			hr = httptest.NewRequest(method, path, strings.NewReader(body))
			hr.Header.Set("Content-Type", "application/json")
		}
		hr.Header.Set("Authorization", "Bearer "+e.tokens[admin])
		rec := httptest.NewRecorder()
		outer.ServeHTTP(rec, hr)
		return rec
	}
	rec := do(http.MethodPost, "/api/v1/groups", `{"name":"etl"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	loc, err := hr("/api/v1/groups").URL.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	require.Equal(t, "/api/v1/groups/etl", loc.Path)
	rec = do(http.MethodGet, loc.Path, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.Contains(t, rec.Body.String(), `"name":"etl"`)
	require.Equal(t, http.StatusOK, do(http.MethodHead, "/api/v1/groups/etl", "").Code)
	require.Equal(t, http.StatusOK, do(http.MethodGet, "/api/v1/openapi.json", "").Code)
	require.Equal(t, http.StatusNotFound, do(http.MethodGet, "/api/v1/nope", "").Code)

	rec = do(http.MethodPost, "/api/v1/jobs", `{"group":"etl","name":"n","schedule":"@hourly","handler":"h"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	rec = do(http.MethodPost, "/api/v1/jobs/job001/trigger", "")
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	loc, err = hr("/api/v1/jobs/job001/trigger").URL.Parse(rec.Header().Get("Location"))
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(loc.Path, "/api/v1/fires/"), loc.Path)
	require.Equal(t, http.StatusOK, do(http.MethodGet, loc.Path, "").Code)
}

func hr(path string) *http.Request { return httptest.NewRequest(http.MethodGet, path, nil) }
