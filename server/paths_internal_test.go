package server

import (
	"strings"
	"testing"
)

func TestKeyLimitCountsModelName(t *testing.T) {
	org := strings.Repeat("a", 1100)
	_, err := parseFileRequest(org, "m", "main", "x")
	if err == nil {
		t.Fatal("parseFileRequest with a 1,100-byte org: no error")
	}
	want := "model name and path are 1104 bytes together"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q, want it to contain %q", err, want)
	}
}

func TestKeyLimitAllowsExactLength(t *testing.T) {
	// "o/m/" takes 4 bytes, so the path may take the rest.
	path := strings.Repeat("p", maxKeyBytes-4)
	fr, err := parseFileRequest("o", "m", "main", path)
	if err != nil {
		t.Fatalf("parseFileRequest at %d bytes: %v", maxKeyBytes, err)
	}
	if fr.path != path {
		t.Errorf("path is %d bytes, want %d", len(fr.path), len(path))
	}

	_, err = parseFileRequest("o", "m", "main", path+"p")
	if err == nil {
		t.Errorf("parseFileRequest at %d bytes: no error", maxKeyBytes+1)
	}
}
