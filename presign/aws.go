package presign

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Patterns for the AssumeRole parameters, as IAM and STS define them.
var (
	roleARNPattern = regexp.MustCompile(
		`^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]{1,512}$`)
	sessionNamePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
)

// AWSConfig selects the S3 endpoint and the credentials the gateway
// uses. Zero fields take the SDK's defaults.
type AWSConfig struct {
	// Region is the bucket's region. It is required.
	Region string

	// Endpoint is the S3 endpoint the gateway itself calls, for S3
	// compatible servers or an internal address. Empty means AWS.
	Endpoint string

	// PathStyle addresses the bucket in the path instead of the host.
	PathStyle bool

	// STSEndpoint is the STS endpoint for AssumeRole. Empty means AWS.
	STSEndpoint string

	// RoleARN, when set, is assumed with the credentials of the SDK's
	// default chain, and the role's temporary credentials are used.
	RoleARN string

	// ExternalID is passed to AssumeRole when set.
	ExternalID string

	// SessionName names the role session. Empty means "modelgate".
	SessionName string

	// SessionDuration is the requested role session length. Zero means
	// one hour.
	SessionDuration time.Duration
}

// Validate reports the first invalid setting, naming its flag.
func (c AWSConfig) Validate() error {
	if c.Region == "" {
		return errors.New("--region is required")
	}
	if !isValidRegion(c.Region) {
		return fmt.Errorf("--region %q is not a region name: %s",
			c.Region, regionRule)
	}
	for _, e := range []struct{ flag, value string }{
		{"--s3-endpoint", c.Endpoint}, {"--sts-endpoint", c.STSEndpoint},
	} {
		if e.value == "" {
			continue
		}
		u, err := url.Parse(e.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") ||
			u.Host == "" {
			return fmt.Errorf("%s %q is not an http or https URL",
				e.flag, e.value)
		}
	}
	if c.RoleARN != "" && !roleARNPattern.MatchString(c.RoleARN) {
		return fmt.Errorf("--role-arn %q is not an IAM role ARN, such as "+
			"arn:aws:iam::123456789012:role/modelgate-read", c.RoleARN)
	}
	if c.SessionName != "" && !sessionNamePattern.MatchString(c.SessionName) {
		return fmt.Errorf("--role-session-name %q is invalid: use 2 to 64 "+
			"letters, digits and the characters +=,.@_-", c.SessionName)
	}
	if c.RoleARN != "" && c.SessionDuration != 0 &&
		(c.SessionDuration < 15*time.Minute ||
			c.SessionDuration > 12*time.Hour) {
		return fmt.Errorf("--role-session-duration %v is outside the "+
			"range STS allows, 15m to 12h", c.SessionDuration)
	}
	return nil
}

// LoadAWS loads the SDK configuration and returns the credentials
// provider the gateway signs with: the SDK's default chain, or a role
// assumed through it. It reads local configuration only and makes no
// network request.
func LoadAWS(ctx context.Context, c AWSConfig) (aws.Config,
	aws.CredentialsProvider, error,
) {
	if err := c.Validate(); err != nil {
		return aws.Config{}, nil, err
	}
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(c.Region))
	if err != nil {
		return aws.Config{}, nil, fmt.Errorf("load AWS configuration: %w",
			err)
	}
	if c.RoleARN == "" {
		return cfg, cfg.Credentials, nil
	}

	client := sts.NewFromConfig(cfg, func(o *sts.Options) {
		if c.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(c.STSEndpoint)
		}
	})
	provider := stscreds.NewAssumeRoleProvider(client, c.RoleARN,
		func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = c.SessionName
			if o.RoleSessionName == "" {
				o.RoleSessionName = "modelgate"
			}
			if c.ExternalID != "" {
				o.ExternalID = aws.String(c.ExternalID)
			}
			o.Duration = c.SessionDuration
			if o.Duration == 0 {
				o.Duration = time.Hour
			}
		})
	return cfg, provider, nil
}

// NewS3Client returns an S3 client for the gateway's own requests, with
// the given credentials.
func NewS3Client(cfg aws.Config, c AWSConfig,
	creds aws.CredentialsProvider,
) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.Credentials = creds
		o.UsePathStyle = c.PathStyle
		if c.Endpoint != "" {
			o.BaseEndpoint = aws.String(c.Endpoint)
		}
	})
}

// NewSTSClient returns an STS client for the gateway's own requests,
// such as GetCallerIdentity, with the given credentials.
func NewSTSClient(cfg aws.Config, c AWSConfig,
	creds aws.CredentialsProvider,
) *sts.Client {
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		o.Credentials = creds
		if c.STSEndpoint != "" {
			o.BaseEndpoint = aws.String(c.STSEndpoint)
		}
	})
}
