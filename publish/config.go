package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modelgate/modelgate/catalog"
)

// MinPartSize is the smallest multipart part S3 accepts, except for the
// last part of an upload.
const MinPartSize = 5 << 20

// Defaults of [Config]. With them, one file's upload holds about
// (Concurrency+1) × PartSize in memory: 80 MiB.
const (
	DefaultPartSize      = 16 << 20
	DefaultThreshold     = 32 << 20
	DefaultConcurrency   = 4
	DefaultParallelFiles = 2
)

// S3 is the part of the S3 client that publishing uses.
type S3 interface {
	transfermanager.S3APIClient
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput,
		opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

// Config sets up one [Publish] run. Zero fields take the documented
// defaults.
type Config struct {
	// Bucket is the bucket to publish to. It is required.
	Bucket string

	// Root is the key prefix under which models live, as the gateway's
	// root. A missing trailing slash is added.
	Root string

	// Model is the model id, "org/name". It is required.
	Model string

	// Dir is the local folder to publish. It is required.
	Dir string

	// PartSize is the size of a multipart part in bytes. Zero means
	// DefaultPartSize; it must be at least MinPartSize.
	PartSize int64

	// Threshold is the size in bytes from which a file goes up as a
	// multipart upload. Zero means DefaultThreshold.
	Threshold int64

	// Concurrency is the number of parts of one file uploaded at the
	// same time. Zero means DefaultConcurrency.
	Concurrency int

	// ParallelFiles is the number of files hashed or uploaded at the
	// same time. Zero means DefaultParallelFiles.
	ParallelFiles int

	// DryRun plans the run and writes nothing.
	DryRun bool

	// Delete removes remote files of the model that are missing from
	// Dir. When false they stay, and the manifest keeps their entries
	// while their objects are unchanged.
	Delete bool

	// Progress receives hashing and upload progress. Nil reports
	// nothing.
	Progress Reporter

	// Logger receives warnings and a line per deleted file. Nil
	// discards them.
	Logger *slog.Logger

	// Now returns the current time, for the manifest's timestamp. Nil
	// means time.Now.
	Now func() time.Time
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	switch {
	case c.Bucket == "":
		return errors.New("bucket is required")
	case c.Dir == "":
		return errors.New("a folder to publish is required")
	case c.PartSize != 0 && c.PartSize < MinPartSize:
		return fmt.Errorf("part size %d is below the S3 minimum of "+
			"%d bytes (5 MiB)", c.PartSize, MinPartSize)
	case c.Threshold < 0:
		return fmt.Errorf("multipart threshold %d is negative",
			c.Threshold)
	case c.Concurrency < 0 || c.ParallelFiles < 0:
		return errors.New("concurrency and parallel files must not " +
			"be negative")
	}
	return ValidateModel(c.Model)
}

// ValidateModel returns an error unless id is "org/name" with two valid
// segments and is not reserved (see catalog.Reserved), as the gateway
// requires of a model id.
func ValidateModel(id string) error {
	org, name, ok := strings.Cut(id, "/")
	if !ok || !catalog.ValidSegment(org) || !catalog.ValidSegment(name) {
		return fmt.Errorf("model %q is not ORG/NAME: two non-empty "+
			"segments other than . and .., without backslashes or "+
			"control characters", id)
	}
	if catalog.Reserved(id) {
		return fmt.Errorf("model %q is reserved: the gateway's own routes "+
			"use the paths /%s/... and /%s/..., so it could not serve "+
			"this model; choose another ORG/NAME", id,
			catalog.ReservedOrg, catalog.ReservedModel)
	}
	return nil
}

func (c *Config) setDefaults() {
	if c.Root != "" && !strings.HasSuffix(c.Root, "/") {
		c.Root += "/"
	}
	if c.PartSize == 0 {
		c.PartSize = DefaultPartSize
	}
	if c.Threshold == 0 {
		c.Threshold = DefaultThreshold
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.ParallelFiles == 0 {
		c.ParallelFiles = DefaultParallelFiles
	}
	if c.Progress == nil {
		c.Progress = nopReporter{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// prefix returns the key prefix of the model's objects.
func (c *Config) prefix() string { return c.Root + c.Model + "/" }
