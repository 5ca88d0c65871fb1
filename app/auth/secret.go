package auth

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"time"

	"github.com/pink-scheduler/pink/domain"
)

// Secrets look like "pink_<kind>_<52 characters of [a-z2-7]>" (256 random
// bits): recognisable in logs and by secret scanners, and naming the kind
// so that a session cookie cannot be mistaken for an API token. The store
// keeps only domain.HashTokenSecret of the whole string.
const (
	secretPrefix  = "pink_"
	secretBytes   = 32
	secretBodyLen = (secretBytes*8 + 4) / 5 // 52
	maxSecretLen  = len(secretPrefix) + len(domain.TokenSession) + 1 + secretBodyLen
)

// lowerBase32 is RFC 4648 base32 in lower case, without padding.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newSecret returns a fresh secret of kind.
func newSecret(kind domain.TokenKind) string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather)
	return secretPrefix + string(kind) + "_" + lowerBase32.EncodeToString(b)
}

// SecretKind returns the kind a secret claims to be, and false if s is not
// shaped like a Pink secret at all. It does not tell whether the secret is
// valid: only Authenticate does.
func SecretKind(s string) (domain.TokenKind, bool) {
	if len(s) > maxSecretLen {
		return "", false
	}
	rest, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return "", false
	}
	kind, body, ok := strings.Cut(rest, "_")
	k := domain.TokenKind(kind)
	if !ok || !k.Valid() || len(body) != secretBodyLen {
		return "", false
	}
	for i := 0; i < len(body); i++ {
		if c := body[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return "", false
		}
	}
	return k, true
}

// crockford is Crockford's base32 in lower case: digits first, so IDs made
// of it sort like the numbers they encode.
const crockford = "0123456789abcdefghjkmnpqrstvwxyz"

// newTokenID returns a token ID that sorts by creation time: 10 characters
// of the Unix time in milliseconds, then 10 random ones (50 bits). It is a
// valid name (domain.ValidateName).
func newTokenID(now time.Time) string {
	var b [20]byte
	ms := uint64(now.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	var r [10]byte
	_, _ = rand.Read(r[:])
	for i, x := range r {
		b[10+i] = crockford[x&31]
	}
	return string(b[:])
}

// newNonce returns 10 random characters of [a-z2-7]: the random part of an
// audit entry ID.
func newNonce() string {
	var r [10]byte
	_, _ = rand.Read(r[:])
	for i := range r {
		r[i] = "abcdefghijklmnopqrstuvwxyz234567"[r[i]&31]
	}
	return string(r[:])
}

// passwordAlphabet is what generated passwords are made of.
const passwordAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// GeneratedPasswordLen is the length of the passwords Bootstrap makes: 20
// characters of 62, about 119 bits.
const GeneratedPasswordLen = 20

// RandomPassword returns a new random password of GeneratedPasswordLen
// letters and digits (no bias: bytes that would skew the choice are
// drawn again).
func RandomPassword() string {
	out := make([]byte, 0, GeneratedPasswordLen)
	var buf [32]byte
	for len(out) < GeneratedPasswordLen {
		_, _ = rand.Read(buf[:])
		for _, x := range buf {
			if x >= 248 { // 248 = 4*62: keep the draw uniform
				continue
			}
			out = append(out, passwordAlphabet[int(x)%len(passwordAlphabet)])
			if len(out) == GeneratedPasswordLen {
				break
			}
		}
	}
	return string(out)
}
