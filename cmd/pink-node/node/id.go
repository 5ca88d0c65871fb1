package node

import (
	"crypto/rand"
	"encoding/hex"
	"strings"

	"github.com/pink-scheduler/pink/domain"
)

const (
	idSuffixBytes = 4 // 8 hex digits
	maxIDPrefix   = domain.MaxNameLen - 1 - 2*idSuffixBytes
)

// GenerateID returns a new node ID: the host name made into a valid name
// (lower case, other characters replaced by '-', "node" if nothing is
// left), a '-' and 8 random hex digits, so two nodes on one host differ.
// The result always passes domain.ValidateName.
func GenerateID(hostname string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(hostname) {
		if b.Len() >= maxIDPrefix {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
			b.WriteRune(c)
		case b.Len() == 0: // a name starts with a letter or a digit
		case c == '-' || c == '_' || c == '.':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	prefix := strings.TrimRight(b.String(), "-_.")
	if prefix == "" {
		prefix = "node"
	}
	suffix := make([]byte, idSuffixBytes)
	_, _ = rand.Read(suffix) // never fails (crypto/rand panics rather)
	return prefix + "-" + hex.EncodeToString(suffix)
}
