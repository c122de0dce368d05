package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// iamDir holds the IAM documents that operators apply.
const iamDir = "../../deploy/iam"

// iamDocument is an IAM policy iamDocument. Action, Resource and NotAction
// may be a string or a list, so they stay raw.
type iamDocument struct {
	Version   string
	Statement []iamStatement
}

type iamStatement struct {
	Sid       string
	Effect    string
	Principal json.RawMessage
	Action    json.RawMessage
	NotAction json.RawMessage
	Resource  json.RawMessage
	Condition map[string]map[string]any
}

// stringList returns a field that may be a string or a list of strings.
func stringList(tb testing.TB, raw json.RawMessage) []string {
	tb.Helper()
	if len(raw) == 0 {
		return nil
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		tb.Fatalf("unmarshal %s: %v", raw, err)
	}
	return many
}

func loadIAM(tb testing.TB, name string) iamDocument {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(iamDir, name))
	if err != nil {
		tb.Fatalf("read %s: %v", name, err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	var d iamDocument
	if err := dec.Decode(&d); err != nil {
		tb.Fatalf("%s is not a valid policy iamDocument: %v", name, err)
	}
	return d
}

func TestIAMDocumentsValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(iamDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d JSON documents, want at least 4", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			d := loadIAM(t, filepath.Base(f))
			if d.Version != "2012-10-17" {
				t.Errorf("Version = %q, want 2012-10-17", d.Version)
			}
			if len(d.Statement) == 0 {
				t.Errorf("no statements")
			}
			for _, s := range d.Statement {
				if s.Effect != "Allow" && s.Effect != "Deny" {
					t.Errorf("iamStatement %q: Effect = %q", s.Sid, s.Effect)
				}
				if len(stringList(t, s.Action)) == 0 {
					t.Errorf("iamStatement %q has no Action", s.Sid)
				}
			}
		})
	}
}

// readActions are the only actions the gateway's role may have: reading
// and listing models, decrypting them, and what doctor reads.
var readActions = []string{"s3:GetObject", "s3:ListBucket",
	"s3:GetBucketLocation", "s3:GetEncryptionConfiguration", "kms:Decrypt"}

func TestIAMGatewayPolicyReadOnly(t *testing.T) {
	d := loadIAM(t, "gateway-read-only-policy.json")
	var granted []string
	for _, s := range d.Statement {
		if s.Effect != "Allow" {
			t.Errorf("iamStatement %q: Effect = %q, want Allow", s.Sid, s.Effect)
		}
		if len(s.NotAction) > 0 {
			t.Errorf("iamStatement %q uses NotAction", s.Sid)
		}
		for _, a := range stringList(t, s.Action) {
			granted = append(granted, a)
			if strings.Contains(a, "*") {
				t.Errorf("iamStatement %q grants wildcard action %q", s.Sid, a)
			}
			if !slices.Contains(readActions, a) {
				t.Errorf("iamStatement %q grants %q, not a read action", s.Sid, a)
			}
			lower := strings.ToLower(a)
			for _, w := range []string{"put", "delete", "create", "write",
				"restore", "replicate", "abort", "update", "tag"} {
				if strings.Contains(lower, w) {
					t.Errorf("iamStatement %q grants write action %q", s.Sid, a)
				}
			}
		}
		for _, r := range stringList(t, s.Resource) {
			if r == "*" || r == "arn:aws:s3:::*" {
				t.Errorf("iamStatement %q applies to every resource", s.Sid)
			}
		}
	}
	for _, need := range []string{"s3:GetObject", "s3:ListBucket"} {
		if !slices.Contains(granted, need) {
			t.Errorf("policy does not grant %s", need)
		}
	}
}

func TestIAMBucketPolicyDeniesWrites(t *testing.T) {
	d := loadIAM(t, "bucket-policy-deny-writes.json")
	var denied []string
	for _, s := range d.Statement {
		if s.Effect != "Deny" {
			continue
		}
		if _, ok := s.Condition["ArnNotEquals"]["aws:PrincipalArn"]; !ok {
			t.Errorf("iamStatement %q exempts no publisher role", s.Sid)
		}
		denied = append(denied, stringList(t, s.Action)...)
	}
	for _, need := range []string{"s3:PutObject", "s3:DeleteObject",
		"s3:DeleteObjectVersion"} {
		if !slices.Contains(denied, need) {
			t.Errorf("bucket policy does not deny %s", need)
		}
	}
}

func TestIAMTrustPolicies(t *testing.T) {
	tests := []struct {
		file      string
		action    string
		condition string // a condition key that must be present
	}{
		{"gateway-trust-assume-role.json", "sts:AssumeRole", "sts:ExternalId"},
		{"gateway-trust-irsa.json", "sts:AssumeRoleWithWebIdentity",
			"OIDC_PROVIDER:sub"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			d := loadIAM(t, tc.file)
			for _, s := range d.Statement {
				if !slices.Contains(stringList(t, s.Action), tc.action) {
					t.Errorf("iamStatement %q: Action lacks %s", s.Sid, tc.action)
				}
				if _, ok := s.Condition["StringEquals"][tc.condition]; !ok {
					t.Errorf("iamStatement %q: no StringEquals condition on %s",
						s.Sid, tc.condition)
				}
			}
		})
	}
}
