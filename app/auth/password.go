package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// PasswordParams are the argon2id parameters of new password hashes. Every
// stored hash carries its own parameters, so changing them affects new
// hashes only; a user's hash is upgraded when they next log in.
type PasswordParams struct {
	// Time is the number of passes over the memory.
	Time uint32
	// Memory is the memory used, in KiB.
	Memory uint32
	// Threads is the parallelism.
	Threads uint8
}

// DefaultPasswordParams is OWASP's recommended minimum for argon2id
// (Password Storage Cheat Sheet): 19 MiB, 2 passes, 1 thread — about 20 ms
// a hash on a current core.
var DefaultPasswordParams = PasswordParams{Time: 2, Memory: 19 * 1024, Threads: 1}

// Bounds on the parameters, also applied to stored hashes, so that a
// tampered or foreign record cannot make verifying cost gigabytes.
const (
	maxHashMemory  = 1 << 20 // KiB: 1 GiB
	maxHashTime    = 16
	maxHashThreads = 16
	saltLen        = 16
	keyLen         = 32
)

// validate checks p against the bounds.
func (p PasswordParams) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxHashTime:
		return fmt.Errorf("argon2id time must be 1-%d, got %d", maxHashTime, p.Time)
	case p.Threads < 1 || p.Threads > maxHashThreads:
		return fmt.Errorf("argon2id threads must be 1-%d, got %d", maxHashThreads, p.Threads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxHashMemory:
		return fmt.Errorf("argon2id memory must be %d-%d KiB, got %d", 8*uint32(p.Threads), maxHashMemory, p.Memory)
	}
	return nil
}

var b64 = base64.RawStdEncoding

// hashPassword returns the PHC string of pw under p with a fresh salt:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<threads>$<salt>$<key>.
func hashPassword(pw string, p PasswordParams) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // never fails (crypto/rand panics rather)
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, keyLen)
	return encodeHash(p, salt, key)
}

func encodeHash(p PasswordParams, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

var errBadHash = errors.New("auth: unreadable password hash")

// parseHash reads a string made by encodeHash, refusing anything else
// (other algorithms, versions, non-canonical forms, out-of-bound params).
func parseHash(s string) (PasswordParams, []byte, []byte, error) {
	var p PasswordParams
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, errBadHash
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) || p.validate() != nil {
		return p, nil, nil, errBadHash
	}
	salt, err1 := b64.DecodeString(parts[4])
	key, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(salt) < 8 || len(salt) > 64 || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, errBadHash
	}
	return p, salt, key, nil
}

// verifyPassword reports whether pw matches the encoded hash, comparing in
// constant time, and returns the hash's parameters.
func verifyPassword(encoded, pw string) (bool, PasswordParams, error) {
	p, salt, key, err := parseHash(encoded)
	if err != nil {
		return false, p, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, p, nil
}

// hasher hashes and verifies passwords, at most cap(sem) at a time: each
// costs Memory KiB and a core for tens of milliseconds, so concurrent
// logins must not be able to exhaust the node.
type hasher struct {
	params PasswordParams
	sem    chan struct{}
	// verifies counts verifications (the tests check the dummy path runs).
	verifies atomic.Int64
}

func newHasher(p PasswordParams, concurrency int) *hasher {
	return &hasher{params: p, sem: make(chan struct{}, concurrency)}
}

// acquire waits for a hashing slot; it returns ctx's error if ctx ends
// first.
func (h *hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *hasher) release() { <-h.sem }

// hash returns the encoded hash of pw under the current parameters.
func (h *hasher) hash(ctx context.Context, pw string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return hashPassword(pw, h.params), nil
}

// verify reports whether pw matches encoded, and whether encoded should be
// re-hashed with the current parameters.
func (h *hasher) verify(ctx context.Context, encoded, pw string) (ok, stale bool, err error) {
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	h.verifies.Add(1)
	ok, p, err := verifyPassword(encoded, pw)
	return ok, p != h.params, err
}
