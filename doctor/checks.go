package doctor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Clock skew limits. S3 rejects requests signed more than 15 minutes off
// its clock; a smaller skew already eats into the credentials margin.
const skewPass = 30 * time.Second

func (r *run) checkCredentials(ctx context.Context) Result {
	creds, err := r.cl.Credentials.Retrieve(ctx)
	if err != nil {
		return fail("credentials", "no credentials: "+err.Error(),
			"provide credentials through the default AWS chain "+
				"(environment, shared config, web identity or instance "+
				"role) that may assume --role-arn")
	}
	r.creds = creds
	return pass("credentials", fmt.Sprintf("access key %s from %s",
		maskKey(creds.AccessKeyID), creds.Source))
}

// maskKey shortens an access key ID to its first 4 and last 4
// characters. Access key IDs are not secret, but need not be shown in
// full.
func maskKey(id string) string {
	if len(id) <= 8 {
		return id
	}
	return id[:4] + "..." + id[len(id)-4:]
}

func (r *run) checkIdentity(ctx context.Context) Result {
	out, err := r.cl.STS.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fail("identity", "sts:GetCallerIdentity failed: "+
			err.Error(), "check --sts-endpoint and that the "+
			"credentials are valid")
	}
	arn := aws.ToString(out.Arn)
	detail := fmt.Sprintf("%s (account %s)", arn, aws.ToString(out.Account))
	if r.cfg.RoleARN != "" {
		want := ":assumed-role/" + roleName(r.cfg.RoleARN) + "/"
		if !strings.Contains(arn, want) {
			return fail("identity", detail+" is not a session of "+
				r.cfg.RoleARN, "check --role-arn")
		}
	}
	return pass("identity", detail)
}

func (r *run) checkSession(ctx context.Context) Result {
	if !r.creds.CanExpire {
		return warn("session", "long-term credentials that never expire",
			"prefer a role (--role-arn, IRSA or an instance role), so "+
				"that the gateway signs with temporary credentials")
	}
	now := r.cfg.Now()
	left := r.creds.Expires.Sub(now).Round(time.Second)
	detail := fmt.Sprintf("session expires at %s (in %v)",
		r.creds.Expires.UTC().Format(time.RFC3339), left)
	if need := r.cfg.Expiry + r.cfg.Margin; left < need {
		return warn("session", detail+fmt.Sprintf("; URLs are capped "+
			"below --url-expiry %v, which needs %v of session left",
			r.cfg.Expiry, need),
			"raise --role-session-duration and the role's "+
				"MaxSessionDuration, or lower --url-expiry")
	}
	return pass("session", detail)
}

func (r *run) checkRegion(ctx context.Context) Result {
	region, source, err := r.bucketRegion(ctx)
	if err != nil {
		return warn("region", "the bucket's region is unknown: "+
			shortError(err), "grant s3:GetBucketLocation on "+r.bucketARN())
	}
	if region == "" {
		return warn("region", "the server reported no region for the "+
			"bucket ("+source+")", "grant s3:GetBucketLocation on "+
			r.bucketARN()+" to compare regions; S3-compatible servers "+
			"without regions need nothing")
	}
	if region != r.cfg.Region {
		return fail("region", fmt.Sprintf("bucket is in %s (%s), "+
			"configured %s", region, source, r.cfg.Region),
			"set --region "+region)
	}
	return pass("region", fmt.Sprintf("bucket is in %s (%s)", region, source))
}

// bucketRegion calls GetBucketLocation, and when that is denied reads
// HeadBucket's x-amz-bucket-region. It returns the region, which call
// gave it, and an error when neither worked.
func (r *run) bucketRegion(ctx context.Context) (string, string, error) {
	loc, err := r.cl.S3.GetBucketLocation(ctx, &s3.GetBucketLocationInput{
		Bucket: aws.String(r.cfg.Bucket),
	})
	if err == nil {
		region := string(loc.LocationConstraint)
		if region == "" {
			// An empty LocationConstraint means us-east-1.
			region = "us-east-1"
		}
		return region, "GetBucketLocation", nil
	}
	head, herr := r.cl.S3.HeadBucket(ctx, &s3.HeadBucketInput{
		Bucket: aws.String(r.cfg.Bucket),
	})
	if herr != nil {
		return "", "", fmt.Errorf("GetBucketLocation: %w; HeadBucket: %w",
			err, herr)
	}
	return aws.ToString(head.BucketRegion),
		"HeadBucket; GetBucketLocation: " + errorCode(err), nil
}

func (r *run) checkList(ctx context.Context) Result {
	before := r.cfg.Now()
	out, err := r.cl.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(r.cfg.Bucket),
		Prefix:  aws.String(r.cfg.Root),
		MaxKeys: aws.Int32(1000),
	})
	after := r.cfg.Now()
	var meta middleware.Metadata
	if out != nil {
		meta = out.ResultMetadata
	}
	r.recordDate(rawResponse(meta, err), before, after)
	if err != nil {
		return fail("list", "ListObjectsV2 failed: "+err.Error(),
			"grant s3:ListBucket on "+r.bucketARN())
	}
	for _, o := range out.Contents {
		if r.sample == nil || (r.sample.size == 0 && aws.ToInt64(o.Size) > 0) {
			r.sample = &objectInfo{key: aws.ToString(o.Key),
				size: aws.ToInt64(o.Size)}
		}
	}
	count := fmt.Sprint(len(out.Contents))
	if aws.ToBool(out.IsTruncated) {
		count += " or more"
	}
	return pass("list", fmt.Sprintf("listed %s objects under s3://%s/%s",
		count, r.cfg.Bucket, r.cfg.Root))
}

// recordDate keeps the Date header of the listing's response, for the
// clock check.
func (r *run) recordDate(resp *smithyhttp.Response, before, after time.Time) {
	if resp == nil {
		return
	}
	at, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	r.serverAt = at
	r.localAt = before.Add(after.Sub(before) / 2)
}

// rawResponse returns the HTTP response behind an operation's result
// metadata or error, or nil.
func rawResponse(meta middleware.Metadata, err error) *smithyhttp.Response {
	if err != nil {
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) {
			return re.Response
		}
		return nil
	}
	resp, _ := awsmiddleware.GetRawResponse(meta).(*smithyhttp.Response)
	return resp
}

func (r *run) checkRead(ctx context.Context) Result {
	if r.sample == nil {
		return warn("read", "no object under s3://"+r.cfg.Bucket+"/"+
			r.cfg.Root+" to read", "upload a model, then run doctor again")
	}
	u, err := r.cl.Signer.Presign(ctx, r.sample.key, path.Base(r.sample.key))
	if err != nil {
		return fail("read", "pre-signing failed: "+err.Error(),
			"see the credentials and session checks")
	}
	status, sse, code, err := r.fetch(ctx, u.URL, r.sample.size)
	if err != nil {
		return fail("read", "fetching the pre-signed URL failed: "+
			err.Error(), "check --s3-public-endpoint and the network")
	}
	if status != http.StatusOK && status != http.StatusPartialContent {
		fix := "grant s3:GetObject on " + r.objectsARN()
		if strings.Contains(strings.ToUpper(code), "KMS") {
			fix = "grant kms:Decrypt on the bucket's KMS key"
		}
		return fail("read", fmt.Sprintf("pre-signed GET of %s got %d %s",
			r.sample.key, status, code), fix)
	}
	r.sampleSSE = sse
	return pass("read", fmt.Sprintf("pre-signed GET of %s got %d "+
		"(URL valid until %s)", r.sample.key, status,
		u.Expires.UTC().Format(time.RFC3339)))
}

// fetch GETs the first byte of a URL, or all of it for an empty object
// because S3 rejects any Range on an empty object with 416. It returns
// the status, the x-amz-server-side-encryption header and S3's error
// code.
func (r *run) fetch(ctx context.Context, url string, size int64) (
	int, string, string, error,
) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", "", err
	}
	if size > 0 {
		req.Header.Set("Range", "bytes=0-0")
	}
	resp, err := r.cl.HTTP.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	code := ""
	if resp.StatusCode >= 300 {
		code = xmlCode(string(body))
	}
	return resp.StatusCode, resp.Header.Get("X-Amz-Server-Side-Encryption"),
		code, nil
}

// xmlCode extracts <Code> from an S3 error document.
func xmlCode(doc string) string {
	_, rest, ok := strings.Cut(doc, "<Code>")
	if !ok {
		return ""
	}
	code, _, _ := strings.Cut(rest, "</Code>")
	return code
}

func (r *run) checkClock(ctx context.Context) Result {
	if r.serverAt.IsZero() {
		return warn("clock", "S3 sent no Date header to compare with",
			"check the clock with NTP")
	}
	skew := r.serverAt.Sub(r.localAt).Round(time.Second)
	abs := max(skew, -skew)
	detail := fmt.Sprintf("local clock is %v off S3's Date header "+
		"(1 second resolution)", skew)
	fix := "synchronise the clock with NTP (chrony or systemd-timesyncd)"
	switch {
	case abs >= r.cfg.Margin:
		return fail("clock", detail+fmt.Sprintf(", not less than "+
			"--credentials-margin %v", r.cfg.Margin), fix)
	case abs > skewPass:
		return warn("clock", detail, fix)
	}
	return pass("clock", detail)
}

func (r *run) checkEncryption(ctx context.Context) Result {
	out, err := r.cl.S3.GetBucketEncryption(ctx,
		&s3.GetBucketEncryptionInput{Bucket: aws.String(r.cfg.Bucket)})
	switch code := errorCode(err); {
	case code == "ServerSideEncryptionConfigurationNotFoundError":
		return warn("encryption", "the bucket has no default encryption",
			"enable SSE-S3 or SSE-KMS default encryption on the bucket")
	case err != nil:
		return warn("encryption", "cannot read the bucket's default "+
			"encryption: "+shortError(err), "grant "+
			"s3:GetEncryptionConfiguration on "+r.bucketARN())
	}
	algo, key := "", ""
	if c := out.ServerSideEncryptionConfiguration; c != nil {
		for _, rule := range c.Rules {
			if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
				algo = string(d.SSEAlgorithm)
				key = aws.ToString(d.KMSMasterKeyID)
			}
		}
	}
	return r.encryptionResult(strings.TrimSpace(algo), key)
}

// encryptionResult judges the algorithm and key of the bucket's default
// encryption rule; an empty algorithm means that no rule sets one.
func (r *run) encryptionResult(algo, key string) Result {
	const fix = "enable SSE-S3 or SSE-KMS default encryption on the bucket"
	switch {
	case algo == "AES256":
		return pass("encryption", "SSE-S3 (AES256) by default")
	case strings.HasPrefix(algo, "aws:kms"):
		return r.kmsResult(algo, key)
	case algo == "":
		return warn("encryption", "the bucket's encryption "+
			"configuration sets no default algorithm", fix)
	}
	return warn("encryption", fmt.Sprintf("unrecognised default "+
		"encryption algorithm %q", algo), fix)
}

// kmsResult reports SSE-KMS default encryption, and whether the read
// check decrypted a KMS-encrypted object.
func (r *run) kmsResult(algo, key string) Result {
	detail := fmt.Sprintf("SSE-KMS (%s, key %s) by default", algo, key)
	if strings.HasPrefix(r.sampleSSE, "aws:kms") {
		return pass("encryption", detail+"; a pre-signed GET of a "+
			"KMS-encrypted object succeeded")
	}
	return warn("encryption", detail+"; the object read was not "+
		"KMS-encrypted, so kms:Decrypt is unverified",
		"grant kms:Decrypt on "+key+" and run doctor again once a "+
			"KMS-encrypted object exists")
}

func (r *run) checkWrite(ctx context.Context) Result {
	return probeResult("write", ProbeWrite(ctx, r.cl.S3, r.cfg.Bucket,
		ProbeKey(r.cfg.Root)), "s3:PutObject")
}

func (r *run) checkDelete(ctx context.Context) Result {
	return probeResult("delete", ProbeDelete(ctx, r.cl.S3, r.cfg.Bucket,
		ProbeKey(r.cfg.Root)), "s3:DeleteObject")
}

func probeResult(check string, p Probe, action string) Result {
	switch p.Access {
	case AccessDenied:
		return pass(check, p.String()+", as it should be")
	case AccessAllowed:
		return fail(check, p.String(), "remove "+action+" (and s3:* or "+
			"s3:Put*/s3:Delete*) from every policy of the gateway's "+
			"identity; use deploy/iam/gateway-read-only-policy.json")
	}
	return fail(check, p.String(), "make S3 reachable and run doctor "+
		"again; denial could not be proven")
}

// errorCode returns the API error code of err, or "" for nil or a
// non-API error.
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// shortError returns the API error code and message of err, or its full
// text for other errors.
func shortError(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode() + ": " + apiErr.ErrorMessage()
	}
	return err.Error()
}
