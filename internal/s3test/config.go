package s3test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"time"
)

const (
	// accountID is the account that SeaweedFS puts in principal ARNs.
	accountID = "000000000000"
	roleName  = "ReadOnlyRole"
	// policyName is the IAM policy attached to the read-only role.
	policyName = "S3ReadOnly"
	// maxSessionLength is the longest STS session when
	// Options.TokenDuration allows longer ones.
	maxSessionLength = 12 * time.Hour
)

// keyPair is an access key pair of a static identity.
type keyPair struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// identity is an entry of the -s3.config file.
type identity struct {
	Name        string    `json:"name"`
	Credentials []keyPair `json:"credentials"`
	Actions     []string  `json:"actions"`
}

// newKeyPair returns a random access key pair. Access keys on AWS are
// 20 upper-case characters, and rand.Text returns 26 of them.
func newKeyPair() keyPair {
	return keyPair{
		AccessKey: "AK" + rand.Text()[:18],
		SecretKey: rand.Text() + rand.Text(),
	}
}

// newSigningKey returns base64 of 32 random bytes, the key SeaweedFS signs
// STS session tokens with.
func newSigningKey() string {
	key := make([]byte, 32)
	rand.Read(key) // Read crashes the program rather than return an error.
	return base64.StdEncoding.EncodeToString(key)
}

// writeS3Config writes the static identities: admin with every action, and
// gateway with none.
func writeS3Config(path string, admin, gateway keyPair) error {
	config := map[string][]identity{"identities": {
		{
			Name:        "admin",
			Credentials: []keyPair{admin},
			Actions:     []string{"Admin", "Read", "List", "Tagging", "Write"},
		},
		{
			Name:        "gateway",
			Credentials: []keyPair{gateway},
			Actions:     []string{},
		},
	}}
	return writeJSON(path, config)
}

// roleARN returns the ARN of the read-only role.
func roleARN() string {
	return "arn:aws:iam::" + accountID + ":role/" + roleName
}

// userARN returns the principal ARN of the static identity name.
func userARN(name string) string {
	return "arn:aws:iam::" + accountID + ":user/" + name
}

// writeIAMConfig writes the -s3.iam.config file: STS settings, the
// bucket-scoped read-only policy and the role that only the gateway
// identity may assume.
//
// SeaweedFS grants a session the DurationSeconds of the AssumeRole request,
// or tokenDuration when the request has none, capped at maxSessionLength.
// The AWS SDK's stscreds provider always requests at least 15 minutes, so
// maxSessionLength is set to tokenDuration when that is shorter than
// 12 hours. Sessions then never outlive tokenDuration.
func writeIAMConfig(path, bucket string, tokenDuration time.Duration) error {
	maxSession := min(tokenDuration, maxSessionLength)
	config := map[string]any{
		"sts": map[string]any{
			"tokenDuration":    tokenDuration.String(),
			"maxSessionLength": maxSession.String(),
			"issuer":           "seaweedfs-sts",
			"signingKey":       newSigningKey(),
		},
		"policy":   map[string]any{"defaultEffect": "Deny"},
		"policies": []any{readOnlyPolicy(bucket)},
		"roles":    []any{readOnlyRole()},
	}
	return writeJSON(path, config)
}

// readOnlyPolicy allows s3:GetObject and s3:ListBucket on bucket.
func readOnlyPolicy(bucket string) map[string]any {
	return map[string]any{
		"name": policyName,
		"document": map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect": "Allow",
				"Action": []string{"s3:GetObject", "s3:ListBucket"},
				"Resource": []string{
					"arn:aws:s3:::" + bucket,
					"arn:aws:s3:::" + bucket + "/*",
				},
			}},
		},
	}
}

// readOnlyRole is the role with readOnlyPolicy, trusted by gateway only.
func readOnlyRole() map[string]any {
	return map[string]any{
		"roleName":         roleName,
		"roleArn":          roleARN(),
		"attachedPolicies": []string{policyName},
		"trustPolicy": map[string]any{
			"Version": "2012-10-17",
			"Statement": []any{map[string]any{
				"Effect":    "Allow",
				"Principal": map[string]any{"AWS": userARN("gateway")},
				"Action":    []string{"sts:AssumeRole"},
			}},
		},
	}
}

// writeJSON writes v as JSON to path, readable by the owner only because
// the files contain secrets.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	return nil
}
