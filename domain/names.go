package domain

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen bounds group names, job IDs, worker IDs and node IDs.
const MaxNameLen = 63

// ValidateName checks an identifier used as an etcd key segment: a group
// name, job ID, worker ID or node ID. It must match
// [a-z0-9][a-z0-9-_.]{0,62}; in particular it never contains '/' or '~'.
func ValidateName(field, s string) error {
	if s == "" {
		return invalid(field, "must not be empty")
	}
	if len(s) > MaxNameLen {
		return invalid(field, "must be at most %d characters, got %d", MaxNameLen, len(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case i > 0 && (c == '-' || c == '_' || c == '.'):
		default:
			return invalid(field, "%q must match [a-z0-9][a-z0-9-_.]{0,62} (bad character at %d)", s, i)
		}
	}
	return nil
}

// validateText checks a free-text field: valid UTF-8, no control characters
// other than newline and tab, at most max bytes.
func validateText(field, s string, max int, required bool) error {
	if required && s == "" {
		return invalid(field, "must not be empty")
	}
	if len(s) > max {
		return invalid(field, "must be at most %d bytes, got %d", max, len(s))
	}
	if !utf8.ValidString(s) {
		return invalid(field, "must be valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return invalid(field, "must not contain control character %U", r)
		}
	}
	return nil
}

// Label bounds.
const (
	MaxLabels        = 32
	MaxLabelKeyLen   = 63
	MaxLabelValueLen = 256
)

// ValidateLabels checks a label map: at most MaxLabels entries, keys valid
// names (letters may be upper case here, and '/' is allowed as in
// "team/owner"), values short printable text.
func ValidateLabels(field string, labels map[string]string) error {
	if len(labels) > MaxLabels {
		return invalid(field, "at most %d labels, got %d", MaxLabels, len(labels))
	}
	for k, v := range labels {
		if k == "" || len(k) > MaxLabelKeyLen {
			return invalid(field, "label key %q must be 1-%d characters", k, MaxLabelKeyLen)
		}
		for i := 0; i < len(k); i++ {
			c := k[i]
			ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
				c == '-' || c == '_' || c == '.' || c == '/'
			if !ok {
				return invalid(field, "label key %q has bad character %q", k, c)
			}
		}
		if err := validateText(fmt.Sprintf("%s.%s", field, k), v, MaxLabelValueLen, false); err != nil {
			return err
		}
	}
	return nil
}
