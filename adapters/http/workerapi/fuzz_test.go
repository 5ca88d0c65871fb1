package workerapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FuzzRequests sends arbitrary bodies to every route that reads one, and
// arbitrary waits to the poll: the API must answer with a status it
// documents and a body in the error shape — never a 500 or a panic, and
// never a 401 or 403 to a valid token of the right group.
func FuzzRequests(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"attempt":1}`, `{"attempt":1,"chunk":"x"}`, `{"attempt":1,"state":"failed"}`,
		`{"attempt":1e99}`, `{"attempt":-1,"state":"failed","error":"\u0000"}`, `{"attempt":1} x`,
		`[`, `null`, `"x"`, `{"attempt":{"a":1}}`, `{"chunk":"\ud800"}`, `{"ttl_seconds":9e18}`,
		`{"labels":{"":""},"handlers":[""],"capacity":1e3}`, `{"id":"fuzz-2","ttl_seconds":60}`,
	} {
		f.Add(seed, "20s")
	}
	for _, w := range []string{"", "0", "1e-400", "-0", "30.000000001", "NaN", "1h", "9223372036854775807ns"} {
		f.Add(`{}`, w)
	}
	e := newEnv(f)
	rec := e.do(http.MethodPost, "/register", e.token, `{"id":"fuzz-worker","ttl_seconds":60}`)
	require.Equal(f, http.StatusCreated, rec.Code, rec.Body.String())
	runPath := "/workers/fuzz-worker/runs/" + e.assign("fuzz-worker", "h", `{}`, nil...).ID
	f.Fuzz(func(t *testing.T, body, wait string) {
		for _, path := range []string{"/register", "/workers/fuzz-worker/heartbeat",
			runPath + "/start", runPath + "/output", runPath + "/result"} {
			checkAnswer(t, path, e.serve(context.Background(), http.MethodPost, path, e.token, body))
		}
		// A valid wait would hold the poll: the request gives up after a
		// moment, and then nobody reads the answer.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		defer cancel()
		rec := e.serve(ctx, http.MethodGet, "/workers/fuzz-worker/runs?wait="+url.QueryEscape(wait), e.token, "")
		if ctx.Err() == nil || rec.Body.Len() > 0 {
			checkAnswer(t, "poll", rec)
		}
	})
}

// checkAnswer checks that an answer is one the protocol documents.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	t.Helper()
	switch rec.Code {
	case http.StatusOK, http.StatusCreated, http.StatusNoContent, http.StatusBadRequest, http.StatusNotFound,
		http.StatusConflict, http.StatusRequestEntityTooLarge:
	default:
		t.Fatalf("%s: status %d: %s", what, rec.Code, rec.Body.String())
	}
	if rec.Code == http.StatusNoContent {
		require.Zero(t, rec.Body.Len(), what)
		return
	}
	var v map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v), "%s: %s", what, rec.Body.String())
	if rec.Code >= 400 {
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &eb), what)
		require.NotEmpty(t, eb.Error.Code, "%s: %s", what, rec.Body.String())
		require.False(t, strings.Contains(eb.Error.Code, " "), what)
	}
}
