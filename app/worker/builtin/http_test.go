package builtin_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pink-scheduler/pink/app/worker/builtin"
	"github.com/pink-scheduler/pink/domain"
)

type httpParams struct {
	URL          string            `json:"url"`
	Method       string            `json:"method,omitempty"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         string            `json:"body,omitempty"`
	Timeout      string            `json:"timeout,omitempty"`
	ExpectStatus []int             `json:"expect_status,omitempty"`
}

// server is an httptest server on loopback that counts its requests.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// hostPort is the server's "127.0.0.1:port".
func (s *server) hostPort() string { return strings.TrimPrefix(s.URL, "http://") }

// httpHandler returns the HTTP handler with a transport the test closes.
func httpHandler(t *testing.T, opts builtin.HTTPOptions) func(any) (string, error) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	opts.Transport = tr
	h := builtin.HTTP(opts)
	return func(p any) (string, error) { return call(t, h, p) }
}

func TestHTTPSucceedsOn2xx(t *testing.T) {
	type seen struct {
		method, body, ctype, runID, attempt, ua string
	}
	got := make(chan seen, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, string(b), r.Header.Get("Content-Type"), r.Header.Get("X-Pink-Run-ID"),
			r.Header.Get("X-Pink-Attempt"), r.Header.Get("User-Agent")}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"ok":true}`)
	})
	call := httpHandler(t, builtin.HTTPOptions{AllowHosts: []string{"127.0.0.1"}})
	out, err := call(httpParams{URL: srv.URL + "/hook?x=1#frag", Headers: map[string]string{"content-type": "application/json"}, Body: `{"a":1}`})
	require.NoError(t, err)
	assert.Equal(t, "POST "+srv.URL+"/hook?x=1\nHTTP/1.1 201 Created\n{\"ok\":true}", out)
	assert.Equal(t, seen{"POST", `{"a":1}`, "application/json", "job1-20260101T000000Z-0", "2", "pink-worker"}, <-got,
		"a body makes the default method POST; the run's ID and attempt are sent")

	out, err = call(httpParams{URL: srv.URL, Method: "DELETE"})
	require.NoError(t, err)
	assert.Contains(t, out, "DELETE "+srv.URL+"\nHTTP/1.1 201 Created")
	assert.Equal(t, "DELETE", (<-got).method)
}

func TestHTTPFailsOnOtherStatuses(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/500":
			http.Error(w, "database on fire", http.StatusInternalServerError)
		case "/404":
			http.NotFound(w, r)
		default:
			w.WriteHeader(http.StatusOK)
		}
	})
	call := httpHandler(t, builtin.HTTPOptions{AllowHosts: []string{srv.hostPort()}})

	out, err := call(httpParams{URL: srv.URL + "/500"})
	require.EqualError(t, err, "GET "+srv.URL+"/500: status 500 Internal Server Error, want 2xx; response body begins with:\ndatabase on fire\n")
	assert.Contains(t, out, "HTTP/1.1 500 Internal Server Error\ndatabase on fire\n")

	_, err = call(httpParams{URL: srv.URL + "/404", ExpectStatus: []int{404, 410}})
	require.NoError(t, err, "expect_status replaces 2xx")
	_, err = call(httpParams{URL: srv.URL + "/200", ExpectStatus: []int{204}})
	require.ErrorContains(t, err, "status 200 OK, want 204")
}

func TestHTTPRefusesHostsNotAllowed(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {})
	_, port, _ := net.SplitHostPort(srv.hostPort())
	for _, allow := range [][]string{{"example.com"}, {"127.0.0.1:1"}, {"*.example.com"}, {"localhost:" + port}} {
		call := httpHandler(t, builtin.HTTPOptions{AllowHosts: allow})
		_, err := call(httpParams{URL: srv.URL})
		require.ErrorIs(t, err, builtin.ErrNotAllowed, "allow %q", allow)
		assert.EqualError(t, err, "host "+srv.hostPort()+" is not allowed on this worker: allowed are "+allow[0])
	}
	call := httpHandler(t, builtin.HTTPOptions{AllowHosts: []string{"127.0.0.1"}})
	for _, u := range []string{"ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1"} {
		_, err := call(httpParams{URL: u})
		require.ErrorIs(t, err, builtin.ErrNotAllowed, u)
		assert.ErrorContains(t, err, "only http and https")
	}
	assert.Zero(t, srv.hits.Load(), "no request was sent")
}

func TestHTTPRefusesRedirectToHostNotAllowed(t *testing.T) {
	other := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "secret") })
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/away-by-name": // same port, another host name
			http.Redirect(w, r, "http://localhost:"+r.URL.Port()+"/", http.StatusFound)
		case "/file":
			http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
		case "/here":
			http.Redirect(w, r, "/final", http.StatusMovedPermanently)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		default:
			io.WriteString(w, "final")
		}
	})
	call := httpHandler(t, builtin.HTTPOptions{AllowHosts: []string{srv.hostPort()}})

	out, err := call(httpParams{URL: srv.URL + "/here"})
	require.NoError(t, err, "a redirect within the allowed host is followed")
	assert.True(t, strings.HasSuffix(out, "200 OK\nfinal"), out)

	_, err = call(httpParams{URL: srv.URL + "/away"})
	require.ErrorIs(t, err, builtin.ErrNotAllowed)
	assert.ErrorContains(t, err, "redirect to "+other.URL+"/x refused: host "+other.hostPort()+" is not allowed on this worker")
	_, err = call(httpParams{URL: srv.URL + "/file"})
	require.ErrorIs(t, err, builtin.ErrNotAllowed)
	_, err = call(httpParams{URL: srv.URL + "/loop"})
	require.ErrorContains(t, err, "stopped after 10 redirects")
	assert.Zero(t, other.hits.Load(), "the disallowed host got no request")
}

func TestHTTPBodiesAreBounded(t *testing.T) {
	var sent atomic.Int64
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		chunk := strings.Repeat("x", 1024)
		for range 1024 { // 1 MiB, unless the client hangs up
			n, err := io.WriteString(w, chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	})
	call := httpHandler(t, builtin.HTTPOptions{AllowHosts: []string{"127.0.0.1"}, MaxResponseBody: 100, MaxRequestBody: 10})
	out, err := call(httpParams{URL: srv.URL})
	require.NoError(t, err)
	assert.Equal(t, "GET "+srv.URL+"\nHTTP/1.1 200 OK\n"+strings.Repeat("x", 100)+"\n[response body cut after 100 bytes]\n", out)

	_, err = call(httpParams{URL: srv.URL, Body: "12345678901"})
	require.ErrorIs(t, err, domain.ErrInvalid)
	assert.EqualError(t, err, "pink: invalid params.body: at most 10 bytes, got 11")
}

func TestHTTPTimeout(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	call := httpHandler(t, builtin.HTTPOptions{AllowHosts: []string{"127.0.0.1"}})
	start := time.Now()
	_, err := call(httpParams{URL: srv.URL, Timeout: "200ms"})
	require.EqualError(t, err, "GET "+srv.URL+": the request's timeout of 200ms passed")
	assert.Less(t, time.Since(start), 10*time.Second)

	// The run's context ends the request too.
	h := builtin.HTTP(builtin.HTTPOptions{AllowHosts: []string{"127.0.0.1"}, Transport: &http.Transport{DisableKeepAlives: true}})
	run, _ := newRun(t, httpParams{URL: srv.URL})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err = h(ctx, run)
	require.ErrorContains(t, err, "context deadline exceeded")
}

func TestHTTPRejectsBadParams(t *testing.T) {
	call := httpHandler(t, builtin.HTTPOptions{AllowHosts: []string{"127.0.0.1"}})
	cases := []struct{ name, params, want string }{
		{"empty", ``, `pink: invalid params: required: a JSON object such as {"url":`},
		{"unknown field", `{"url":"http://127.0.0.1","data":"x"}`, `pink: invalid params: unknown field "data"`},
		{"no url", `{"method":"GET"}`, `pink: invalid params.url: required`},
		{"relative url", `{"url":"/path"}`, `pink: invalid params.url: must be an absolute http or https URL`},
		{"bad url", `{"url":"http://[::1"}`, `pink: invalid params.url: missing ']' in host`},
		{"long url", `{"url":"http://127.0.0.1/` + strings.Repeat("a", builtin.MaxURLLen) + `"}`, `invalid params.url: at most 8192 bytes`},
		{"method", `{"url":"http://127.0.0.1","method":"CONNECT"}`, `pink: invalid params.method: must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "CONNECT"`},
		{"lower-case method", `{"url":"http://127.0.0.1","method":"get"}`, `invalid params.method`},
		{"header name", `{"url":"http://127.0.0.1","headers":{"Bad Name":"x"}}`, `pink: invalid params.headers: bad header name "Bad Name"`},
		{"header value", `{"url":"http://127.0.0.1","headers":{"X-A":"a\r\nX-B: b"}}`, `invalid params.headers: the value of X-A holds a CR, LF or NUL`},
		{"Host header", `{"url":"http://127.0.0.1","headers":{"host":"evil.example"}}`, `pink: invalid params.headers: Host is set by the worker from the request, not by the job`},
		{"timeout", `{"url":"http://127.0.0.1","timeout":"1 minute"}`, `invalid params.timeout`},
		{"expect_status", `{"url":"http://127.0.0.1","expect_status":[200,700]}`, `pink: invalid params.expect_status: status codes are between 100 and 599, got 700`},
		{"expect_status type", `{"url":"http://127.0.0.1","expect_status":"200"}`, `invalid params.expect_status: must be an array of integers, got string`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call(tc.params)
			require.ErrorIs(t, err, domain.ErrInvalid)
			assert.ErrorContains(t, err, tc.want)
		})
	}
}

func TestHTTPOptionsValidate(t *testing.T) {
	for _, ok := range [][]string{{"example.com"}, {"Example.COM.", "api.example.com:8443"}, {"*.example.com"}, {"[::1]:80", "::1", "10.0.0.1"}} {
		assert.NoError(t, builtin.HTTPOptions{AllowHosts: ok}.Validate(), "%q", ok)
	}
	for _, bad := range [][]string{nil, {""}, {"*"}, {"*:443"}, {"https://example.com"}, {"example.com/path"},
		{"example.com:0"}, {"example.com:http"}, {"a.*.example.com"}, {"*.10.0.0.1"}, {"user@example.com"}} {
		opts := builtin.HTTPOptions{AllowHosts: bad}
		assert.Error(t, opts.Validate(), "%q", bad)
		assert.Panics(t, func() { builtin.HTTP(opts) }, "%q", bad)
	}
	assert.EqualError(t, builtin.HTTPOptions{}.Validate(), "http allow-list: empty: list the hosts jobs may call")
}

func TestHTTPAllowHostMatching(t *testing.T) {
	cases := []struct {
		allow string
		url   string
		ok    bool
	}{
		{"example.com", "https://example.com/x", true},
		{"example.com", "http://EXAMPLE.com:8080/x", true}, // no port: any port
		{"example.com", "https://example.com./x", true},
		{"example.com", "https://api.example.com/x", false},
		{"example.com", "https://example.com.evil.net/x", false},
		{"example.com:443", "https://example.com/x", true}, // the scheme's port
		{"example.com:443", "http://example.com/x", false},
		{"example.com:8443", "https://example.com:8443/x", true},
		{"*.example.com", "https://api.example.com/x", true},
		{"*.example.com", "https://a.b.example.com/x", true},
		{"*.example.com", "https://example.com/x", false},
		{"*.example.com", "https://badexample.com/x", false},
		{"*.example.com:443", "https://api.example.com:444/x", false},
		{"::1", "http://[::1]:9/x", true},
		{"[0:0:0:0:0:0:0:1]:9", "http://[::1]:9/x", true},
		{"127.0.0.1", "http://localhost/x", false},
	}
	for _, tc := range cases {
		h := builtin.HTTP(builtin.HTTPOptions{AllowHosts: []string{tc.allow}, Transport: refuseTransport{}})
		_, err := call(t, h, httpParams{URL: tc.url})
		u, _ := url.Parse(tc.url)
		if tc.ok {
			assert.ErrorIs(t, err, errSent, "%s allows %s", tc.allow, u)
		} else {
			assert.ErrorIs(t, err, builtin.ErrNotAllowed, "%s refuses %s", tc.allow, u)
		}
	}
}

var errSent = &net.OpError{Op: "test", Err: io.EOF}

// refuseTransport fails every request it would send, so a test can tell an
// allowed request (errSent) from a refused one without a network.
type refuseTransport struct{}

func (refuseTransport) RoundTrip(*http.Request) (*http.Response, error) { return nil, errSent }
