package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ErrRepeatedToken is returned when S3 hands back a continuation token it
// already returned during the same listing, which would otherwise loop.
var ErrRepeatedToken = errors.New("catalog: S3 repeated a continuation token")

// ErrNotLoaded is returned by [Catalog.Snapshot] when no listing has
// succeeded yet and the one it waited for failed.
var ErrNotLoaded = errors.New("catalog: not loaded yet")

// ListAPI is the S3 listing call.
type ListAPI interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input,
		opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// API is the part of the S3 client that the catalog uses: it lists the
// bucket and reads the models' manifests.
type API interface {
	ListAPI
	GetObject(ctx context.Context, in *s3.GetObjectInput,
		opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// Config sets up a [Catalog]. Zero fields take the documented defaults.
type Config struct {
	// Bucket is the bucket to list. It is required.
	Bucket string

	// Root is a key prefix that holds the models. Empty means the whole
	// bucket; a missing trailing slash is added.
	Root string

	// Interval is the time between background refreshes. Zero means
	// 5 minutes.
	Interval time.Duration

	// ListTimeout bounds one complete listing. Zero means 2 minutes.
	ListTimeout time.Duration

	// PageSize is the MaxKeys of each ListObjectsV2 request. Zero means
	// 1000, the S3 maximum.
	PageSize int32

	// Logger receives refresh failures and recoveries. Nil discards them.
	Logger *slog.Logger

	// Now returns the current time. Nil means time.Now.
	Now func() time.Time

	// OnList, when set, is called after each ListObjectsV2 request with
	// its error.
	OnList func(err error)

	// OnGet, when set, is called after each GetObject request for a
	// manifest with its error.
	OnGet func(err error)

	// OnRefresh, when set, is called after each complete or failed
	// listing. On failure the snapshot is the previous one, or nil.
	OnRefresh func(s *Snapshot, err error)
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("bucket is required")
	case c.Interval < 0:
		return fmt.Errorf("refresh interval %v is negative", c.Interval)
	case c.ListTimeout < 0:
		return fmt.Errorf("list timeout %v is negative", c.ListTimeout)
	case c.PageSize < 0 || c.PageSize > 1000:
		return fmt.Errorf("page size %d is outside 1..1000", c.PageSize)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Root != "" && !strings.HasSuffix(c.Root, "/") {
		c.Root += "/"
	}
	if c.Interval == 0 {
		c.Interval = 5 * time.Minute
	}
	if c.ListTimeout == 0 {
		c.ListTimeout = 2 * time.Minute
	}
	if c.PageSize == 0 {
		c.PageSize = 1000
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Catalog is the refreshed index of a bucket. It is safe for concurrent
// use.
type Catalog struct {
	cfg  Config
	api  API
	snap atomic.Pointer[Snapshot]

	mu      sync.Mutex
	pending *refresh // the listing in progress, if any
	lastErr string   // errorKey of the last refresh error, or ""

	// manifests are the parsed manifests by model id. Only the refresh
	// in progress reads or replaces the map, and c.mu orders refreshes.
	manifests map[string]*manifestIndex

	// unverified is the number of files without a SHA-256 that the
	// last refresh logged for each model, so that a model's warning is
	// logged again only when its number changes. c.mu orders its users
	// as it does for manifests.
	unverified map[string]int
}

// refresh is one listing that several callers may wait for.
type refresh struct {
	done chan struct{}
	snap *Snapshot
	err  error
}

// New returns a catalog of the bucket in cfg, listed and read through
// api. It makes no request until the first call to Snapshot, Refresh or
// Run.
func New(api API, cfg Config) (*Catalog, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("catalog: %w", err)
	}
	cfg.setDefaults()
	return &Catalog{cfg: cfg, api: api}, nil
}

// Root returns the root prefix, with its trailing slash.
func (c *Catalog) Root() string { return c.cfg.Root }

// Current returns the last good snapshot, or nil before the first
// successful listing. It never blocks.
func (c *Catalog) Current() *Snapshot { return c.snap.Load() }

// Snapshot returns the last good snapshot. Before the first successful
// listing it starts one, or joins the one in progress, and waits for it.
func (c *Catalog) Snapshot(ctx context.Context) (*Snapshot, error) {
	if s := c.snap.Load(); s != nil {
		return s, nil
	}
	s, err := c.Refresh(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotLoaded, err)
	}
	return s, nil
}

// Refresh lists the bucket and publishes the result. Calls made while a
// listing is in progress wait for that listing instead of starting
// another. A failed listing leaves the current snapshot in place.
func (c *Catalog) Refresh(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	r := c.pending
	if r == nil {
		r = &refresh{done: make(chan struct{})}
		c.pending = r
		go c.run(r)
	}
	c.mu.Unlock()

	select {
	case <-r.done:
		return r.snap, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run performs one listing for everyone waiting on r. It does not use a
// caller's context, so one caller giving up does not fail the others.
func (c *Catalog) run(r *refresh) {
	ctx, cancel := context.WithTimeout(context.Background(),
		c.cfg.ListTimeout)
	defer cancel()

	s, err := c.list(ctx)
	if err == nil {
		c.snap.Store(s)
	}
	c.report(s, err)

	c.mu.Lock()
	c.pending = nil
	c.mu.Unlock()

	r.snap, r.err = s, err
	close(r.done)
}

// report logs a failure once per cause, comparing causes by errorKey,
// logs the recovery, and calls the OnRefresh hook.
func (c *Catalog) report(s *Snapshot, err error) {
	c.mu.Lock()
	prev := c.lastErr
	key := ""
	if err != nil {
		key = errorKey(err)
	}
	c.lastErr = key
	c.mu.Unlock()

	switch {
	case err != nil && key != prev && c.snap.Load() == nil:
		c.cfg.Logger.Warn("catalog listing failed and no catalog is "+
			"loaded yet; requests that need the catalog get 503 until "+
			"a listing succeeds", "bucket", c.cfg.Bucket, "err", err)
	case err != nil && key != prev:
		c.cfg.Logger.Warn("catalog refresh failed; serving the last "+
			"good catalog", "bucket", c.cfg.Bucket, "err", err)
	case err == nil && prev != "":
		c.cfg.Logger.Info("catalog refresh recovered",
			"bucket", c.cfg.Bucket, "models", len(s.models),
			"files", s.Objects)
	case err == nil:
		c.cfg.Logger.Debug("catalog refreshed", "models", len(s.models),
			"files", s.Objects)
	}

	if c.cfg.OnRefresh != nil {
		if err != nil {
			s = c.snap.Load()
		}
		c.cfg.OnRefresh(s, err)
	}
}

// list reads every page of the listing and builds a snapshot from it.
func (c *Catalog) list(ctx context.Context) (*Snapshot, error) {
	b := newBuilder(c.cfg.Root)
	seen := make(map[string]bool)
	in := &s3.ListObjectsV2Input{
		Bucket:  aws.String(c.cfg.Bucket),
		MaxKeys: aws.Int32(c.cfg.PageSize),
	}
	if c.cfg.Root != "" {
		in.Prefix = aws.String(c.cfg.Root)
	}

	for {
		out, err := c.api.ListObjectsV2(ctx, in)
		if c.cfg.OnList != nil {
			c.cfg.OnList(err)
		}
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w",
				c.cfg.Bucket, c.cfg.Root, err)
		}

		for _, o := range out.Contents {
			b.add(Object{
				Key:      aws.ToString(o.Key),
				Size:     aws.ToInt64(o.Size),
				ETag:     aws.ToString(o.ETag),
				Modified: aws.ToTime(o.LastModified),
			})
		}

		token := aws.ToString(out.NextContinuationToken)
		if !aws.ToBool(out.IsTruncated) || token == "" {
			break
		}
		if seen[token] {
			return nil, ErrRepeatedToken
		}
		seen[token] = true
		in.ContinuationToken = aws.String(token)
	}
	s := b.snapshot(c.cfg.Now())
	c.attachManifests(ctx, s, b.manifests)
	return s, nil
}

// Run refreshes the catalog until ctx is done: at once, then every
// Interval. Until the first listing succeeds it retries with exponential
// backoff from one second up to Interval.
func (c *Catalog) Run(ctx context.Context) {
	backoff := time.Second
	for {
		_, err := c.Refresh(ctx)
		wait := c.cfg.Interval
		if err != nil && c.Current() == nil {
			wait = min(backoff, c.cfg.Interval)
			backoff *= 2
		}

		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}
