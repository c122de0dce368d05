package ratelimit

import (
	"crypto/sha256"
	"net/http"
	"strings"
)

// maxStackToken is the longest token hashed without a heap copy.
const maxStackToken = 512

// tokenBuckets returns the buckets of the bearer token in h, or nil when
// there is none or it is not configured. The token is not kept: a token of
// up to maxStackToken bytes is hashed from a stack copy that is cleared
// afterwards, and a longer one from a heap copy that is dropped.
func (l *Limiter) tokenBuckets(h http.Header) *lockedBuckets {
	if len(l.tokens) == 0 {
		return nil
	}
	token, ok := bearerToken(h)
	if !ok {
		return nil
	}
	sum := hashToken(token)
	return l.tokens[sum]
}

// bearerToken returns the token of the first Authorization field when its
// scheme is Bearer, compared without case as RFC 9110 requires.
func bearerToken(h http.Header) (string, bool) {
	values := h["Authorization"]
	if len(values) == 0 {
		return "", false
	}
	scheme, token, ok := strings.Cut(trimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = trimSpace(token)
	return token, token != ""
}

// HashToken returns the SHA-256 of a bearer token, the form in which
// Config.Tokens and the token file list tokens.
func HashToken(token string) [32]byte {
	return hashToken(token)
}

func hashToken(token string) [32]byte {
	if len(token) > maxStackToken {
		return sha256.Sum256([]byte(token))
	}
	var buf [maxStackToken]byte
	n := copy(buf[:], token)
	sum := sha256.Sum256(buf[:n])
	clear(buf[:n])
	return sum
}
