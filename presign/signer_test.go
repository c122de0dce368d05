package presign

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// base is a whole second, so that signing truncates nothing unless a
// test adds a fraction.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// fakeProvider hands out credentials that expire a set time after the
// clock's current time, or fails. Each retrieval gets a new access key,
// so a URL shows which retrieval signed it.
type fakeProvider struct {
	clock *fakeClock

	mu    sync.Mutex
	life  time.Duration // remaining life of the next credentials
	err   error         // when set, Retrieve fails with it
	calls int
}

func (p *fakeProvider) Retrieve(ctx context.Context) (aws.Credentials,
	error,
) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls++
	if p.err != nil {
		return aws.Credentials{}, p.err
	}
	return aws.Credentials{
		AccessKeyID:     "AKID" + strconv.Itoa(p.calls),
		SecretAccessKey: "secret",
		SessionToken:    "token",
		CanExpire:       true,
		Expires:         p.clock.Now().Add(p.life),
	}, nil
}

func (p *fakeProvider) set(life time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.life, p.err = life, err
}

func (p *fakeProvider) callCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

// logRecorder keeps the level and message of each log record.
type logRecorder struct {
	mu      sync.Mutex
	records []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Level.String()+" "+rec.Message)
	return nil
}

func (r *logRecorder) levels() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.records {
		out = append(out, strings.Fields(rec)[0])
	}
	return out
}

// testConfig has a 10 minute expiry, a 1 minute margin and a 2 minute
// floor.
func testConfig(clock *fakeClock) Config {
	return Config{
		Bucket: "models", Region: "us-east-1",
		Expiry: 10 * time.Minute, Margin: time.Minute,
		Floor: 2 * time.Minute, RetryMin: 10 * time.Second,
		RetryMax: 40 * time.Second, MinRefreshInterval: time.Minute,
		Now: clock.Now,
	}
}

func newSessionSigner(tb testing.TB, cfg Config, p aws.CredentialsProvider,
) *Signer {
	tb.Helper()
	s, err := NewSigner(cfg, p)
	if err != nil {
		tb.Fatalf("NewSigner: %v", err)
	}
	return s
}

// waitIdle waits for the retrieval in flight, if any, to end.
func waitIdle(s *Signer) {
	s.mu.Lock()
	done := s.inflight
	s.mu.Unlock()
	if done != nil {
		<-done
	}
}

// urlParams returns the access key and X-Amz-Expires of a signed URL.
func urlParams(tb testing.TB, raw string) (akid string, expires int) {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatalf("parse %q: %v", raw, err)
	}
	q := u.Query()
	akid, _, _ = strings.Cut(q.Get("X-Amz-Credential"), "/")
	expires, err = strconv.Atoi(q.Get("X-Amz-Expires"))
	if err != nil {
		tb.Fatalf("X-Amz-Expires of %q: %v", raw, err)
	}
	return akid, expires
}

func TestPresignLifetime(t *testing.T) {
	// Expiry 10m, margin 1m, floor 2m; a provider that cannot do better
	// than the credentials' remaining life.
	tests := []struct {
		name     string
		offset   time.Duration // fraction of a second after base
		left     time.Duration // credentials' life at retrieval
		wantLife time.Duration // 0 means unavailable
	}{
		{"plenty left", 0, time.Hour, 10 * time.Minute},
		{"exactly expiry plus margin", 0, 11 * time.Minute, 10 * time.Minute},
		{"just under expiry plus margin", 0,
			11*time.Minute - time.Second, 10*time.Minute - time.Second},
		{"exactly at floor plus margin", 0, 3 * time.Minute, 2 * time.Minute},
		{"one second under the floor", 0,
			3*time.Minute - time.Second, 0},
		{"exactly at the margin", 0, time.Minute, 0},
		{"already expired", 0, -time.Second, 0},
		{"fraction of a second", 700 * time.Millisecond,
			5*time.Minute + 500*time.Millisecond, 4*time.Minute + time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: base.Add(tc.offset)}
			p := &fakeProvider{clock: clock, life: tc.left}
			s := newSessionSigner(t, testConfig(clock), p)

			got, err := s.Presign(context.Background(), "org/m/f.bin", "f.bin")
			if tc.wantLife == 0 {
				var ue *UnavailableError
				if !errors.As(err, &ue) {
					t.Fatalf("Presign() error = %v, want *UnavailableError", err)
				}
				if ue.RetryAfter < time.Second {
					t.Errorf("RetryAfter = %v, want at least 1s", ue.RetryAfter)
				}
				return
			}
			if err != nil {
				t.Fatalf("Presign() error = %v", err)
			}
			at := clock.Now().Truncate(time.Second)
			if life := got.Expires.Sub(at); life != tc.wantLife {
				t.Errorf("Expires - signing time = %v, want %v", life, tc.wantLife)
			}
			_, expires := urlParams(t, got.URL)
			if want := int(tc.wantLife / time.Second); expires != want {
				t.Errorf("X-Amz-Expires = %d, want %d", expires, want)
			}
			credsExpire := base.Add(tc.offset).Add(tc.left)
			if limit := credsExpire.Add(-time.Minute); got.Expires.After(limit) {
				t.Errorf("Expires = %v, after credentials expiry %v less margin",
					got.Expires, credsExpire)
			}
		})
	}
}

func TestPresignStaticCredentials(t *testing.T) {
	clock := &fakeClock{t: base}
	static := aws.CredentialsProviderFunc(func(context.Context) (
		aws.Credentials, error,
	) {
		return aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "s"}, nil
	})
	s := newSessionSigner(t, testConfig(clock), static)
	clock.Advance(1000 * time.Hour)
	got, err := s.Presign(context.Background(), "k", "k")
	if err != nil {
		t.Fatalf("Presign() error = %v", err)
	}
	if want := clock.Now().Add(10 * time.Minute); !got.Expires.Equal(want) {
		t.Errorf("Expires = %v, want %v", got.Expires, want)
	}
	if err := s.Status(); err != nil {
		t.Errorf("Status() = %v, want nil", err)
	}
}

func TestPresignRefreshesFirst(t *testing.T) {
	clock := &fakeClock{t: base}
	p := &fakeProvider{clock: clock, life: time.Hour}
	s := newSessionSigner(t, testConfig(clock), p)
	ctx := context.Background()

	first, err := s.Presign(ctx, "k", "k")
	if err != nil {
		t.Fatalf("Presign() error = %v", err)
	}
	if akid, _ := urlParams(t, first.URL); akid != "AKID1" {
		t.Fatalf("first URL signed by %s, want AKID1", akid)
	}

	// Exactly expiry plus margin left: no refresh yet.
	clock.Advance(49 * time.Minute)
	if _, err := s.Presign(ctx, "k", "k"); err != nil {
		t.Fatalf("Presign() error = %v", err)
	}
	if n := p.callCount(); n != 1 {
		t.Fatalf("retrievals = %d at expiry plus margin, want 1", n)
	}

	// One second less: refresh before signing.
	clock.Advance(time.Second)
	got, err := s.Presign(ctx, "k", "k")
	if err != nil {
		t.Fatalf("Presign() error = %v", err)
	}
	if akid, _ := urlParams(t, got.URL); akid != "AKID2" {
		t.Errorf("URL after the due time signed by %s, want AKID2", akid)
	}
	if want := clock.Now().Add(10 * time.Minute); !got.Expires.Equal(want) {
		t.Errorf("Expires = %v, want the full expiry %v", got.Expires, want)
	}
}

func TestPresignShortSessions(t *testing.T) {
	// Sessions shorter than expiry plus margin are renewed at most once
	// per MinRefreshInterval, and every URL is capped.
	clock := &fakeClock{t: base}
	p := &fakeProvider{clock: clock, life: 8 * time.Minute}
	s := newSessionSigner(t, testConfig(clock), p)
	ctx := context.Background()

	for i := range 5 {
		got, err := s.Presign(ctx, "k", "k")
		if err != nil {
			t.Fatalf("Presign() #%d error = %v", i, err)
		}
		if max := clock.Now().Add(7 * time.Minute); got.Expires.After(max) {
			t.Errorf("Presign() #%d Expires = %v, after %v", i,
				got.Expires, max)
		}
		clock.Advance(20 * time.Second)
	}
	// Five URLs over 80 s: the first session plus one renewal at 60 s.
	if n := p.callCount(); n != 2 {
		t.Errorf("retrievals = %d, want 2", n)
	}
}

func TestPresignOutage(t *testing.T) {
	clock := &fakeClock{t: base}
	p := &fakeProvider{clock: clock, life: 20 * time.Minute}
	cfg := testConfig(clock)
	logs := &logRecorder{}
	cfg.Logger = slog.New(logs)
	s := newSessionSigner(t, cfg, p)
	ctx := context.Background()

	if _, err := s.Presign(ctx, "k", "k"); err != nil {
		t.Fatalf("Presign() error = %v", err)
	}

	// Due for a refresh, and STS fails: URLs are capped.
	p.set(0, errors.New("sts down"))
	clock.Advance(10 * time.Minute)
	for i := range 3 {
		got, err := s.Presign(ctx, "k", "k")
		if err != nil {
			t.Fatalf("Presign() #%d during outage error = %v", i, err)
		}
		waitIdle(s)
		credsExpire := base.Add(20 * time.Minute)
		if want := credsExpire.Add(-time.Minute); !got.Expires.Equal(want) {
			t.Errorf("Presign() #%d Expires = %v, want %v", i,
				got.Expires, want)
		}
	}
	// One failed retrieval; the others waited for the backoff.
	if n := p.callCount(); n != 2 {
		t.Errorf("retrievals = %d, want 2", n)
	}
	if err := s.Status(); err != nil {
		t.Errorf("Status() with %v left = %v, want nil", 10*time.Minute, err)
	}

	// At margin plus floor the URL still gets exactly the floor.
	clock.Advance(7 * time.Minute)
	got, err := s.Presign(ctx, "k", "k")
	if err != nil {
		t.Fatalf("Presign() at the floor error = %v", err)
	}
	waitIdle(s)
	if life := got.Expires.Sub(clock.Now()); life != 2*time.Minute {
		t.Errorf("life at the floor = %v, want 2m", life)
	}

	// Below the floor: 503 material, and not ready.
	clock.Advance(time.Second)
	for i := range 3 {
		_, err = s.Presign(ctx, "k", "k")
		waitIdle(s)
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("Presign() #%d below the floor error = %v, "+
				"want *UnavailableError", i, err)
		}
		if !strings.Contains(ue.Reason, "sts down") {
			t.Errorf("Reason = %q, want the refresh error", ue.Reason)
		}
	}
	if err := s.Status(); err == nil {
		t.Errorf("Status() below the floor = nil, want an error")
	}

	// STS works again, so the next retrieval recovers.
	p.set(time.Hour, nil)
	clock.Advance(cfg.RetryMax)
	got, err = s.Presign(ctx, "k", "k")
	if err != nil {
		t.Fatalf("Presign() after recovery error = %v", err)
	}
	if life := got.Expires.Sub(clock.Now()); life != 10*time.Minute {
		t.Errorf("life after recovery = %v, want 10m", life)
	}
	if err := s.Status(); err != nil {
		t.Errorf("Status() after recovery = %v, want nil", err)
	}

	want := []string{"INFO", "WARN", "ERROR", "INFO"}
	if got := logs.levels(); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("log levels = %v, want %v (one per change of state)",
			got, want)
	}
}

func TestBackoff(t *testing.T) {
	clock := &fakeClock{t: base}
	p := &fakeProvider{clock: clock, err: errors.New("no route")}
	s := newSessionSigner(t, testConfig(clock), p)
	// RetryMin 10s doubling, capped at RetryMax 40s.
	want := []time.Duration{10, 20, 40, 40}
	for i, w := range want {
		_, err := s.Presign(context.Background(), "k", "k")
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("Presign() #%d error = %v, want *UnavailableError", i, err)
		}
		if ue.RetryAfter != w*time.Second {
			t.Errorf("RetryAfter after %d failures = %v, want %v", i+1,
				ue.RetryAfter, w*time.Second)
		}
		if !strings.Contains(ue.Reason, "no route") {
			t.Errorf("Reason = %q, want the retrieval error", ue.Reason)
		}
		clock.Advance(ue.RetryAfter)
	}
	if n := p.callCount(); n != len(want) {
		t.Errorf("retrievals = %d, want %d", n, len(want))
	}
}

func TestStatusBeforeCredentials(t *testing.T) {
	clock := &fakeClock{t: base}
	p := &fakeProvider{clock: clock, life: time.Hour}
	s := newSessionSigner(t, testConfig(clock), p)
	err := s.Status()
	if err == nil || !strings.Contains(err.Error(), "no signing credentials") {
		t.Errorf("Status() before any retrieval = %v, want no credentials", err)
	}
	if n := p.callCount(); n != 0 {
		t.Errorf("Status() made %d retrievals, want 0", n)
	}
}

func TestRetrievalTimeout(t *testing.T) {
	clock := &fakeClock{t: base}
	hang := aws.CredentialsProviderFunc(func(ctx context.Context) (
		aws.Credentials, error,
	) {
		<-ctx.Done()
		return aws.Credentials{}, ctx.Err()
	})
	cfg := testConfig(clock)
	cfg.RefreshTimeout = 20 * time.Millisecond
	s := newSessionSigner(t, cfg, hang)

	_, err := s.Retrieve(context.Background())
	var ue *UnavailableError
	if !errors.As(err, &ue) {
		t.Fatalf("Retrieve() error = %v, want *UnavailableError", err)
	}
	if !strings.Contains(ue.Reason, "deadline exceeded") {
		t.Errorf("Reason = %q, want the deadline", ue.Reason)
	}
	if err := s.Status(); err == nil {
		t.Errorf("Status() after a timed-out retrieval = nil, want an error")
	}
}

func TestRetrieveInvalidatesCache(t *testing.T) {
	// aws.CredentialsCache checks expiry against the real clock.
	clock := &fakeClock{t: time.Now()}
	p := &fakeProvider{clock: clock, life: 30 * time.Minute}
	cache := aws.NewCredentialsCache(p)
	s := newSessionSigner(t, testConfig(clock), cache)
	ctx := context.Background()
	if _, err := s.Retrieve(ctx); err != nil {
		t.Fatalf("Retrieve() error = %v", err)
	}
	clock.Advance(20 * time.Minute) // due: 10m left, expiry plus margin is 11m
	got, err := s.Retrieve(ctx)
	if err != nil {
		t.Fatalf("Retrieve() error = %v", err)
	}
	if got.AccessKeyID != "AKID2" {
		t.Errorf("second Retrieve() AccessKeyID = %s, want AKID2 from "+
			"a new retrieval past the cache", got.AccessKeyID)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Bucket: "models", Region: "r"}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // empty means valid
	}{
		{"zero value means defaults", func(*Config) {}, ""},
		{"minimum expiry", func(c *Config) { c.Expiry = time.Minute }, ""},
		{"maximum expiry", func(c *Config) { c.Expiry = MaxExpiry }, ""},
		{"expiry below minimum", func(c *Config) { c.Expiry = 59 * time.Second },
			"--url-expiry"},
		{"expiry above maximum",
			func(c *Config) { c.Expiry = MaxExpiry + time.Second },
			"--url-expiry"},
		{"negative expiry", func(c *Config) { c.Expiry = -time.Hour },
			"--url-expiry"},
		{"negative margin", func(c *Config) { c.Margin = -1 },
			"--credentials-margin"},
		{"floor above expiry", func(c *Config) {
			c.Expiry, c.Floor = time.Minute, 2*time.Minute
		}, "--url-floor"},
		{"missing bucket", func(c *Config) { c.Bucket = "" }, "--bucket"},
		{"invalid bucket", func(c *Config) { c.Bucket = "Bad_Bucket!" },
			`--bucket "Bad_Bucket!" is not a bucket name`},
		{"invalid region", func(c *Config) { c.Region = "EU_WEST" },
			`--region "EU_WEST" is not a region name`},
		{"endpoint without scheme",
			func(c *Config) { c.PublicEndpoint = "garbage" },
			`--s3-public-endpoint "garbage" is invalid`},
		{"bucket not a DNS label", func(c *Config) { c.Bucket = "b" },
			"set --s3-path-style"},
		{"short bucket in the path", func(c *Config) {
			c.Bucket, c.PathStyle = "b", true
		}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.change(&c)
			err := c.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate() = %v, want an error naming %s", err,
					tc.wantErr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name      string
		in        Config
		wantFloor time.Duration
	}{
		{"zero value", Config{}, DefaultFloor},
		{"short expiry", Config{Expiry: 2 * time.Minute}, 2 * time.Minute},
		{"fractional floor", Config{Floor: 1500 * time.Millisecond},
			2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.in
			c.setDefaults()
			if c.Floor != tc.wantFloor {
				t.Errorf("Floor = %v, want %v", c.Floor, tc.wantFloor)
			}
			if tc.in.Expiry == 0 && c.Expiry != DefaultExpiry {
				t.Errorf("Expiry = %v, want %v", c.Expiry, DefaultExpiry)
			}
		})
	}
}
