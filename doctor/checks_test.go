package doctor

import (
	"strings"
	"testing"
)

func TestEncryptionResult(t *testing.T) {
	tests := []struct {
		algo, key  string
		status     Status
		wantDetail string
	}{
		{"AES256", "", Pass, "SSE-S3 (AES256)"},
		{"aws:kms", "k1", Warn, "SSE-KMS (aws:kms, key k1)"},
		{"", "", Warn, "sets no default algorithm"},
		{"ROT13", "", Warn, `unrecognised default encryption algorithm "ROT13"`},
	}
	for _, tt := range tests {
		t.Run(tt.algo, func(t *testing.T) {
			res := (&run{}).encryptionResult(tt.algo, tt.key)
			if res.Status != tt.status {
				t.Errorf("encryptionResult(%q) status = %v, want %v",
					tt.algo, res.Status, tt.status)
			}
			if !strings.Contains(res.Detail, tt.wantDetail) {
				t.Errorf("encryptionResult(%q) detail = %q, want %q",
					tt.algo, res.Detail, tt.wantDetail)
			}
			if res.Status != Pass && res.Fix == "" {
				t.Errorf("encryptionResult(%q) has no fix", tt.algo)
			}
			if strings.Contains(res.String(), "  ;") ||
				strings.Contains(res.String(), " ; ") {
				t.Errorf("encryptionResult(%q) = %q, has an empty value",
					tt.algo, res.String())
			}
		})
	}
}
