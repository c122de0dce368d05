package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// roleSessionName is the RoleSessionName of sessions from RoleProvider.
const roleSessionName = "s3test"

// Client returns an S3 client for the server that signs with creds: path
// style addressing, Endpoint as the base endpoint and Region as the signing
// region. Like every client in this package, it reads no environment
// variables or shared configuration files, so it never requests
// credentials or a region from the EC2 instance metadata service.
func (s *Server) Client(creds aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		UsePathStyle: true,
		Credentials:  creds,
	})
}

// AdminClient returns an S3 client that signs as the admin identity, which
// may do anything. It is for seeding test data, never for code under test.
//
// The client opens a new connection for every request, as a precaution:
// with boto3, SeaweedFS stalled a non-empty upload sent right after a
// zero-byte one on the same connection. The same sequence through this SDK
// on a kept-alive connection did not stall in our runs.
func (s *Server) AdminClient() *s3.Client {
	return s.admin
}

func (s *Server) newAdminClient() *s3.Client {
	creds := credentials.NewStaticCredentialsProvider(
		s.AdminAccessKey, s.AdminSecretKey, "")
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(
		func(t *http.Transport) { t.DisableKeepAlives = true })
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		UsePathStyle: true,
		Credentials:  creds,
		HTTPClient:   httpClient,
	})
}

// Put stores body under key in Bucket as the admin identity.
func (s *Server) Put(ctx context.Context, key string, body []byte) error {
	_, err := s.admin.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.Bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(body),
		ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", s.Bucket, key, err)
	}
	return nil
}

// Delete removes key from Bucket as the admin identity. Deleting a key that
// does not exist succeeds, as on S3.
func (s *Server) Delete(ctx context.Context, key string) error {
	_, err := s.admin.DeleteObject(ctx, &s3.DeleteObjectInput{
		Bucket: aws.String(s.Bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", s.Bucket, key, err)
	}
	return nil
}

// RoleProvider returns credentials for the read-only role: the gateway
// identity calls STS AssumeRole of RoleARN at Endpoint through the SDK's
// stscreds provider, wrapped in aws.NewCredentialsCache. Each call returns
// a new cache, so each provider starts its own session and renews it when
// it expires.
func (s *Server) RoleProvider() aws.CredentialsProvider {
	return aws.NewCredentialsCache(s.assumeRoleProvider())
}

func (s *Server) assumeRoleProvider() *stscreds.AssumeRoleProvider {
	client := sts.New(sts.Options{
		BaseEndpoint: aws.String(s.Endpoint),
		Region:       s.Region,
		Credentials: credentials.NewStaticCredentialsProvider(
			s.GatewayAccessKey, s.GatewaySecretKey, ""),
	})
	return stscreds.NewAssumeRoleProvider(client, s.RoleARN,
		func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = roleSessionName
		})
}

// ensureBucket creates Bucket unless it exists. The -bucket flag creates it
// too, but possibly after the server reports ready.
func (s *Server) ensureBucket(ctx context.Context) error {
	_, err := s.admin.HeadBucket(ctx, &s3.HeadBucketInput{
		Bucket: aws.String(s.Bucket),
	})
	if err == nil {
		return nil
	}
	_, err = s.admin.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String(s.Bucket),
	})
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) &&
		apiErr.ErrorCode() == "BucketAlreadyOwnedByYou" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", s.Bucket, err)
	}
	s.logf("s3test: created bucket %s", s.Bucket)
	return nil
}

// checkAssumeRole assumes the role once, without caching the session.
func (s *Server) checkAssumeRole(ctx context.Context) error {
	_, err := s.assumeRoleProvider().Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("assume %s: %w", s.RoleARN, err)
	}
	return nil
}
