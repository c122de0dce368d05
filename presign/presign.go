// Package presign makes the pre-signed S3 GET URLs that modelgate hands
// to clients, and manages the credentials that sign them.
//
// A pre-signed URL is a credential: anyone who holds it can read the
// object until it expires, so URLs are never logged. A URL stops working
// when it reaches its X-Amz-Expires or when the credentials that signed
// it expire, whichever comes first. With an assumed role those
// credentials are temporary, so the [Signer] caps each URL's lifetime at
// what its credentials have left, less a safety margin, and refreshes
// the credentials early enough that a URL normally gets its full
// configured lifetime. When the credentials cannot be refreshed and have
// less than a floor left, it returns an [UnavailableError] instead of a
// URL that would fail part-way through a download.
package presign

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// MaxExpiry is the longest lifetime SigV4 allows for a pre-signed URL.
const MaxExpiry = 7 * 24 * time.Hour

// MinExpiry is the shortest URL lifetime the gateway accepts.
const MinExpiry = time.Minute

// URL is a pre-signed URL and the time at which it really stops working.
type URL struct {
	URL     string
	Expires time.Time
}

// UnavailableError reports that no URL can be signed that would live at
// least the configured floor. RetryAfter estimates when to try again.
type UnavailableError struct {
	Reason     string
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string {
	return "presign: signing unavailable: " + e.Reason
}

// Config sets up a [Signer]. Zero fields take the documented
// defaults.
type Config struct {
	// Bucket is the bucket of the signed objects. It is required.
	Bucket string

	// Region is the bucket's region. It is required.
	Region string

	// PublicEndpoint is the S3 endpoint in the URLs handed to clients,
	// such as "https://s3.eu-west-1.amazonaws.com". Empty means the AWS
	// endpoint of Region.
	PublicEndpoint string

	// PathStyle puts the bucket in the URL path instead of the host
	// name.
	PathStyle bool

	// Expiry is the lifetime of a URL when the credentials allow it.
	// Zero means one hour; it must lie within MinExpiry..MaxExpiry.
	Expiry time.Duration

	// Margin is kept between a URL's expiry and its credentials'
	// expiry, to allow for clock skew. Zero means 5 minutes.
	Margin time.Duration

	// Floor is the shortest lifetime worth handing out while the
	// credentials cannot be refreshed. Zero means 5 minutes.
	Floor time.Duration

	// RetryRefresh is the wait after a failed credential refresh before
	// the next attempt. Zero means 10 seconds.
	RetryRefresh time.Duration

	// Logger receives credential refresh failures and recoveries, once
	// per change. Nil discards them.
	Logger *slog.Logger

	// OnRefresh, when set, is called after each credential retrieval
	// with the new credentials or the error.
	OnRefresh func(creds aws.Credentials, err error)

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Expiry == 0 {
		c.Expiry = time.Hour
	}
	if c.Margin == 0 {
		c.Margin = 5 * time.Minute
	}
	if c.Floor == 0 {
		c.Floor = 5 * time.Minute
	}
	if c.RetryRefresh == 0 {
		c.RetryRefresh = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first invalid setting, naming its flag and the
// allowed range.
func (c Config) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("--bucket is required")
	case c.Region == "":
		return errors.New("--region is required")
	case c.Expiry != 0 && (c.Expiry < MinExpiry || c.Expiry > MaxExpiry):
		return fmt.Errorf("--url-expiry %v is outside the allowed "+
			"range 1m to 168h (7 days, the SigV4 limit)", c.Expiry)
	case c.Margin < 0:
		return fmt.Errorf("--credentials-margin %v is negative", c.Margin)
	case c.Floor < 0:
		return fmt.Errorf("--url-floor %v is negative", c.Floor)
	}
	return nil
}

// Signer signs download URLs with credentials it refreshes ahead of
// their expiry. It also serves those credentials to other clients
// through Retrieve, so the gateway holds one session. It is safe for
// concurrent use.
type Signer struct {
	cfg      Config
	urls     *URLSigner
	provider aws.CredentialsProvider

	creds atomic.Pointer[aws.Credentials]

	mu        sync.Mutex
	refreshAt time.Time // no refresh attempt before this time
	lastErr   string    // the last refresh error logged
}

// NewSigner returns a signer that signs with credentials from provider.
// It retrieves no credentials until the first call.
func NewSigner(cfg Config, provider aws.CredentialsProvider) (
	*Signer, error,
) {
	if err := cfg.Validate(); err != nil {
		return nil, err
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
	return &Signer{cfg: cfg, urls: urls, provider: provider}, nil
}

// Presign returns a GET URL for key that makes browsers save the object
// as filename. Its lifetime is the configured expiry, capped at what the
// signing credentials have left less the margin. It returns an
// *UnavailableError when that is below the floor.
func (s *Signer) Presign(ctx context.Context, key, filename string) (
	URL, error,
) {
	now := s.cfg.Now()
	creds, err := s.credentials(ctx, now)
	if err != nil {
		return URL{}, err
	}

	life := s.cfg.Expiry
	if creds.CanExpire {
		left := creds.Expires.Sub(now) - s.cfg.Margin
		if left < life {
			life = left
		}
		if life < s.cfg.Floor {
			return URL{}, &UnavailableError{
				Reason: fmt.Sprintf("signing credentials expire at %s "+
					"and could not be refreshed",
					creds.Expires.UTC().Format(time.RFC3339)),
				RetryAfter: s.cfg.RetryRefresh,
			}
		}
	}
	// SigV4 counts the expiry in whole seconds.
	life = life.Truncate(time.Second)

	u := s.urls.Sign(creds, key, ContentDisposition(filename), now, life)
	return URL{URL: u, Expires: now.Add(life)}, nil
}

// Retrieve returns the signer's current credentials, refreshing them
// when they are near expiry. It implements aws.CredentialsProvider.
func (s *Signer) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return s.credentials(ctx, s.cfg.Now())
}

// credentials returns credentials that can sign a URL for the full
// expiry when possible. It refreshes them first when they have less than
// the expiry plus the margin left, and falls back to the current ones
// when the refresh fails.
func (s *Signer) credentials(ctx context.Context, now time.Time) (
	aws.Credentials, error,
) {
	cur := s.creds.Load()
	if cur != nil && !s.needsRefresh(*cur, now) {
		return *cur, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	cur = s.creds.Load()
	if cur != nil && !s.needsRefresh(*cur, now) {
		return *cur, nil
	}
	if now.Before(s.refreshAt) {
		if cur != nil {
			return *cur, nil
		}
		return aws.Credentials{}, &UnavailableError{
			Reason:     "no credentials yet: " + s.lastErr,
			RetryAfter: s.refreshAt.Sub(now),
		}
	}

	fresh, err := s.provider.Retrieve(ctx)
	if s.cfg.OnRefresh != nil {
		s.cfg.OnRefresh(fresh, err)
	}
	if err != nil {
		s.refreshAt = now.Add(s.cfg.RetryRefresh)
		s.logFailure(err)
		if cur != nil {
			return *cur, nil
		}
		return aws.Credentials{}, &UnavailableError{
			Reason:     "no credentials: " + err.Error(),
			RetryAfter: s.cfg.RetryRefresh,
		}
	}
	if s.lastErr != "" {
		s.cfg.Logger.Info("credentials refreshed again after failures",
			"expires", fresh.Expires)
		s.lastErr = ""
	}
	s.creds.Store(&fresh)
	return fresh, nil
}

// needsRefresh reports whether creds have too little life left to sign
// a URL for the full expiry.
func (s *Signer) needsRefresh(creds aws.Credentials, now time.Time) bool {
	if !creds.CanExpire {
		return false
	}
	return creds.Expires.Sub(now) < s.cfg.Expiry+s.cfg.Margin
}

// logFailure logs a refresh failure once per distinct error.
func (s *Signer) logFailure(err error) {
	if err.Error() == s.lastErr {
		return
	}
	s.lastErr = err.Error()
	s.cfg.Logger.Warn("credential refresh failed; signing with the "+
		"current credentials while they last", "err", err)
}

// Status reports whether the signer can currently issue URLs of at least
// the floor's lifetime, without contacting STS. It returns nil when it
// can, or when no credentials have been requested yet.
func (s *Signer) Status() error {
	cur := s.creds.Load()
	if cur == nil || !cur.CanExpire {
		return nil
	}
	left := cur.Expires.Sub(s.cfg.Now()) - s.cfg.Margin
	if left < s.cfg.Floor {
		return &UnavailableError{
			Reason: fmt.Sprintf("signing credentials expire at %s and "+
				"could not be refreshed",
				cur.Expires.UTC().Format(time.RFC3339)),
			RetryAfter: s.cfg.RetryRefresh,
		}
	}
	return nil
}
