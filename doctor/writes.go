package doctor

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// WriteCheck is the outcome of probing writes and deletes.
type WriteCheck struct {
	Put    Probe
	Delete Probe
}

// CheckWrites probes whether the client may write to or delete from
// bucket, under root, with ProbeWrite and ProbeDelete. Neither probe
// changes the bucket on S3 or on a server that honours If-Match.
func CheckWrites(ctx context.Context, client *s3.Client, bucket,
	root string,
) WriteCheck {
	return WriteCheck{
		Put:    ProbeWrite(ctx, client, bucket, ProbeKey(root)),
		Delete: ProbeDelete(ctx, client, bucket, ProbeKey(root)),
	}
}

// Access sums up both probes: AccessAllowed when either operation is
// allowed, AccessDenied when both are denied, and AccessUnknown
// otherwise.
func (c WriteCheck) Access() Access {
	switch {
	case c.Put.Access == AccessAllowed || c.Delete.Access == AccessAllowed:
		return AccessAllowed
	case c.Put.Access == AccessDenied && c.Delete.Access == AccessDenied:
		return AccessDenied
	}
	return AccessUnknown
}

// String describes both probes.
func (c WriteCheck) String() string {
	return c.Put.String() + "; " + c.Delete.String()
}
