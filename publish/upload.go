package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	tm "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
)

// ErrChanged is returned when a local file changed while it was hashed
// or uploaded. The upload is abandoned before S3 completes it, so no
// object is left with content other than its recorded SHA-256.
var ErrChanged = errors.New("file changed during the run; run publish " +
	"again once it is stable")

// abortTimeout bounds the request that abandons a multipart upload
// after a failure, which may happen after ctx is done.
const abortTimeout = 30 * time.Second

// newTransfer returns the transfer client for the run's settings.
func newTransfer(api S3, cfg *Config) *tm.Client {
	return tm.New(api, func(o *tm.Options) {
		o.PartSizeBytes = cfg.PartSize
		o.MultipartUploadThreshold = cfg.Threshold
		o.Concurrency = cfg.Concurrency
		o.FailTimeout = abortTimeout
	})
}

// upload sends one file and returns its object's ETag without quotes.
// The content must still hash to f.sum, else the upload fails with
// ErrChanged before S3 stores it.
func (p *run) upload(ctx context.Context, f *localFile) (string, error) {
	r, err := os.Open(f.abs)
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", f.path, err)
	}
	defer r.Close()

	in := &tm.UploadObjectInput{
		Bucket:        aws.String(p.cfg.Bucket),
		Key:           aws.String(p.cfg.prefix() + f.path),
		Body:          newVerifyingReader(r, f),
		ContentLength: aws.Int64(f.size),
		Metadata: map[string]string{
			metaSHA256: hex.EncodeToString(f.sum[:])},
	}
	// A single PutObject carries the SHA-256 for S3 to check. The
	// parts of a multipart upload carry the SDK's default CRC32.
	if f.size < p.cfg.Threshold {
		in.ChecksumAlgorithm = tmtypes.ChecksumAlgorithmSha256
		in.ChecksumSHA256 = aws.String(
			base64.StdEncoding.EncodeToString(f.sum[:]))
	}

	listener := &uploadListener{report: p.cfg.Progress, path: f.path}
	p.cfg.Progress.Update(f.path, 0, f.size)
	out, err := p.transfer.UploadObject(ctx, in, func(o *tm.Options) {
		o.ObjectProgressListeners.Register(listener)
	})
	p.cfg.Progress.Done(f.path, err)
	if err != nil {
		return "", fmt.Errorf("upload %s: %w", f.path, err)
	}
	return strings.Trim(aws.ToString(out.ETag), `"`), nil
}

// uploadListener forwards the bytes S3 has acknowledged for one file.
type uploadListener struct {
	report Reporter
	path   string
}

func (l *uploadListener) OnObjectBytesTransferred(_ context.Context,
	e *tm.ObjectBytesTransferredEvent,
) {
	l.report.Update(l.path, e.BytesTransferred, e.TotalBytes)
}

// verifyingReader reads a file whose size and SHA-256 are known, and
// ends with ErrChanged instead of io.EOF when the content differs. The
// transfer client then abandons the upload instead of completing it.
type verifyingReader struct {
	r    io.Reader
	h    hash.Hash
	path string
	n    int64
	size int64
	want [32]byte
}

func newVerifyingReader(r io.Reader, f *localFile) *verifyingReader {
	return &verifyingReader{r: r, h: sha256.New(), path: f.path,
		size: f.size, want: f.sum}
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.r.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		return n, fmt.Errorf("%s: %w", v.path, ErrChanged)
	}
	if err == io.EOF {
		var sum [32]byte
		if v.n != v.size || !bytes.Equal(v.h.Sum(sum[:0]), v.want[:]) {
			return n, fmt.Errorf("%s: %w", v.path, ErrChanged)
		}
	}
	return n, err
}

// progressWriter reports bytes written through it as progress of one
// file. It fails once ctx is done, which stops a copy early.
type progressWriter struct {
	ctx    context.Context
	report Reporter
	path   string
	size   int64
	done   int64
}

func (w *progressWriter) Write(p []byte) (int, error) {
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	w.done += int64(len(p))
	w.report.Update(w.path, w.done, w.size)
	return len(p), nil
}
