package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/pink-scheduler/pink/domain"
)

const (
	// idSuffixBytes is the random part of a generated ID (12 hex digits).
	idSuffixBytes = 6
	// maxIDPrefix keeps a generated ID within domain.MaxNameLen.
	maxIDPrefix = domain.MaxNameLen - 1 - 2*idSuffixBytes
)

// generateID returns a new worker ID like the Go runtime's: the host name
// made into a valid name (lower case, other characters replaced by '-', at
// most 50 characters; "http-worker" if nothing is left), a '-' and 12
// random hex digits. The worker's address plays no part.
func generateID(hostname string) (string, error) {
	var b strings.Builder
	for _, c := range strings.ToLower(hostname) {
		if b.Len() >= maxIDPrefix {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() == 0: // a name starts with a letter or digit
		case c == '-' || c == '_' || c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	prefix := strings.TrimRight(b.String(), "-_.")
	if prefix == "" {
		prefix = "http-worker"
	}
	suffix := make([]byte, idSuffixBytes)
	if _, err := rand.Read(suffix); err != nil {
		return "", fmt.Errorf("generate worker ID: %w", err)
	}
	return prefix + "-" + hex.EncodeToString(suffix), nil
}
