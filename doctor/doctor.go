// Package doctor checks that the gateway's credentials and bucket are
// set up the way modelgate needs them. It checks the identity in use,
// the role session, the bucket's region, listing, reading through a
// pre-signed URL, the clock, default encryption, and that writes and
// deletes are denied. The write and delete checks prove denial without changing
// anything in the bucket (see ProbeWrite and ProbeDelete).
package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/modelgate/modelgate/presign"
)

// Status is the outcome of one check.
type Status int

const (
	// Pass means the check holds.
	Pass Status = iota
	// Warn means the gateway works, but something deserves attention or
	// could not be verified.
	Warn
	// Fail means the gateway will not work as intended.
	Fail
)

func (s Status) String() string {
	switch s {
	case Pass:
		return "PASS"
	case Warn:
		return "WARN"
	}
	return "FAIL"
}

// Result is the outcome of one check.
type Result struct {
	// Check names the check, such as "identity".
	Check string
	// Status is the outcome.
	Status Status
	// Detail describes the finding.
	Detail string
	// Fix is the change to make, or empty when Status is Pass.
	Fix string
}

// String formats r as one line.
func (r Result) String() string {
	line := fmt.Sprintf("%s %-11s %s", r.Status, r.Check, r.Detail)
	if r.Fix != "" {
		line += "; fix: " + r.Fix
	}
	return line
}

// OK reports whether no result failed. Warnings do not count.
func OK(results []Result) bool {
	for _, r := range results {
		if r.Status == Fail {
			return false
		}
	}
	return true
}

// Presigner signs download URLs; *presign.Signer implements it.
type Presigner interface {
	Presign(ctx context.Context, key, filename string) (presign.URL, error)
}

// Config describes what the gateway is configured to use.
type Config struct {
	// Bucket is the bucket of the models. It is required.
	Bucket string
	// Root is the key prefix of the models; empty is the bucket root.
	Root string
	// Region is the configured region of the bucket.
	Region string
	// RoleARN is the role the gateway assumes; empty when it uses its
	// credentials directly.
	RoleARN string
	// Expiry and Margin are the URL settings, used to check that the
	// session is long enough for URLs to get their full lifetime.
	Expiry, Margin time.Duration
	// Now returns the current time. Nil means time.Now.
	Now func() time.Time
}

// Clients are the connections the checks use. All are required.
type Clients struct {
	// Credentials are the signing credentials, such as a
	// *presign.Signer.
	Credentials aws.CredentialsProvider
	// S3 signs with Credentials.
	S3 *s3.Client
	// STS signs with Credentials.
	STS *sts.Client
	// Signer pre-signs the URL of the read check.
	Signer Presigner
	// HTTP fetches the pre-signed URL. Nil means a client with a 30
	// second timeout.
	HTTP *http.Client
}

// run holds the state shared by the checks of one Run.
type run struct {
	cfg Config
	cl  Clients

	creds     aws.Credentials
	sample    *objectInfo // an object to read; nil when none was listed
	serverAt  time.Time   // S3's Date header of the listing
	localAt   time.Time   // local time in the middle of the listing
	sampleSSE string      // x-amz-server-side-encryption of the read
}

// objectInfo is an object found by the listing.
type objectInfo struct {
	key  string
	size int64
}

// Run performs every check in order and returns one result per check.
// When no credentials can be retrieved it returns that failure alone.
func Run(ctx context.Context, cfg Config, cl Clients) []Result {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cl.HTTP == nil {
		cl.HTTP = &http.Client{Timeout: 30 * time.Second}
	}
	r := &run{cfg: cfg, cl: cl}
	first := r.checkCredentials(ctx)
	if first.Status == Fail {
		return []Result{first}
	}
	results := []Result{first}
	for _, check := range []func(context.Context) Result{
		r.checkIdentity, r.checkSession, r.checkRegion, r.checkList,
		r.checkRead, r.checkClock, r.checkEncryption, r.checkWrite,
		r.checkDelete,
	} {
		results = append(results, check(ctx))
	}
	return results
}

// Print writes one line per result to w.
func Print(w io.Writer, results []Result) {
	for _, r := range results {
		fmt.Fprintln(w, r)
	}
}

func pass(check, detail string) Result {
	return Result{Check: check, Status: Pass, Detail: detail}
}

func warn(check, detail, fix string) Result {
	return Result{Check: check, Status: Warn, Detail: detail, Fix: fix}
}

func fail(check, detail, fix string) Result {
	return Result{Check: check, Status: Fail, Detail: detail, Fix: fix}
}

// bucketARN returns the ARN of the bucket, and objectsARN that of the
// objects under the root, for fix hints.
func (r *run) bucketARN() string { return "arn:aws:s3:::" + r.cfg.Bucket }

func (r *run) objectsARN() string {
	return r.bucketARN() + "/" + r.cfg.Root + "*"
}

// roleName returns the role name of an IAM role ARN.
func roleName(arn string) string {
	_, name, _ := strings.Cut(arn, ":role/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	return name
}
