package auth

// Internals the external tests look at.

// VerifyCount returns how many password verifications s has made.
func VerifyCount(s *Service) int64 { return s.hasher.verifies.Load() }

var (
	HashPassword   = hashPassword
	VerifyPassword = verifyPassword
	Clip           = clip
	NewTokenID     = newTokenID
	NewSecret      = newSecret
)
