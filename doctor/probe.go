package doctor

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// Access is the outcome of a write or delete probe.
type Access int

const (
	// AccessUnknown means the probe could not tell, for example because
	// S3 was unreachable or answered an unexpected error.
	AccessUnknown Access = iota
	// AccessDenied means S3 refused the request as not authorised.
	AccessDenied
	// AccessAllowed means S3 authorised the request.
	AccessAllowed
)

func (a Access) String() string {
	switch a {
	case AccessDenied:
		return "denied"
	case AccessAllowed:
		return "allowed"
	}
	return "unknown"
}

// impossibleETag is an entity tag that no object has: the probes send it
// in If-Match, so that S3 refuses a request it has authorised instead of
// carrying it out.
const impossibleETag = `"00000000000000000000000000000000"`

// probeBody is the body of the write probe. Its Content-MD5 is sent
// for other bytes, so S3 rejects the body after authorising the request.
var probeBody = []byte("modelgate write probe\n")

// Probe is the result of a write or delete probe.
type Probe struct {
	// Operation is the S3 operation probed: PutObject or DeleteObject.
	Operation string
	// Key is the object key the probe addressed.
	Key string
	// Access is the probe's finding.
	Access Access
	// Code is S3's error code, or "" when S3 accepted the request.
	Code string
	// Err is the error of the request; nil when S3 accepted it.
	Err error
}

// PutAPI is the part of the S3 client that ProbeWrite uses.
type PutAPI interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput,
		opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

// ProbeKey returns a new random object key under root for probes. No
// object has that key, so the probes never touch an existing object.
func ProbeKey(root string) string {
	b := make([]byte, 8)
	rand.Read(b)
	return root + "modelgate-write-probe/" + hex.EncodeToString(b)
}

// ProbeWrite finds out whether the client may write to bucket, without
// writing. It sends PutObject for key, which must not exist, with two
// guards: If-Match with an entity tag no object has, and a Content-MD5
// that does not match the body. S3 checks authorisation first, so
// AccessDenied or AllAccessDisabled means writes are denied. The codes
// PreconditionFailed, NoSuchKey, BadDigest, InvalidDigest and
// XAmzContentChecksumMismatch mean the request was authorised and then
// refused. If a server
// ignored both guards, the probe object would be created and Access is
// AccessAllowed with a nil Err.
func ProbeWrite(ctx context.Context, client PutAPI, bucket,
	key string,
) Probe {
	wrong := md5.Sum([]byte("not the body"))
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(probeBody),
		ContentLength: aws.Int64(int64(len(probeBody))),
		ContentMD5:    aws.String(base64.StdEncoding.EncodeToString(wrong[:])),
		IfMatch:       aws.String(impossibleETag),
	})
	return classify("PutObject", key, err, "PreconditionFailed",
		"NoSuchKey", "BadDigest", "InvalidDigest",
		"XAmzContentChecksumMismatch")
}

// ProbeDelete finds out whether the client may delete from bucket,
// without deleting. It sends DeleteObject for key, which must not exist,
// with If-Match to an entity tag no object has. AccessDenied means
// deletes are denied; PreconditionFailed or NoSuchKey mean the request
// was authorised. A server that ignores If-Match deletes the missing
// key, which changes nothing in an unversioned bucket but adds a delete
// marker in a versioned one; Access is then AccessAllowed with a nil
// Err.
func ProbeDelete(ctx context.Context, client *s3.Client, bucket,
	key string,
) Probe {
	_, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket:  aws.String(bucket),
		Key:     aws.String(key),
		IfMatch: aws.String(impossibleETag),
	})
	return classify("DeleteObject", key, err, "PreconditionFailed",
		"NoSuchKey")
}

// classify maps the error of a probe request to an Access. allowed
// lists the error codes that S3 returns only after authorising the
// request.
func classify(op, key string, err error, allowed ...string) Probe {
	p := Probe{Operation: op, Key: key, Err: err}
	if err == nil {
		p.Access = AccessAllowed
		return p
	}
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) {
		return p
	}
	p.Code = apiErr.ErrorCode()
	switch {
	case p.Code == "AccessDenied" || p.Code == "AllAccessDisabled":
		p.Access = AccessDenied
	case contains(allowed, p.Code):
		p.Access = AccessAllowed
	}
	return p
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// String describes the probe's outcome in one sentence.
func (p Probe) String() string {
	switch {
	case p.Access == AccessDenied:
		return fmt.Sprintf("%s denied (%s)", p.Operation, p.Code)
	case p.Access == AccessAllowed && p.Err == nil:
		return fmt.Sprintf("%s succeeded: the server ignored the probe's "+
			"guards and may have changed key %q", p.Operation, p.Key)
	case p.Access == AccessAllowed:
		return fmt.Sprintf("%s allowed: S3 authorised the request and "+
			"then refused it with %s, so nothing changed",
			p.Operation, p.Code)
	}
	return fmt.Sprintf("%s probe inconclusive: %v", p.Operation, p.Err)
}
