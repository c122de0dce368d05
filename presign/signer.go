package presign

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// idleRecheck is how long Run sleeps when nothing is scheduled, as a
// guard against a missed wake-up or a jump of the clock.
const idleRecheck = time.Hour

// Signer signs download URLs with credentials it refreshes ahead of
// their expiry. It also serves those credentials to other clients
// through Retrieve, so the gateway holds one session. It is safe for
// concurrent use.
//
// Run keeps the credentials fresh in the background and retries failed
// retrievals with exponential backoff. Without Run, Presign and Retrieve
// still retrieve credentials when they need them; Status never does.
type Signer struct {
	cfg      Config
	urls     *URLSigner
	provider aws.CredentialsProvider

	cur  atomic.Pointer[session] // nil until the first retrieval succeeds
	wake chan struct{}           // signals Run that a retrieval ended

	mu       sync.Mutex
	inflight chan struct{} // closed when the running retrieval ends
	nextTry  time.Time     // no retrieval before this, after failures
	failures int           // consecutive failed retrievals
	lastErr  error         // the error of the last failed retrieval
	state    signerState   // the state last logged
}

// session is a set of credentials and the time they become due for a
// refresh.
type session struct {
	creds aws.Credentials
	dueAt time.Time
}

// due reports whether the session should be refreshed at now.
func (c *session) due(now time.Time) bool {
	return c.creds.CanExpire && now.After(c.dueAt)
}

// NewSigner returns a signer that signs with credentials from provider.
// It retrieves no credentials until Run starts or the first call that
// needs them.
func NewSigner(cfg Config, provider aws.CredentialsProvider) (
	*Signer, error,
) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if provider == nil {
		return nil, fmt.Errorf("presign: no credentials provider")
	}
	cfg.setDefaults()
	urls, err := NewURLSigner(SignerConfig{
		Endpoint:  cfg.PublicEndpoint,
		Region:    cfg.Region,
		Bucket:    cfg.Bucket,
		PathStyle: cfg.PathStyle,
	})
	if err != nil {
		return nil, err
	}
	return &Signer{cfg: cfg, urls: urls, provider: provider,
		wake: make(chan struct{}, 1)}, nil
}

// Expiry returns the configured URL lifetime, after defaults.
func (s *Signer) Expiry() time.Duration { return s.cfg.Expiry }

// credentials returns the credentials to sign with. When the current
// ones are due for a refresh, it starts a retrieval and waits for it.
// It does not wait when the previous retrieval failed and the current
// credentials can still sign a URL for the floor, so that an STS outage
// does not slow every request down. A caller whose ctx ends while
// waiting gets the current credentials.
func (s *Signer) credentials(ctx context.Context) (aws.Credentials, error) {
	if cur := s.cur.Load(); cur != nil && !cur.due(s.cfg.Now()) {
		return cur.creds, nil
	}

	s.mu.Lock()
	now := s.cfg.Now()
	cur := s.cur.Load()
	if cur != nil && !cur.due(now) {
		s.mu.Unlock()
		return cur.creds, nil
	}
	done := s.startRetrieval(now)
	wait := done != nil &&
		(s.failures == 0 || cur == nil || !s.canSign(cur.creds, now))
	s.mu.Unlock()

	if wait {
		select {
		case <-done:
		case <-ctx.Done():
		}
	}
	if cur = s.cur.Load(); cur != nil {
		return cur.creds, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return aws.Credentials{}, s.unavailableLocked(s.cfg.Now())
}

// canSign reports whether creds can sign a URL for at least the floor
// at now.
func (s *Signer) canSign(creds aws.Credentials, now time.Time) bool {
	if !creds.CanExpire {
		return true
	}
	return creds.Expires.Sub(now)-s.cfg.Margin >= s.cfg.Floor
}

// startRetrieval starts a retrieval unless one is running or the
// backoff after a failure has not passed. It returns the channel that
// closes when the running retrieval ends, or nil when none runs. The
// caller must hold s.mu.
func (s *Signer) startRetrieval(now time.Time) chan struct{} {
	if s.inflight != nil {
		return s.inflight
	}
	if now.Before(s.nextTry) {
		return nil
	}
	done := make(chan struct{})
	s.inflight = done
	go s.retrieve(done)
	return done
}

// retrieve fetches new credentials from the provider under the refresh
// timeout, records the outcome and closes done.
func (s *Signer) retrieve(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(),
		s.cfg.RefreshTimeout)
	defer cancel()
	// A caching provider, such as the SDK's default chain, would return
	// its cached credentials; ask it for new ones.
	if c, ok := s.provider.(interface{ Invalidate() }); ok {
		c.Invalidate()
	}
	creds, err := s.provider.Retrieve(ctx)
	if err != nil {
		err = fmt.Errorf("retrieve credentials: %w", err)
	}
	if s.cfg.OnRefresh != nil {
		s.cfg.OnRefresh(creds, err)
	}

	s.mu.Lock()
	now := s.cfg.Now()
	if err == nil && creds.CanExpire && !creds.Expires.After(now) {
		err = fmt.Errorf("retrieved credentials expired at %s",
			formatTime(creds.Expires))
	}
	s.record(creds, err, now)
	s.inflight = nil
	close(done)
	s.updateStateLocked(now)
	s.mu.Unlock()

	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// record stores the outcome of a retrieval. The caller must hold s.mu.
func (s *Signer) record(creds aws.Credentials, err error, now time.Time) {
	if err != nil {
		s.failures++
		s.lastErr = err
		s.nextTry = now.Add(s.backoff())
		return
	}
	s.failures = 0
	s.lastErr = nil
	s.nextTry = time.Time{}
	s.cur.Store(&session{creds: creds, dueAt: s.dueAt(creds, now)})
}

// dueAt returns the time after which credentials retrieved at now need
// a refresh. That is when they have less than the expiry plus the
// margin left, but not sooner than MinRefreshInterval after now. It is
// never later than the time when they can sign only a floor-length URL.
func (s *Signer) dueAt(creds aws.Credentials, now time.Time) time.Time {
	full := creds.Expires.Add(-(s.cfg.Expiry + s.cfg.Margin))
	earliest := now.Add(s.cfg.MinRefreshInterval)
	if full.Before(earliest) {
		full = earliest
	}
	last := creds.Expires.Add(-(s.cfg.Margin + s.cfg.Floor))
	if last.Before(full) {
		return last
	}
	return full
}

// backoff returns the wait after the current run of failures:
// RetryMin doubled per further failure, at most RetryMax. The caller
// must hold s.mu.
func (s *Signer) backoff() time.Duration {
	d := s.cfg.RetryMin
	for i := 1; i < s.failures && d < s.cfg.RetryMax; i++ {
		d *= 2
	}
	return min(d, s.cfg.RetryMax)
}

// Run retrieves credentials at once and then keeps them fresh until ctx
// is done. It refreshes them when they become due and retries failed
// retrievals with backoff. Call Run once per Signer, because a second
// loop would only duplicate the first one's work.
func (s *Signer) Run(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-s.wake:
		}
		timer.Stop()
		timer.Reset(s.tick())
	}
}

// tick starts a retrieval when one is due and returns how long to wait
// before the next check.
func (s *Signer) tick() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	if s.inflight != nil {
		return idleRecheck
	}
	cur := s.cur.Load()
	switch {
	case cur != nil && !cur.creds.CanExpire:
		return idleRecheck
	case cur != nil && !cur.due(now):
		return cur.dueAt.Sub(now)
	case now.Before(s.nextTry):
		return s.nextTry.Sub(now)
	}
	s.startRetrieval(now)
	return idleRecheck
}

// formatTime formats t for messages.
func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339)
}
