package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"golang.org/x/term"

	"github.com/modelgate/modelgate/presign"
	"github.com/modelgate/modelgate/publish"
)

// publishOptions holds every setting of "modelgate publish".
type publishOptions struct {
	bucket string
	root   string
	aws    presign.AWSConfig
	cfg    publish.Config
}

// register defines the publish flags on fs.
func (o *publishOptions) register(fs *flag.FlagSet) {
	registerBucketFlags(fs, &o.bucket, &o.root, &o.aws)
	fs.StringVar(&o.cfg.Model, "model", "",
		"model id ORG/NAME to publish as (required)")
	o.cfg.PartSize = publish.DefaultPartSize
	fs.Var((*byteSize)(&o.cfg.PartSize), "part-size",
		"multipart part size, such as 16MiB; at least 5MiB")
	o.cfg.Threshold = publish.DefaultThreshold
	fs.Var((*byteSize)(&o.cfg.Threshold), "multipart-threshold",
		"file size from which uploads are multipart, such as 32MiB")
	fs.IntVar(&o.cfg.Concurrency, "concurrency",
		publish.DefaultConcurrency,
		"parts of one file uploaded at the same time")
	fs.IntVar(&o.cfg.ParallelFiles, "parallel-files",
		publish.DefaultParallelFiles,
		"files hashed or uploaded at the same time")
	fs.BoolVar(&o.cfg.DryRun, "dry-run", false,
		"list what would be uploaded, skipped and deleted; write nothing")
	fs.BoolVar(&o.cfg.Delete, "delete", false,
		"delete remote files of the model that are missing from DIR")
}

// validate checks the settings before any network request.
func (o *publishOptions) validate(dir string) error {
	if o.bucket == "" {
		return errors.New("--bucket is required: the S3 bucket that " +
			"holds the models")
	}
	if o.cfg.Model == "" {
		return errors.New("--model is required: the model id ORG/NAME")
	}
	if o.cfg.Concurrency < 1 || o.cfg.ParallelFiles < 1 {
		return errors.New("--concurrency and --parallel-files must be " +
			"at least 1")
	}
	if o.cfg.PartSize < publish.MinPartSize || o.cfg.PartSize > 5<<30 {
		return fmt.Errorf("--part-size %s is outside the part sizes S3 "+
			"accepts, 5MiB to 5GiB", formatSize(o.cfg.PartSize))
	}
	if err := publish.ValidateModel(o.cfg.Model); err != nil {
		return fmt.Errorf("--model: %w", err)
	}
	if err := checkRoot(o.root); err != nil {
		return err
	}
	o.cfg.Bucket, o.cfg.Root, o.cfg.Dir = o.bucket, o.root, dir
	if err := o.cfg.Validate(); err != nil {
		return err
	}
	return o.aws.Validate()
}

// runPublish implements "modelgate publish".
func runPublish(args []string, stdout, stderr io.Writer,
	getenv func(string) string, environ []string,
) int {
	var o publishOptions
	fs := newFlagSet("publish DIR", "Upload the model folder DIR to the "+
		"bucket, with a manifest of each file's SHA-256. Needs "+
		"credentials that may write; the gateway's read-only role is "+
		"rejected before anything is uploaded.", stderr)
	o.register(fs)
	dirs, err := parseFlagsAndArgs(fs, args, getenv, 1)
	if err == nil && len(dirs) == 0 {
		err = errors.New("missing the folder to publish: modelgate " +
			"publish DIR --model ORG/NAME")
	}
	if err == nil {
		err = o.validate(dirs[0])
	}
	if err != nil {
		return exitCodeFor(stderr, "publish", err)
	}
	printUnknownEnv(stderr, fs, environ)

	ctx, stop := signal.NotifyContext(context.Background(),
		syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := publishDir(ctx, &o, stdout, stderr); err != nil {
		fmt.Fprintf(stderr, "modelgate publish: %v\n", err)
		return 1
	}
	return 0
}

// publishDir loads the credentials, runs the publish and prints its
// result.
func publishDir(ctx context.Context, o *publishOptions,
	stdout, stderr io.Writer,
) error {
	awsCfg, provider, err := presign.LoadAWS(ctx, o.aws)
	if err != nil {
		return err
	}
	if o.aws.RoleARN != "" {
		provider = aws.NewCredentialsCache(provider)
	}
	client := presign.NewS3Client(awsCfg, o.aws, provider)

	o.cfg.Logger = slog.New(slog.NewTextHandler(stderr, nil))
	o.cfg.Progress = newReporter(stderr)
	res, err := publish.Publish(ctx, client, o.cfg)
	if res != nil {
		printResult(stdout, &o.cfg, res)
	}
	return err
}

// newReporter draws progress bars when w is a terminal, and writes
// plain lines otherwise.
func newReporter(w io.Writer) publish.Reporter {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		width, _, err := term.GetSize(int(f.Fd()))
		if err != nil {
			width = 80
		}
		return publish.NewTerminalReporter(w, width, nil)
	}
	return publish.NewLogReporter(w)
}

// printResult prints the ignored folders, the plan in a dry run, and a
// summary.
func printResult(w io.Writer, cfg *publish.Config, res *publish.Result) {
	for _, ig := range res.Ignored {
		fmt.Fprintf(w, "ignore  %s (%s)\n", ig.Path, ig.Reason)
	}
	if cfg.DryRun {
		for _, c := range res.Changes {
			fmt.Fprintf(w, "%-7s %s (%s, %s)\n", c.Action, c.Path,
				publish.FormatBytes(c.Size), c.Reason)
		}
		fmt.Fprintf(w, "dry run of %s: %d to upload (%s), %d to skip, "+
			"%d to delete; nothing was written\n", cfg.Model,
			res.Uploaded, publish.FormatBytes(res.UploadedBytes),
			res.Skipped, res.Deleted)
		return
	}
	manifest := "manifest unchanged"
	if res.ManifestWritten {
		manifest = "manifest written"
	}
	fmt.Fprintf(w, "%s: uploaded %d files (%s), skipped %d, deleted "+
		"%d; %s\n", cfg.Model, res.Uploaded,
		publish.FormatBytes(res.UploadedBytes),
		res.Skipped, res.Deleted, manifest)
}

// byteSize is a flag value in bytes that accepts a unit: B, KB, MB, GB
// (powers of 1000) or KiB, MiB, GiB (powers of 1024).
type byteSize int64

var sizeUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1},
}

func (b *byteSize) Set(s string) error {
	num, factor := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if len(num) > len(u.suffix) &&
			strings.EqualFold(num[len(num)-len(u.suffix):], u.suffix) {
			num, factor = strings.TrimSpace(num[:len(num)-len(u.suffix)]),
				u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return errors.New("want a size in bytes or with a unit, such as " +
			"16MiB")
	}
	*b = byteSize(n * factor)
	return nil
}

func (b *byteSize) String() string {
	if b == nil {
		return "0"
	}
	return formatSize(int64(*b))
}

// formatSize formats n with the largest binary unit that divides it, so
// that the text parses back to n.
func formatSize(n int64) string {
	for i := 2; i >= 0; i-- { // GiB, MiB, KiB
		u := sizeUnits[i]
		if n >= u.factor && n%u.factor == 0 {
			return strconv.FormatInt(n/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
