package s3test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// requestTimeout bounds each request a test makes.
const requestTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	// The clients here read no environment, but any code that builds a
	// default AWS config must not reach for instance metadata either.
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

func TestServer(t *testing.T) {
	t.Parallel()
	s := New(t, Options{})
	ctx := testContext(t)
	body := []byte("weights\x00\x01\x02")
	if err := s.Put(ctx, "org/model/model.bin", body); err != nil {
		t.Fatal(err)
	}
	role := s.Client(s.RoleProvider())

	t.Run("role reads object", func(t *testing.T) {
		got := getObject(t, role, s.Bucket, "org/model/model.bin")
		if !bytes.Equal(got, body) {
			t.Errorf("GetObject = %q, want %q", got, body)
		}
	})

	t.Run("role lists bucket", func(t *testing.T) {
		out, err := role.ListObjectsV2(ctx, &s3.ListObjectsV2Input{
			Bucket: aws.String(s.Bucket),
			Prefix: aws.String("org/model/"),
		})
		if err != nil {
			t.Fatalf("ListObjectsV2: %v", err)
		}
		if len(out.Contents) != 1 {
			t.Fatalf("ListObjectsV2 returned %d keys, want 1", len(out.Contents))
		}
		if key := aws.ToString(out.Contents[0].Key); key != "org/model/model.bin" {
			t.Errorf("ListObjectsV2 key = %q, want %q", key, "org/model/model.bin")
		}
	})

	t.Run("role writes denied", func(t *testing.T) {
		testRoleWritesDenied(t, s, role)
	})

	t.Run("gateway identity denied", func(t *testing.T) {
		gateway := s.Client(staticCredentials(s.GatewayAccessKey, s.GatewaySecretKey))
		_, err := gateway.GetObject(ctx, &s3.GetObjectInput{
			Bucket: aws.String(s.Bucket),
			Key:    aws.String("org/model/model.bin"),
		})
		if status := httpStatus(err); status != http.StatusForbidden {
			t.Errorf("GetObject as gateway: status %d (%v), want 403", status, err)
		}
	})

	t.Run("presigned GET", func(t *testing.T) {
		testPresignedGet(t, s, body)
	})

	t.Run("presigned URL expires", func(t *testing.T) {
		url := presignGet(t, s, s.RoleProvider(), "org/model/model.bin", time.Second)
		waitForStatus(t, url, http.StatusForbidden, 30*time.Second)
	})

	t.Run("zero-byte object", func(t *testing.T) {
		testZeroByteObject(t, s)
	})

	t.Run("pause and resume", func(t *testing.T) {
		testPauseResume(t, s)
	})

	t.Run("stop", func(t *testing.T) {
		testStop(t, s)
	})
}

func testRoleWritesDenied(t *testing.T, s *Server, role *s3.Client) {
	ctx := testContext(t)
	tests := []struct {
		name string
		call func() error
	}{
		{"PutObject", func() error {
			_, err := role.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(s.Bucket),
				Key:    aws.String("org/model/new.bin"),
				Body:   strings.NewReader("new"),
			})
			return err
		}},
		{"PutObject overwrite", func() error {
			_, err := role.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String(s.Bucket),
				Key:    aws.String("org/model/model.bin"),
				Body:   strings.NewReader("overwritten"),
			})
			return err
		}},
		{"DeleteObject", func() error {
			_, err := role.DeleteObject(ctx, &s3.DeleteObjectInput{
				Bucket: aws.String(s.Bucket),
				Key:    aws.String("org/model/model.bin"),
			})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if status := httpStatus(err); status != http.StatusForbidden {
				t.Errorf("%s as role: status %d (%v), want 403", tt.name, status, err)
			}
		})
	}

	// The denied requests must have left the object as it was.
	got := getObject(t, s.AdminClient(), s.Bucket, "org/model/model.bin")
	if string(got) != "weights\x00\x01\x02" {
		t.Errorf("object after denied writes = %q, want the original", got)
	}
}

func testPresignedGet(t *testing.T, s *Server, body []byte) {
	url := presignGet(t, s, s.RoleProvider(), "org/model/model.bin", 15*time.Minute)
	badSignature := changeParam(t, url, "X-Amz-Signature")
	badToken := changeParam(t, url, "X-Amz-Security-Token")
	bearer := http.Header{"Authorization": {"Bearer client-token"}}
	tests := []struct {
		name       string
		method     string
		url        string
		header     http.Header
		wantStatus int
	}{
		{"valid", http.MethodGet, url, nil, http.StatusOK},
		{"signature changed", http.MethodGet, badSignature, nil, http.StatusForbidden},
		{"session token changed", http.MethodGet, badToken, nil, http.StatusForbidden},
		{"anonymous", http.MethodGet, withoutQuery(url), nil, http.StatusForbidden},
		{"HEAD on GET URL", http.MethodHead, url, nil, http.StatusForbidden},
		// AWS rejects this request, but SeaweedFS ignores the header.
		{"extra Authorization header", http.MethodGet, url, bearer, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := fetch(t, tt.method, tt.url, tt.header)
			if status != tt.wantStatus {
				t.Fatalf("%s presigned URL: status %d, want %d (body %q)",
					tt.method, status, tt.wantStatus, got)
			}
			if tt.method == http.MethodGet && status == http.StatusOK && !bytes.Equal(got, body) {
				t.Errorf("%s presigned URL: body %q, want %q", tt.method, got, body)
			}
		})
	}
}

// testZeroByteObject uploads a zero-byte object and then a non-empty one.
// SeaweedFS has stalled the second upload when both share a connection.
func testZeroByteObject(t *testing.T, s *Server) {
	ctx := testContext(t)
	if err := s.Put(ctx, "org/model/empty.txt", nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "org/model/after-empty.txt", []byte("data")); err != nil {
		t.Fatal(err)
	}
	url := presignGet(t, s, s.RoleProvider(), "org/model/empty.txt", 15*time.Minute)
	tests := []struct {
		name       string
		rangeValue string
		wantStatus int
	}{
		{"no range", "", http.StatusOK},
		{"range 0-0", "bytes=0-0", http.StatusRequestedRangeNotSatisfiable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			if tt.rangeValue != "" {
				header.Set("Range", tt.rangeValue)
			}
			status, got := fetch(t, http.MethodGet, url, header)
			if status != tt.wantStatus {
				t.Errorf("GET zero-byte object, Range %q: status %d, want %d",
					tt.rangeValue, status, tt.wantStatus)
			}
			if status == http.StatusOK && len(got) != 0 {
				t.Errorf("GET zero-byte object: body %q, want empty", got)
			}
		})
	}
	if err := s.Delete(ctx, "org/model/empty.txt"); err != nil {
		t.Fatal(err)
	}
	_, err := s.AdminClient().HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.Bucket),
		Key:    aws.String("org/model/empty.txt"),
	})
	if status := httpStatus(err); status != http.StatusNotFound {
		t.Errorf("HeadObject after Delete: status %d (%v), want 404", status, err)
	}
}

func testPauseResume(t *testing.T, s *Server) {
	if err := s.Pause(); err != nil {
		t.Fatal(err)
	}
	// A frozen process sends no response, so any deadline passes first.
	client := &http.Client{Timeout: 500 * time.Millisecond}
	resp, err := client.Get(s.Endpoint + "/status")
	if err == nil {
		resp.Body.Close()
		t.Errorf("GET /status while paused: %s, want a timeout", resp.Status)
	}
	if err := s.Resume(); err != nil {
		t.Fatal(err)
	}
	status, _ := fetch(t, http.MethodGet, s.Endpoint+"/status", nil)
	if status != http.StatusOK {
		t.Errorf("GET /status after Resume: status %d, want 200", status)
	}
}

func testStop(t *testing.T, s *Server) {
	if err := s.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if _, err := os.Stat(s.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Stat(%q) after Stop: %v, want not exist", s.Dir, err)
	}
	resp, err := http.Get(s.Endpoint + "/status")
	if err == nil {
		resp.Body.Close()
		t.Errorf("GET /status after Stop: %s, want connection error", resp.Status)
	}
	if err := s.Stop(); err != nil {
		t.Errorf("second Stop: %v, want nil", err)
	}
	if err := s.Pause(); err == nil {
		t.Error("Pause after Stop: nil error, want an error")
	}
}

// TestSessionExpiry checks that a pre-signed URL stops working once the
// role session that signed it expires, even though the URL itself is valid
// for 15 minutes, and that the cached provider then starts a new session.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	s := New(t, Options{TokenDuration: 5 * time.Second})
	ctx := testContext(t)
	if err := s.Put(ctx, "config.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	provider := s.RoleProvider()
	first, err := provider.Retrieve(ctx)
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if !first.CanExpire {
		t.Errorf("role credentials CanExpire = false, want true")
	}

	url := presignGet(t, s, provider, "config.json", 15*time.Minute)
	if status, _ := fetch(t, http.MethodGet, url, nil); status != http.StatusOK {
		t.Fatalf("GET presigned URL of a new session: status %d, want 200", status)
	}
	waitForStatus(t, url, http.StatusForbidden, 60*time.Second)

	second, err := provider.Retrieve(ctx)
	if err != nil {
		t.Fatalf("Retrieve after expiry: %v", err)
	}
	if second.AccessKeyID == first.AccessKeyID {
		t.Errorf("Retrieve after expiry returned the expired session %s", first.AccessKeyID)
	}
	url = presignGet(t, s, provider, "config.json", 15*time.Minute)
	if status, _ := fetch(t, http.MethodGet, url, nil); status != http.StatusOK {
		t.Errorf("GET presigned URL of the renewed session: status %d, want 200", status)
	}
}

func testContext(tb testing.TB) context.Context {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

func staticCredentials(key, secret string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: key, SecretAccessKey: secret}, nil
	})
}

// httpStatus returns the HTTP status of an SDK error, or 0 if err carries
// none.
func httpStatus(err error) int {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

func getObject(tb testing.TB, client *s3.Client, bucket, key string) []byte {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), requestTimeout)
	defer cancel()
	out, err := client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		tb.Fatalf("GetObject(%s): %v", key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		tb.Fatalf("GetObject(%s): read body: %v", key, err)
	}
	return data
}

func presignGet(tb testing.TB, s *Server, creds aws.CredentialsProvider,
	key string, expires time.Duration) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), requestTimeout)
	defer cancel()
	presigner := s3.NewPresignClient(s.Client(creds))
	req, err := presigner.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.Bucket),
		Key:    aws.String(key),
	}, s3.WithPresignExpires(expires))
	if err != nil {
		tb.Fatalf("PresignGetObject(%s): %v", key, err)
	}
	return req.URL
}

// changeParam returns url with the first character of the value of query
// parameter name changed to another one.
func changeParam(tb testing.TB, url, name string) string {
	tb.Helper()
	prefix := name + "="
	i := strings.Index(url, prefix)
	if i < 0 || i+len(prefix) >= len(url) {
		tb.Fatalf("presigned URL %s has no %s", withoutQuery(url), name)
	}
	i += len(prefix)
	replacement := "0"
	if url[i] == '0' {
		replacement = "1"
	}
	return url[:i] + replacement + url[i+1:]
}

// fetch sends a plain request, as a browser or download tool would, and
// returns the status and body.
func fetch(tb testing.TB, method, rawURL string, header http.Header) (int, []byte) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), requestTimeout)
	defer cancel()
	redactedURL := withoutQuery(rawURL)
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		tb.Fatalf("NewRequest(%s %s): %v", method, redactedURL, err)
	}
	for name, values := range header {
		req.Header[name] = values
	}
	resp, err := http.DefaultClient.Do(req)
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		// url.Error repeats the URL, whose query holds credentials.
		err = urlErr.Err
	}
	if err != nil {
		tb.Fatalf("%s %s: %v", method, redactedURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, redactedURL, err)
	}
	return resp.StatusCode, body
}

// waitForStatus polls GET url until it returns want, failing the test if
// that has not happened within limit.
func waitForStatus(tb testing.TB, url string, want int, limit time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	status := 0
	for time.Now().Before(deadline) {
		status, _ = fetch(tb, http.MethodGet, url, nil)
		if status == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	tb.Fatalf("GET %s: status %d after %v, want %d",
		withoutQuery(url), status, limit, want)
}

// withoutQuery returns url up to its query, which in a pre-signed URL
// holds the access key, session token and signature.
func withoutQuery(url string) string {
	path, _, _ := strings.Cut(url, "?")
	return path
}

// TestStartProcessExits checks that Start reports a server that exits
// while starting, after trying again on new ports.
func TestStartProcessExits(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "weed")
	script := "#!/bin/sh\necho 'bind: address already in use' >&2\nexit 3\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("MODELGATE_WEED", bin)
	var messages []string
	logf := func(format string, args ...any) {
		messages = append(messages, fmt.Sprintf(format, args...))
	}

	s, err := Start(Options{Logf: logf})
	if err == nil {
		s.Stop()
		t.Fatal("Start with an exiting binary: nil error, want an error")
	}
	if !errors.Is(err, errExited) {
		t.Errorf("Start error = %v, want errExited", err)
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("Start error = %v, want the server output in it", err)
	}
	retries := 0
	for _, message := range messages {
		if strings.Contains(message, "trying new ports") {
			retries++
		}
	}
	if retries != startAttempts-1 {
		t.Errorf("Start logged %q, want %d retry messages", messages, startAttempts-1)
	}
}
