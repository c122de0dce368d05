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
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Limits and defaults of the URL lifetime settings.
const (
	// MaxExpiry is the longest lifetime SigV4 allows for a pre-signed
	// URL.
	MaxExpiry = 7 * 24 * time.Hour

	// MinExpiry is the shortest URL lifetime the gateway accepts.
	MinExpiry = time.Minute

	// DefaultExpiry is the URL lifetime when Config.Expiry is zero.
	DefaultExpiry = time.Hour

	// DefaultMargin is the safety margin when Config.Margin is zero.
	DefaultMargin = 5 * time.Minute

	// DefaultFloor is the floor when Config.Floor is zero.
	DefaultFloor = 5 * time.Minute
)

// URL is a pre-signed URL and the time at which it really stops working:
// the earlier of its X-Amz-Expires and its credentials' expiry less the
// margin.
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

// Config sets up a [Signer]. Zero fields take the documented defaults,
// so the zero value plus Bucket and Region is a usable configuration.
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
	// Zero means DefaultExpiry; otherwise it must lie within
	// MinExpiry..MaxExpiry.
	Expiry time.Duration

	// Margin is kept between a URL's expiry and its credentials'
	// expiry, to allow for clock skew. Zero means DefaultMargin.
	Margin time.Duration

	// Floor is the shortest lifetime worth handing out. A URL that the
	// credentials cannot keep valid that long is refused with an
	// *UnavailableError. Zero means DefaultFloor, or the expiry when
	// that is shorter; it must not exceed the expiry. It is rounded up
	// to whole seconds.
	Floor time.Duration

	// RefreshTimeout bounds one credential retrieval, so that an
	// unreachable STS or instance metadata endpoint cannot stall the
	// signer. Zero means 10 seconds.
	RefreshTimeout time.Duration

	// RetryMin is the wait after the first failed retrieval; each
	// further failure doubles it, up to RetryMax. Zero means 1 second.
	RetryMin time.Duration

	// RetryMax caps the wait between failed retrievals. Zero means
	// 1 minute.
	RetryMax time.Duration

	// MinRefreshInterval is the shortest time between two successful
	// retrievals when the new credentials still live less than the
	// expiry plus the margin, for example because the role session is
	// no longer than the URL expiry. A retrieval still happens sooner
	// when the credentials cannot sign a URL for the floor. Zero means
	// 1 minute.
	MinRefreshInterval time.Duration

	// Logger receives changes of the signer's state: refresh failures,
	// signing becoming unavailable, and recovery. Each change is
	// logged once. Nil discards them.
	Logger *slog.Logger

	// OnRefresh, when set, is called after each credential retrieval
	// with the new credentials or the error. It must not call the
	// Signer.
	OnRefresh func(creds aws.Credentials, err error)

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Expiry == 0 {
		c.Expiry = DefaultExpiry
	}
	defaults := []struct {
		field *time.Duration
		value time.Duration
	}{
		{&c.Margin, DefaultMargin},
		{&c.Floor, min(DefaultFloor, c.Expiry)},
		{&c.RefreshTimeout, 10 * time.Second},
		{&c.RetryMin, time.Second},
		{&c.RetryMax, time.Minute},
		{&c.MinRefreshInterval, time.Minute},
	}
	for _, d := range defaults {
		if *d.field == 0 {
			*d.field = d.value
		}
	}
	// A URL lives whole seconds, so a floor in whole seconds keeps
	// lifetime and canSign in agreement.
	if rem := c.Floor % time.Second; rem != 0 {
		c.Floor += time.Second - rem
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports the first invalid setting, naming its flag and the
// allowed range. It rejects every setting that NewSigner rejects.
func (c Config) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("--bucket is required")
	case c.Region == "":
		return errors.New("--region is required")
	}
	if c.Expiry != 0 {
		if err := ValidateExpiry(c.Expiry); err != nil {
			return err
		}
	}
	for _, d := range []struct {
		flag  string
		value time.Duration
	}{
		{"--credentials-margin", c.Margin},
		{"--url-floor", c.Floor},
		{"--credentials-timeout", c.RefreshTimeout},
		{"RetryMin", c.RetryMin},
		{"RetryMax", c.RetryMax},
		{"MinRefreshInterval", c.MinRefreshInterval},
	} {
		if d.value < 0 {
			return fmt.Errorf("%s %v is negative", d.flag, d.value)
		}
	}
	c.setDefaults()
	if c.Floor > c.Expiry {
		return fmt.Errorf("--url-floor %v is longer than --url-expiry "+
			"%v; the floor must lie between 1s and the expiry",
			c.Floor, c.Expiry)
	}
	return c.validateURLs()
}

// validateURLs reports the region, bucket or public endpoint that
// NewURLSigner would reject, naming its flag.
func (c Config) validateURLs() error {
	if !isValidRegion(c.Region) {
		return fmt.Errorf("--region %q is not a region name: %s",
			c.Region, regionRule)
	}
	if !isValidBucket(c.Bucket) {
		return fmt.Errorf("--bucket %q is not a bucket name: %s",
			c.Bucket, bucketRule)
	}
	endpoint, err := parseEndpoint(c.PublicEndpoint, c.Region)
	if err != nil {
		return fmt.Errorf("--s3-public-endpoint %q is invalid: %w; want "+
			"a base URL such as https://s3.eu-west-1.amazonaws.com or "+
			"http://127.0.0.1:9000", c.PublicEndpoint, err)
	}
	const fix = "set --s3-path-style to put the bucket in the URL path"
	switch {
	case c.PathStyle:
		return nil
	case !isDNSLabel(c.Bucket):
		return fmt.Errorf("--bucket %q is not a DNS label (3 to 63 "+
			"lowercase letters, digits and '-'), so it cannot be part "+
			"of a host name: %s", c.Bucket, fix)
	case net.ParseIP(endpoint.Hostname()) != nil:
		return fmt.Errorf("--s3-public-endpoint %q has an IP address as "+
			"host, so it cannot take a bucket subdomain: %s",
			c.PublicEndpoint, fix)
	}
	return nil
}

// ValidateExpiry reports whether d is an accepted URL lifetime:
// MinExpiry to MaxExpiry. The error names the --url-expiry flag and the
// range.
func ValidateExpiry(d time.Duration) error {
	if d < MinExpiry || d > MaxExpiry {
		return fmt.Errorf("--url-expiry %v is outside the allowed range "+
			"1m to 168h (7 days, the SigV4 limit)", d)
	}
	return nil
}

// Presign returns a GET URL for key that makes browsers save the object
// as filename. Its lifetime is the configured expiry, capped at what the
// signing credentials have left less the margin, and URL.Expires is the
// resulting expiry. When the credentials have less than the expiry plus
// the margin left, Presign refreshes them first. It returns an
// *UnavailableError when no credentials can sign a URL that lives at
// least the floor.
func (s *Signer) Presign(ctx context.Context, key, filename string) (
	URL, error,
) {
	creds, err := s.credentials(ctx)
	if err != nil {
		return URL{}, err
	}
	// X-Amz-Date has whole seconds, and S3 counts X-Amz-Expires from it.
	at := s.cfg.Now().Truncate(time.Second)
	life, err := s.lifetime(creds, at)
	if err != nil {
		return URL{}, err
	}
	u := s.urls.Sign(creds, key, ContentDisposition(filename), at, life)
	return URL{URL: u, Expires: at.Add(life)}, nil
}

// lifetime returns the lifetime of a URL signed with creds at time at:
// the expiry, capped at the credentials' remaining life less the margin,
// in whole seconds. It returns an *UnavailableError when that is below
// the floor.
func (s *Signer) lifetime(creds aws.Credentials, at time.Time) (
	time.Duration, error,
) {
	life := s.cfg.Expiry
	if creds.CanExpire {
		life = min(life, creds.Expires.Sub(at)-s.cfg.Margin)
	}
	life = life.Truncate(time.Second)
	if life < s.cfg.Floor {
		return 0, s.unavailable(at)
	}
	return life, nil
}

// Retrieve returns the signer's current credentials, refreshing them
// the way Presign does. It implements aws.CredentialsProvider, so the
// gateway's S3 client shares the signer's session.
func (s *Signer) Retrieve(ctx context.Context) (aws.Credentials, error) {
	return s.credentials(ctx)
}
