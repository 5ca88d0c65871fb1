package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pink-scheduler/pink/app/worker"
	"github.com/pink-scheduler/pink/domain"
)

// HTTPName is the handler name jobs use for HTTP.
const HTTPName = "http"

// Defaults and bounds of the HTTP handler.
const (
	DefaultHTTPTimeout     = 30 * time.Second
	DefaultMaxRequestBody  = 64 << 10
	DefaultMaxResponseBody = 16 << 10
	MaxURLLen              = 8 << 10
	MaxHeaders             = 64
	MaxHeaderValueLen      = 8 << 10
	MaxExpectStatus        = 32
	MaxRedirects           = 10
)

// methods are the methods a job may use.
var methods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// forbiddenHeaders are set by the client from the request itself; a job
// may not set them (Host in particular would talk to another virtual host
// than the allow-list checked).
var forbiddenHeaders = []string{"Host", "Content-Length", "Transfer-Encoding", "Connection",
	"Te", "Trailer", "Upgrade", "Keep-Alive", "Proxy-Connection", "Proxy-Authorization"}

// HTTPOptions is the worker's policy for the HTTP handler.
type HTTPOptions struct {
	// AllowHosts lists the hosts a job may call; required. An entry is a
	// host ("api.example.com", "10.0.0.7", "[::1]"), which allows any
	// port, or a host and port ("api.example.com:8443"); "*.example.com"
	// allows every subdomain of example.com (not example.com itself). The
	// URL and every redirect are checked.
	AllowHosts []string
	// MaxRequestBody bounds a job's request body in bytes; default
	// DefaultMaxRequestBody.
	MaxRequestBody int
	// MaxResponseBody bounds the part of the response body that is read
	// and written to the run's output; default DefaultMaxResponseBody.
	MaxResponseBody int
	// Timeout bounds a request, body included, when the job's params set
	// no "timeout"; default DefaultHTTPTimeout. The job's timeout bounds it
	// too.
	Timeout time.Duration
	// Transport makes the requests; default a clone of
	// http.DefaultTransport (which honours HTTP_PROXY and friends).
	Transport http.RoundTripper
	// MaxParams bounds a run's params in bytes; default
	// domain.DefaultMaxParams.
	MaxParams int
}

// Validate checks the options.
func (o HTTPOptions) Validate() error {
	_, err := o.rules()
	if err == nil && (o.MaxRequestBody < 0 || o.MaxResponseBody < 0 || o.Timeout < 0 || o.MaxParams < 0) {
		err = errors.New("http: negative bound")
	}
	return err
}

func (o HTTPOptions) rules() ([]hostRule, error) {
	if len(o.AllowHosts) == 0 {
		return nil, errors.New("http allow-list: empty: list the hosts jobs may call")
	}
	rules := make([]hostRule, 0, len(o.AllowHosts))
	for _, h := range o.AllowHosts {
		r, err := parseHostRule(h)
		if err != nil {
			return nil, fmt.Errorf("http allow-list: %w", err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// httpParams are an HTTP run's params.
type httpParams struct {
	URL          string            `json:"url"`
	Method       string            `json:"method"`
	Headers      map[string]string `json:"headers"`
	Body         string            `json:"body"`
	Timeout      string            `json:"timeout"`
	ExpectStatus []int             `json:"expect_status"`
}

const httpExample = `{"url":"https://hooks.example.com/run","method":"POST"}`

// httpCaller is the HTTP handler with its options.
type httpCaller struct {
	o      HTTPOptions
	rules  []hostRule
	client *http.Client
}

// request is a checked request, ready to send.
type request struct {
	method  string
	url     *url.URL
	headers http.Header
	body    string
	timeout time.Duration
	expect  []int
}

// HTTP returns the HTTP handler: it sends the request of the run's params
// to an allowed host and succeeds on a 2xx status (or one of
// expect_status):
//
//	{"url": "https://api.example.com/x",  // required, http or https
//	 "method": "POST",                    // default GET, or POST with a body
//	 "headers": {"Authorization": "..."},
//	 "body": "...",
//	 "timeout": "10s",                    // default HTTPOptions.Timeout
//	 "expect_status": [200, 204]}         // default any 2xx
//
// The run's output gets the request line, the response's status line and
// the first HTTPOptions.MaxResponseBody bytes of its body. A request to a
// host not on HTTPOptions.AllowHosts, or a redirect to one, is refused
// (ErrNotAllowed), as is any scheme but http and https. The request
// carries X-Pink-Run-ID and X-Pink-Attempt headers, so the receiver can be
// idempotent per run.
//
// HTTP panics if opts are invalid (see HTTPOptions.Validate).
func HTTP(opts HTTPOptions) worker.HandlerFunc {
	if err := opts.Validate(); err != nil {
		panic("builtin.HTTP: " + err.Error())
	}
	rules, _ := opts.rules()
	if opts.MaxRequestBody == 0 {
		opts.MaxRequestBody = DefaultMaxRequestBody
	}
	if opts.MaxResponseBody == 0 {
		opts.MaxResponseBody = DefaultMaxResponseBody
	}
	if opts.Timeout == 0 {
		opts.Timeout = DefaultHTTPTimeout
	}
	if opts.MaxParams == 0 {
		opts.MaxParams = domain.DefaultMaxParams
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	h := &httpCaller{o: opts, rules: rules}
	h.client = &http.Client{Transport: opts.Transport, CheckRedirect: h.checkRedirect}
	return h.handle
}

func (h *httpCaller) handle(ctx context.Context, run worker.Run) (worker.Result, error) {
	req, err := h.prepare(run)
	if err != nil {
		return worker.Result{}, err
	}
	return worker.Result{}, h.send(ctx, req, run)
}

// checkRedirect refuses a redirect the allow-list does not cover.
func (h *httpCaller) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= MaxRedirects {
		return fmt.Errorf("stopped after %d redirects", MaxRedirects)
	}
	if err := h.checkURL(req.URL); err != nil {
		return fmt.Errorf("redirect to %s refused: %w", req.URL.Redacted(), err)
	}
	return nil
}

// checkURL refuses a URL whose scheme or host is not allowed.
func (h *httpCaller) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme %q is %w: only http and https", u.Scheme, ErrNotAllowed)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("URL %s has no host", u.Redacted())
	}
	host, port := hostPort(u)
	for _, r := range h.rules {
		if r.match(host, port) {
			return nil
		}
	}
	return fmt.Errorf("host %s is %w: allowed are %s", u.Host, ErrNotAllowed, strings.Join(h.o.AllowHosts, ", "))
}

// prepare decodes and checks a run's request.
func (h *httpCaller) prepare(run worker.Run) (request, error) {
	var p httpParams
	if err := decodeParams(run.Params, h.o.MaxParams, &p, httpExample); err != nil {
		return request{}, err
	}
	var r request
	switch {
	case p.URL == "":
		return request{}, invalid("url", "required, such as \"https://hooks.example.com/run\"")
	case len(p.URL) > MaxURLLen:
		return request{}, invalid("url", "at most %d bytes, got %d", MaxURLLen, len(p.URL))
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return request{}, invalid("url", "%v", errors.Unwrap(err))
	}
	if !u.IsAbs() {
		return request{}, invalid("url", "must be an absolute http or https URL, got %q", p.URL)
	}
	u.Fragment, u.RawFragment = "", ""
	if err := h.checkURL(u); err != nil {
		return request{}, err
	}
	r.url = u

	r.method = p.Method
	if r.method == "" {
		r.method = "GET"
		if p.Body != "" {
			r.method = "POST"
		}
	}
	if !slices.Contains(methods, r.method) {
		return request{}, invalid("method", "must be one of %s, got %q", strings.Join(methods, ", "), p.Method)
	}
	if len(p.Body) > h.o.MaxRequestBody {
		return request{}, invalid("body", "at most %d bytes, got %d", h.o.MaxRequestBody, len(p.Body))
	}
	r.body = p.Body
	if r.headers, err = checkHeaders(p.Headers); err != nil {
		return request{}, err
	}
	if r.timeout, err = parseTimeout(p.Timeout); err != nil {
		return request{}, err
	}
	if r.timeout == 0 {
		r.timeout = h.o.Timeout
	}
	if len(p.ExpectStatus) > MaxExpectStatus {
		return request{}, invalid("expect_status", "at most %d codes, got %d", MaxExpectStatus, len(p.ExpectStatus))
	}
	for _, c := range p.ExpectStatus {
		if c < 100 || c > 599 {
			return request{}, invalid("expect_status", "status codes are between 100 and 599, got %d", c)
		}
	}
	r.expect = p.ExpectStatus
	return r, nil
}

// checkHeaders validates a job's headers.
func checkHeaders(in map[string]string) (http.Header, error) {
	if len(in) > MaxHeaders {
		return nil, invalid("headers", "at most %d, got %d", MaxHeaders, len(in))
	}
	hdr := make(http.Header, len(in))
	for k, v := range in {
		switch {
		case !isToken(k):
			return nil, invalid("headers", "bad header name %q", k)
		case len(v) > MaxHeaderValueLen:
			return nil, invalid("headers", "the value of %s is longer than %d bytes", k, MaxHeaderValueLen)
		case strings.ContainsAny(v, "\r\n\x00"):
			return nil, invalid("headers", "the value of %s holds a CR, LF or NUL", k)
		}
		name := http.CanonicalHeaderKey(k)
		if slices.Contains(forbiddenHeaders, name) {
			return nil, invalid("headers", "%s is set by the worker from the request, not by the job", name)
		}
		hdr.Set(name, v)
	}
	return hdr, nil
}

// isToken reports whether s is an HTTP token (RFC 9110, 5.6.2).
func isToken(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// send makes the request and judges the response.
func (h *httpCaller) send(ctx context.Context, r request, run worker.Run) error {
	ctx, cancel := context.WithTimeoutCause(ctx, r.timeout, fmt.Errorf("the request's timeout of %s passed", r.timeout))
	defer cancel()
	var body io.Reader
	if r.body != "" {
		body = strings.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, r.url.String(), body)
	if err != nil {
		return invalid("url", "%v", err)
	}
	req.Header.Set("User-Agent", "pink-worker")
	req.Header.Set("X-Pink-Run-ID", run.ID)
	req.Header.Set("X-Pink-Attempt", strconv.Itoa(run.Attempt))
	for k, v := range r.headers {
		req.Header[k] = v
	}
	fmt.Fprintf(run.Output, "%s %s\n", r.method, r.url.Redacted())
	resp, err := h.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %v", r.method, r.url.Redacted(), context.Cause(ctx))
		}
		return err // a *url.Error: `Post "https://...": ...`
	}
	defer resp.Body.Close()
	fmt.Fprintf(run.Output, "%s %s\n", resp.Proto, resp.Status)
	max := h.o.MaxResponseBody
	b, rerr := io.ReadAll(io.LimitReader(resp.Body, int64(max)+1))
	truncated := len(b) > max
	if truncated {
		b = b[:max]
	}
	_, _ = run.Output.Write(b)
	if truncated {
		fmt.Fprintf(run.Output, "\n[response body cut after %d bytes]\n", max)
	}
	if rerr != nil {
		if ctx.Err() != nil {
			rerr = context.Cause(ctx)
		}
		return fmt.Errorf("%s %s: reading the response body: %v", r.method, r.url.Redacted(), rerr)
	}
	if ok := r.expected(resp.StatusCode); !ok {
		msg := fmt.Sprintf("%s %s: status %s, want %s", r.method, r.url.Redacted(), resp.Status, r.want())
		if ex := excerpt(b, ErrTailBytes); ex != "" {
			msg += "; response body begins with:\n" + ex
		}
		return errors.New(msg)
	}
	return nil
}

// expected reports whether code is a success.
func (r request) expected(code int) bool {
	if len(r.expect) == 0 {
		return code >= 200 && code <= 299
	}
	return slices.Contains(r.expect, code)
}

// want describes the successful statuses.
func (r request) want() string {
	if len(r.expect) == 0 {
		return "2xx"
	}
	s := make([]string, len(r.expect))
	for i, c := range r.expect {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, " or ")
}

// excerpt returns the first n bytes of b, cut at a character boundary.
func excerpt(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	b = b[:n]
	for i := 0; i < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); i++ {
		b = b[:len(b)-1]
	}
	return string(b) + "..."
}
