package presign

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// fixedTimePresigner is an s3.HTTPPresignerV4 that signs at a fixed time
// instead of the time the SDK passes in. It is configured like the SDK's
// default S3 presigner, which does not escape the already escaped path.
type fixedTimePresigner struct {
	signer *v4.Signer
	time   time.Time
}

func newFixedTimePresigner(t time.Time) fixedTimePresigner {
	signer := v4.NewSigner(func(o *v4.SignerOptions) {
		o.DisableURIPathEscaping = true
	})
	return fixedTimePresigner{signer: signer, time: t}
}

func (p fixedTimePresigner) PresignHTTP(ctx context.Context,
	creds aws.Credentials, r *http.Request, payloadHash, service,
	region string, _ time.Time, optFns ...func(*v4.SignerOptions),
) (string, http.Header, error) {
	return p.signer.PresignHTTP(ctx, creds, r, payloadHash, service, region,
		p.time, optFns...)
}

// signRequest is the input of one Sign call.
type signRequest struct {
	creds       aws.Credentials
	key         string
	disposition string
	time        time.Time
	expires     time.Duration
}

// newSDKClient returns an S3 client configured like cfg. Presigning sends
// no requests, and static credentials keep the SDK from looking for
// credentials anywhere else.
func newSDKClient(cfg SignerConfig, creds aws.Credentials) *s3.Client {
	opts := s3.Options{
		Region: cfg.Region,
		Credentials: credentials.NewStaticCredentialsProvider(
			creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken),
		UsePathStyle: cfg.PathStyle,
	}
	if cfg.Endpoint != "" {
		opts.BaseEndpoint = aws.String(cfg.Endpoint)
	}
	return s3.New(opts)
}

// sdkPresign returns the URL that the SDK's PresignGetObject produces for
// req, signed at req.time.
func sdkPresign(t testing.TB, client *s3.Client, bucket string,
	req signRequest) string {
	t.Helper()
	input := &s3.GetObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(req.key),
	}
	if req.disposition != "" {
		input.ResponseContentDisposition = aws.String(req.disposition)
	}
	presigner := newFixedTimePresigner(req.time)
	out, err := s3.NewPresignClient(client).PresignGetObject(
		context.Background(), input,
		s3.WithPresignExpires(req.expires),
		func(o *s3.PresignOptions) { o.Presigner = presigner },
	)
	if err != nil {
		t.Fatalf("PresignGetObject(%q) error: %v", req.key, err)
	}
	if out.Method != http.MethodGet {
		t.Fatalf("PresignGetObject(%q) method = %q, want GET",
			req.key, out.Method)
	}
	return out.URL
}

// newTestSigner returns a URLSigner for cfg and fails the test on error.
func newTestSigner(t testing.TB, cfg SignerConfig) *URLSigner {
	t.Helper()
	s, err := NewURLSigner(cfg)
	if err != nil {
		t.Fatalf("NewURLSigner(%+v) error: %v", cfg, err)
	}
	return s
}

// checkSameAsSDK signs req with s and with the SDK and fails the test if
// the URLs differ.
func checkSameAsSDK(t testing.TB, s *URLSigner, cfg SignerConfig,
	req signRequest) {
	t.Helper()
	got := s.Sign(req.creds, req.key, req.disposition, req.time, req.expires)
	want := sdkPresign(t, newSDKClient(cfg, req.creds), cfg.Bucket, req)
	if got != want {
		t.Errorf("Sign(key %q, disposition %q, time %v, expires %v, "+
			"token %t) with %+v\n got %s\nwant %s", req.key, req.disposition,
			req.time, req.expires, req.creds.SessionToken != "", cfg, got, want)
	}
}

// testConfigs are the endpoint layouts that the comparison with the SDK
// covers.
var testConfigs = []SignerConfig{
	{Region: "us-east-1", Bucket: "model-weights"},
	{Region: "us-east-1", Bucket: "model-weights", PathStyle: true},
	{Region: "eu-west-1", Bucket: "weights", PathStyle: true},
	{Region: "ap-southeast-2", Bucket: "weights-2"},
	{Region: "cn-north-1", Bucket: "weights"},
	{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1",
		Bucket: "weights", PathStyle: true},
	{Endpoint: "http://127.0.0.1:9000/", Region: "us-west-2",
		Bucket: "Legacy_Bucket.v1", PathStyle: true},
	{Endpoint: "http://localhost:9000", Region: "us-east-1",
		Bucket: "weights"},
	{Endpoint: "http://[::1]:8333", Region: "us-east-1",
		Bucket: "weights", PathStyle: true},
	{Endpoint: "https://s3.example.com:443", Region: "us-east-1",
		Bucket: "weights"},
	{Endpoint: "http://minio.example.com:80", Region: "eu-central-1",
		Bucket: "weights", PathStyle: true},
	{Endpoint: "https://S3.Example.COM", Region: "us-east-1",
		Bucket: "weights"},
}

func TestSignMatchesSDKRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(20240521, 7))
	signers := make([]*URLSigner, len(testConfigs))
	for i, cfg := range testConfigs {
		signers[i] = newTestSigner(t, cfg)
	}
	for i := range 600 {
		c := rng.IntN(len(testConfigs))
		req := randomSignRequest(rng)
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			checkSameAsSDK(t, signers[c], testConfigs[c], req)
		})
	}
}

// keyPieces are the fragments that random object keys are built from.
var keyPieces = []string{
	"a", "Z", "0", "9", "model", "-", "_", ".", "..", "~", " ", "  ", "+",
	"%", "%20", "=", "(", ")", "!", "*", "'", "/", "//", "&", "?", "#",
	";", ":", "@", ",", "$", "\\", "^", "`", "{", "}", "|", "\"", "<",
	">", "[", "]", "\t", "\x00", "\x7f", "\xff", "é", "日本語", "🤗",
	"model-00001-of-00004.safetensors",
}

// dispositionPieces are the fragments that random file names are built
// from before they pass through ContentDisposition.
var dispositionPieces = []string{
	"model", ".bin", " ", "+", "(", ")", "=", "%", "\"", "\\", ";", "é",
	"日本語", "🤗", "\xff", "\r\n", "'", "*",
}

func randomSignRequest(rng *rand.Rand) signRequest {
	req := signRequest{
		creds: aws.Credentials{
			AccessKeyID:     "AKIA" + randomString(rng, 16, upperAlnum),
			SecretAccessKey: randomString(rng, 40, base64Chars),
		},
		key:     randomKey(rng),
		time:    randomTime(rng),
		expires: randomExpires(rng),
	}
	if rng.IntN(2) == 0 {
		n := 100 + rng.IntN(900)
		req.creds.SessionToken = randomString(rng, n, base64Chars)
	}
	if rng.IntN(2) == 0 {
		name := randomJoin(rng, dispositionPieces, 1+rng.IntN(8))
		req.disposition = ContentDisposition(name)
	}
	return req
}

const (
	upperAlnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	base64Chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz" +
		"0123456789+/="
)

func randomString(rng *rand.Rand, n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

func randomJoin(rng *rand.Rand, pieces []string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	return b.String()
}

// randomKey returns a non-empty key: short, medium, or close to the
// 1024-byte limit of S3 keys, with slashes added at either end at times.
func randomKey(rng *rand.Rand) string {
	var key string
	switch rng.IntN(4) {
	case 0:
		key = randomJoin(rng, keyPieces, 1+rng.IntN(3))
	case 1, 2:
		key = randomJoin(rng, keyPieces, 4+rng.IntN(30))
	default:
		key = randomJoin(rng, keyPieces, 400)
		key = key[:min(len(key), 1000+rng.IntN(25))]
	}
	if rng.IntN(5) == 0 {
		key = "/" + key
	}
	if rng.IntN(5) == 0 {
		key += "/"
	}
	return key
}

func randomTime(rng *rand.Rand) time.Time {
	start := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	end := time.Date(2099, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	sec := start + rng.Int64N(end-start)
	zones := []*time.Location{
		time.UTC,
		time.FixedZone("UTC+5:30", 5*3600+1800),
		time.FixedZone("UTC-8", -8*3600),
	}
	t := time.Unix(sec, rng.Int64N(int64(time.Second)))
	return t.In(zones[rng.IntN(len(zones))])
}

// randomExpires returns a duration from 1 minute to 7 days, with a
// fraction of a second at times.
func randomExpires(rng *rand.Rand) time.Duration {
	seconds := 60 + rng.Int64N(int64(sigV4MaxExpires/time.Second)-60+1)
	d := time.Duration(seconds) * time.Second
	if rng.IntN(4) == 0 && d < sigV4MaxExpires {
		d += time.Duration(rng.Int64N(int64(time.Second)))
	}
	return d
}

func TestSignMatchesSDKEdgeCases(t *testing.T) {
	creds := aws.Credentials{
		AccessKeyID:     "AKIAEXAMPLE123456789",
		SecretAccessKey: "c2VjcmV0/c2VjcmV0+c2VjcmV0c2VjcmV0c2Vj",
	}
	withToken := creds
	withToken.SessionToken = "FwoGZXIvYXdzE+/abc=="
	at := time.Date(2025, 3, 9, 23, 59, 59, 999999999, time.UTC)
	long := strings.Repeat("deep/", 203) + "model.bin"

	tests := []struct {
		name string
		cfg  int
		req  signRequest
	}{
		{"leading slash", 0, signRequest{creds, "/a/b", "", at, time.Hour}},
		{"double slash", 1, signRequest{creds, "a//b", "", at, time.Hour}},
		{"only slash", 5, signRequest{creds, "/", "", at, time.Hour}},
		{"trailing slash", 7, signRequest{creds, "dir/", "", at, time.Hour}},
		{"dot segments", 6, signRequest{creds, "a/../b/./c", "", at,
			time.Hour}},
		{"reserved characters", 9, signRequest{creds, "a+b=c&d?e#f;g",
			"", at, time.Hour}},
		{"sub-delims", 10, signRequest{creds, "!$'()*,", "", at,
			time.Hour}},
		{"unicode", 11, signRequest{creds, "日本語/🤗 é.bin", "", at,
			time.Hour}},
		{"percent", 8, signRequest{creds, "100%/%2F", "", at, time.Hour}},
		{"key of 1024 bytes", 2, signRequest{creds, long, "", at,
			time.Hour}},
		{"session token", 3, signRequest{withToken, "k", "", at,
			time.Hour}},
		{"disposition", 4, signRequest{withToken, "k",
			ContentDisposition("日本語 (1).bin"), at, time.Hour}},
		{"seven days", 0, signRequest{creds, "k", "", at,
			sigV4MaxExpires}},
		{"one second", 1, signRequest{creds, "k", "", at, time.Second}},
		{"fractional expiry", 5, signRequest{creds, "k", "", at,
			90*time.Second + 999*time.Millisecond}},
	}
	if len(long) != 1024 {
		t.Fatalf("long key has %d bytes, want 1024", len(long))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfigs[tt.cfg]
			checkSameAsSDK(t, newTestSigner(t, cfg), cfg, tt.req)
		})
	}
}

func TestSignCredentialsCache(t *testing.T) {
	cfg := testConfigs[5]
	s := newTestSigner(t, cfg)
	day := time.Date(2025, 6, 1, 23, 59, 59, 0, time.UTC)
	a := aws.Credentials{AccessKeyID: "AKIAA", SecretAccessKey: "secret-a"}
	b := aws.Credentials{AccessKeyID: "AKIAB", SecretAccessKey: "secret-b"}
	otherID := a
	otherID.AccessKeyID = "AKIAC"
	withToken := a
	withToken.SessionToken = "token/1+"
	otherToken := a
	otherToken.SessionToken = "token/2+"

	// Each step after "same day" changes one input that the cached state
	// depends on, so each must miss the entry left by the previous step.
	steps := []struct {
		name  string
		creds aws.Credentials
		time  time.Time
	}{
		{"first", a, day},
		{"same day", a, day.Add(-time.Hour)},
		{"next day", a, day.Add(time.Second)},
		{"other secret", b, day.Add(time.Second)},
		{"back to first", a, day},
		{"other access key ID", otherID, day},
		{"session token added", withToken, day},
		{"other session token", otherToken, day},
		{"session token removed", a, day},
	}
	for _, step := range steps {
		t.Run(step.name, func(t *testing.T) {
			req := signRequest{step.creds, "k", "", step.time, time.Hour}
			checkSameAsSDK(t, s, cfg, req)
		})
	}
}

func TestSignConcurrent(t *testing.T) {
	cfg := testConfigs[0]
	s := newTestSigner(t, cfg)
	rng := rand.New(rand.NewPCG(1, 2))
	reqs := make([]signRequest, 8)
	want := make([]string, len(reqs))
	for i := range reqs {
		reqs[i] = randomSignRequest(rng)
		want[i] = sdkPresign(t, newSDKClient(cfg, reqs[i].creds),
			cfg.Bucket, reqs[i])
	}

	// Goroutines sign with different credentials and dates at once, so
	// the cached signing state is replaced while others read it.
	var wg sync.WaitGroup
	errs := make(chan string, len(reqs))
	for g := range 4 {
		wg.Go(func() {
			for n := range 200 {
				i := (g + n) % len(reqs)
				r := reqs[i]
				got := s.Sign(r.creds, r.key, r.disposition, r.time, r.expires)
				if got != want[i] {
					errs <- fmt.Sprintf("request %d:\n got %s\nwant %s",
						i, got, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestSignExpires(t *testing.T) {
	s := newTestSigner(t, testConfigs[0])
	creds := aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		expires time.Duration
		want    string
	}{
		{-time.Hour, "1"},
		{0, "1"},
		{999 * time.Millisecond, "1"},
		{time.Second, "1"},
		{90*time.Second + 900*time.Millisecond, "90"},
		{time.Hour, "3600"},
		{sigV4MaxExpires, "604800"},
		{sigV4MaxExpires + time.Second, "604800"},
		{30 * 24 * time.Hour, "604800"},
	}
	for _, tt := range tests {
		t.Run(tt.expires.String(), func(t *testing.T) {
			raw := s.Sign(creds, "k", "", at, tt.expires)
			got := queryValue(t, raw, "X-Amz-Expires")
			if got != tt.want {
				t.Errorf("Sign(expires %v) X-Amz-Expires = %q, want %q",
					tt.expires, got, tt.want)
			}
		})
	}
}

// queryValue returns the value of the query parameter name in rawURL.
func queryValue(t testing.TB, rawURL, name string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("url.Parse(%q) error: %v", rawURL, err)
	}
	return u.Query().Get(name)
}

func TestSignEmptyKeyPanics(t *testing.T) {
	s := newTestSigner(t, testConfigs[0])
	defer func() {
		if recover() == nil {
			t.Errorf("Sign with empty key did not panic")
		}
	}()
	s.Sign(aws.Credentials{AccessKeyID: "AKIA", SecretAccessKey: "s"}, "",
		"", time.Now(), time.Hour)
}

func TestSignAllocations(t *testing.T) {
	s := newTestSigner(t, testConfigs[0])
	req := benchmarkRequest()
	allocs := testing.AllocsPerRun(200, func() {
		s.Sign(req.creds, req.key, req.disposition, req.time, req.expires)
	})
	// One allocation is the URL string. The rest of the budget covers the
	// pool dropping a buffer, which happens at random under the race
	// detector and after a garbage collection.
	const maxAllocs = 10
	if allocs > maxAllocs {
		t.Errorf("Sign allocates %.1f times per call, want at most %d",
			allocs, maxAllocs)
	}
}

func TestNewURLSignerErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  SignerConfig
	}{
		{"missing region", SignerConfig{Bucket: "b", PathStyle: true}},
		{"region with slash", SignerConfig{Region: "us/east",
			Bucket: "b", PathStyle: true}},
		{"missing bucket", SignerConfig{Region: "us-east-1",
			PathStyle: true}},
		{"bucket with slash", SignerConfig{Region: "us-east-1",
			Bucket: "a/b", PathStyle: true}},
		{"dot bucket", SignerConfig{Region: "us-east-1", Bucket: "..",
			PathStyle: true}},
		{"dotted bucket virtual-hosted", SignerConfig{Region: "us-east-1",
			Bucket: "my.bucket"}},
		{"uppercase bucket virtual-hosted", SignerConfig{
			Region: "us-east-1", Bucket: "Bucket"}},
		{"IP endpoint virtual-hosted", SignerConfig{
			Endpoint: "http://127.0.0.1:9000", Region: "us-east-1",
			Bucket: "bucket"}},
		{"ftp endpoint", SignerConfig{Endpoint: "ftp://example.com",
			Region: "us-east-1", Bucket: "b", PathStyle: true}},
		{"endpoint without scheme", SignerConfig{Endpoint: "127.0.0.1:9000",
			Region: "us-east-1", Bucket: "b", PathStyle: true}},
		{"endpoint with path", SignerConfig{
			Endpoint: "https://example.com/s3", Region: "us-east-1",
			Bucket: "b", PathStyle: true}},
		{"endpoint with query", SignerConfig{
			Endpoint: "https://example.com/?a=b", Region: "us-east-1",
			Bucket: "b", PathStyle: true}},
		{"endpoint with user", SignerConfig{
			Endpoint: "https://u:p@example.com", Region: "us-east-1",
			Bucket: "b", PathStyle: true}},
		{"endpoint without host", SignerConfig{Endpoint: "https://",
			Region: "us-east-1", Bucket: "b", PathStyle: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewURLSigner(tt.cfg)
			if err == nil {
				t.Errorf("NewURLSigner(%+v) = %p, nil; want an error",
					tt.cfg, s)
			}
		})
	}
}

// AWS publishes a worked example of a pre-signed GET in "Authenticating
// Requests: Using Query Parameters (AWS Signature Version 4)" in the S3
// API reference. Its URL has no x-id parameter, so this test builds the
// canonical request itself and checks the hash and signature that the
// page lists.
func TestSigV4PublishedExample(t *testing.T) {
	const (
		secret  = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
		region  = "us-east-1"
		amzDate = "20130524T000000Z"
	)
	canonical := strings.Join([]string{
		"GET",
		"/test.txt",
		"X-Amz-Algorithm=AWS4-HMAC-SHA256" +
			"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2F" +
			"us-east-1%2Fs3%2Faws4_request" +
			"&X-Amz-Date=" + amzDate +
			"&X-Amz-Expires=86400&X-Amz-SignedHeaders=host",
		"host:examplebucket.s3.amazonaws.com",
		"",
		"host",
		"UNSIGNED-PAYLOAD",
	}, "\n")
	hash := sha256.Sum256([]byte(canonical))
	const wantHash = "3bfa292879f6447bbcda7001decf97f4" +
		"a54dc650c8942174ae0a9121cf58ad04"
	if got := hex.EncodeToString(hash[:]); got != wantHash {
		t.Fatalf("canonical request hash = %s, want %s", got, wantHash)
	}

	date := formatAmzDate(time.Date(2013, 5, 24, 0, 0, 0, 0, time.UTC))
	if string(date[:]) != amzDate {
		t.Fatalf("formatAmzDate = %s, want %s", date[:], amzDate)
	}
	key := deriveSigV4Key(secret, [8]byte(date[:8]), region, "s3")
	sig, _ := key.sign(nil, &date, "/us-east-1/s3/aws4_request", &hash)
	const wantSig = "aeeed9bbccd4d02ee5c0109b86d86835" +
		"f995330da4c265957d157751f604d404"
	if string(sig[:]) != wantSig {
		t.Errorf("signature = %s, want %s", sig[:], wantSig)
	}
}

// AWS's IAM user guide publishes the signing key derived for this secret,
// date, region and service.
func TestSigV4PublishedSigningKey(t *testing.T) {
	date := [8]byte([]byte("20120215"))
	k := deriveSigV4Key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", date,
		"us-east-1", "iam")
	var key [sha256.Size]byte
	for i := range key {
		key[i] = k.innerPad[i] ^ 0x36
	}
	const want = "f4780e2d9f65fa895f9c67b32ce1baf0" +
		"b0d8a43505a000a1a9e090d414db404d"
	if got := hex.EncodeToString(key[:]); got != want {
		t.Errorf("signing key = %s, want %s", got, want)
	}
}

// benchmarkRequest returns a request with a content disposition and an
// 855-byte session token, an estimate of a typical STS token length.
func benchmarkRequest() signRequest {
	return signRequest{
		creds: aws.Credentials{
			AccessKeyID:     "ASIAEXAMPLEEXAMPLE12",
			SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
			SessionToken:    strings.Repeat("IQoJb3JpZ2luX2VjE+/", 45),
		},
		key:         "acme/tiny-llm/model-00001-of-00004.safetensors",
		disposition: ContentDisposition("model-00001-of-00004.safetensors"),
		time:        time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
		expires:     time.Hour,
	}
}

func BenchmarkURLSigner(b *testing.B) {
	s := newTestSigner(b, testConfigs[0])
	req := benchmarkRequest()
	b.ReportAllocs()
	for b.Loop() {
		s.Sign(req.creds, req.key, req.disposition, req.time, req.expires)
	}
}

func BenchmarkURLSignerParallel(b *testing.B) {
	s := newTestSigner(b, testConfigs[0])
	req := benchmarkRequest()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Sign(req.creds, req.key, req.disposition, req.time, req.expires)
		}
	})
}

// BenchmarkSDKPresign measures PresignGetObject as a server would call it
// per request: one shared client and presign client, the SDK's own clock.
func BenchmarkSDKPresign(b *testing.B) {
	cfg := testConfigs[0]
	req := benchmarkRequest()
	presigner := s3.NewPresignClient(newSDKClient(cfg, req.creds))
	input := &s3.GetObjectInput{
		Bucket:                     aws.String(cfg.Bucket),
		Key:                        aws.String(req.key),
		ResponseContentDisposition: aws.String(req.disposition),
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, err := presigner.PresignGetObject(ctx, input,
			s3.WithPresignExpires(req.expires))
		if err != nil {
			b.Fatalf("PresignGetObject error: %v", err)
		}
	}
}
