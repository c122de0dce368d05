package publish

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// ErrReadOnly is returned when the credentials may not write the model's
// objects, such as the gateway's read-only role.
var ErrReadOnly = errors.New("publish: credentials cannot write")

// probePath is the key, inside a model's prefix, that the write check
// addresses. Objects below catalog.ManifestDir are never model files.
const probePath = ".modelgate/write-probe"

// checkWritable sends a PutObject to key with a Content-MD5 that cannot
// match the body. S3 checks permission first, so it returns AccessDenied
// to read-only credentials, and BadDigest, storing nothing, to
// credentials that may write. A server that ignores Content-MD5 stores
// the object, which checkWritable then deletes.
func checkWritable(ctx context.Context, api S3, bucket, key string) error {
	zeroMD5 := base64.StdEncoding.EncodeToString(make([]byte, 16))
	_, err := api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:     aws.String(bucket),
		Key:        aws.String(key),
		Body:       bytes.NewReader([]byte("modelgate write check\n")),
		ContentMD5: aws.String(zeroMD5),
	})
	if err == nil {
		_, err = api.DeleteObject(ctx, &s3.DeleteObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return fmt.Errorf("delete write check object s3://%s/%s: %w",
				bucket, key, err)
		}
		return nil
	}

	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "BadDigest", "InvalidDigest":
			return nil
		case "AccessDenied", "AllAccessDisabled", "Forbidden":
			return fmt.Errorf("%w to s3://%s/%s (%s): publish needs a "+
				"publisher role allowed s3:PutObject on the models; "+
				"the gateway's read-only role cannot publish",
				ErrReadOnly, bucket, key, apiErr.ErrorCode())
		}
	}
	return fmt.Errorf("check write access to s3://%s/%s: %w",
		bucket, key, err)
}
