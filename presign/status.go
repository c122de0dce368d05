package presign

import (
	"fmt"
	"log/slog"
	"time"
)

// signerState is the signer's ability to sign, as last logged.
type signerState int

const (
	// stateStarting: no retrieval has ended yet.
	stateStarting signerState = iota
	// stateOK: the credentials are fresh or the last refresh succeeded.
	stateOK
	// stateDegraded: the last refresh failed, but the current
	// credentials can still sign URLs for the floor. URLs are capped to
	// their remaining life.
	stateDegraded
	// stateUnavailable: no credentials can sign a URL for the floor.
	stateUnavailable
)

// Status reports whether the signer can issue URLs that live at least
// the floor. It returns nil when it can, and an *UnavailableError with
// the reason when it cannot, including before the first credentials
// arrive. It never contacts STS, and logs a change of state.
func (s *Signer) Status() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	st := s.updateStateLocked(now)
	if st == stateStarting || st == stateUnavailable {
		return s.unavailableLocked(now)
	}
	return nil
}

// unavailable returns the error for a URL that cannot be signed at
// time at, and logs the change of state.
func (s *Signer) unavailable(at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.updateStateLocked(at)
	return s.unavailableLocked(at)
}

// currentState derives the state at now. The caller must hold s.mu.
func (s *Signer) currentState(now time.Time) signerState {
	cur := s.cur.Load()
	switch {
	case cur == nil && s.lastErr == nil:
		return stateStarting
	case cur == nil || !s.canSign(cur.creds, now):
		return stateUnavailable
	case s.failures > 0:
		return stateDegraded
	}
	return stateOK
}

// updateStateLocked derives the state at now, logs it when it changed
// and returns it. The caller must hold s.mu.
func (s *Signer) updateStateLocked(now time.Time) signerState {
	st := s.currentState(now)
	if st == s.state {
		return st
	}
	prev := s.state
	s.state = st
	log := s.cfg.Logger
	switch st {
	case stateOK:
		attrs := []any{"expires", s.expiresAttr()}
		if prev != stateStarting {
			log.Info("signing credentials refreshed; URLs get their "+
				"full lifetime again", attrs...)
			break
		}
		log.Info("signing credentials retrieved", attrs...)
	case stateDegraded:
		log.Warn("refreshing the signing credentials failed; URLs "+
			"are capped to the current credentials' remaining "+
			"lifetime", "expires", s.expiresAttr(), "err", s.lastErr)
	case stateUnavailable:
		log.Error("cannot sign download URLs; downloads get 503 until "+
			"credentials are refreshed",
			"reason", s.reasonLocked(now))
	}
	return st
}

// expiresAttr returns the current credentials' expiry for a log
// record. The caller must hold s.mu.
func (s *Signer) expiresAttr() slog.Value {
	cur := s.cur.Load()
	if cur == nil || !cur.creds.CanExpire {
		return slog.StringValue("never")
	}
	return slog.TimeValue(cur.creds.Expires.UTC())
}

// unavailableLocked returns the *UnavailableError for the state at now.
// The caller must hold s.mu.
func (s *Signer) unavailableLocked(now time.Time) *UnavailableError {
	retry := s.cfg.RetryMin
	if s.nextTry.After(now) {
		retry = s.nextTry.Sub(now)
	}
	return &UnavailableError{Reason: s.reasonLocked(now),
		RetryAfter: max(retry, time.Second)}
}

// reasonLocked explains why no URL can be signed at now. The caller
// must hold s.mu.
func (s *Signer) reasonLocked(now time.Time) string {
	cause := ""
	if s.lastErr != nil {
		cause = ": " + s.lastErr.Error()
	}
	cur := s.cur.Load()
	if cur == nil {
		if s.lastErr == nil {
			return "no signing credentials yet; retrieving them"
		}
		return "no signing credentials" + cause
	}
	reason := fmt.Sprintf("signing credentials expire at %s, too soon for "+
		"a URL that lives the %v floor plus the %v margin",
		formatTime(cur.creds.Expires), s.cfg.Floor, s.cfg.Margin)
	if s.lastErr != nil {
		return reason + ", and refreshing them failed" + cause
	}
	return reason + "; refreshing them"
}
