package publish

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/modelgate/modelgate/doctor"
)

// ErrReadOnly is returned when the credentials may not write the model's
// objects, such as the gateway's read-only role.
var ErrReadOnly = errors.New("publish: credentials cannot write")

// probePath is the key, inside a model's prefix, that the write check
// addresses. Objects below catalog.ManifestDir are never model files.
const probePath = ".modelgate/write-probe"

// checkWritable checks with doctor.ProbeWrite, which stores nothing,
// that the credentials may write key. A server that ignores the probe's
// guards stores the probe object, which checkWritable then deletes.
func checkWritable(ctx context.Context, api S3, bucket, key string) error {
	p := doctor.ProbeWrite(ctx, api, bucket, key)
	switch {
	case p.Access == doctor.AccessAllowed && p.Err == nil:
		_, err := api.DeleteObject(ctx, &s3.DeleteObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key)})
		if err != nil {
			return fmt.Errorf("delete write check object s3://%s/%s: %w",
				bucket, key, err)
		}
		return nil
	case p.Access == doctor.AccessAllowed:
		return nil
	case p.Access == doctor.AccessDenied:
		return fmt.Errorf("%w to s3://%s/%s (%s): publish needs a "+
			"publisher role allowed s3:PutObject on the models; "+
			"the gateway's read-only role cannot publish",
			ErrReadOnly, bucket, key, p.Code)
	}
	return fmt.Errorf("check write access to s3://%s/%s: %w",
		bucket, key, p.Err)
}
