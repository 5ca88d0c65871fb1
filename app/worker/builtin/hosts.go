package builtin

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// hostRule is one entry of HTTPOptions.AllowHosts.
type hostRule struct {
	host     string // canonical; for a wildcard, the suffix after "*."
	wildcard bool   // "*.example.com": any subdomain, not example.com itself
	port     string // "" for any port
}

// parseHostRule parses "host", "host:port", "*.domain", "*.domain:port",
// "[v6]", "[v6]:port" or a bare IPv6 address.
func parseHostRule(s string) (hostRule, error) {
	raw := s
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "":
		return hostRule{}, fmt.Errorf("empty host")
	case s == "*" || strings.HasPrefix(s, "*:"):
		return hostRule{}, fmt.Errorf("%q: a bare * would allow every host; list the hosts", raw)
	case strings.ContainsAny(s, "/@?# \t") || hasNUL(s):
		return hostRule{}, fmt.Errorf("%q: want a host or host:port, not a URL", raw)
	}
	host, port := s, ""
	switch {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		host = s[1 : len(s)-1]
	case strings.HasPrefix(s, "[") || strings.Count(s, ":") == 1:
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			return hostRule{}, fmt.Errorf("%q: %v", raw, err)
		}
		host, port = h, p
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return hostRule{}, fmt.Errorf("%q: bad port %q", raw, port)
		}
	}
	r := hostRule{port: port}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		r.wildcard, host = true, rest
	}
	host = canonHost(host)
	if host == "" || strings.Contains(host, "*") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) {
		return hostRule{}, fmt.Errorf("%q: bad host (a wildcard is allowed only as a leading \"*.\")", raw)
	}
	if r.wildcard && net.ParseIP(host) != nil {
		return hostRule{}, fmt.Errorf("%q: a wildcard needs a domain name", raw)
	}
	r.host = host
	return r, nil
}

// canonHost lower-cases a host name, drops a trailing dot, and writes an
// IP address in its canonical form.
func canonHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	if ip := net.ParseIP(h); ip != nil {
		return ip.String()
	}
	return h
}

// match reports whether the rule allows host (canonical) on port.
func (r hostRule) match(host, port string) bool {
	if r.port != "" && r.port != port {
		return false
	}
	if r.wildcard {
		return strings.HasSuffix(host, "."+r.host)
	}
	return host == r.host
}

// hostPort returns the canonical host of u and its port, the scheme's
// default if it has none.
func hostPort(u *url.URL) (string, string) {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return canonHost(u.Hostname()), port
}
