package presign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	sigV4Service   = "s3"

	// sigV4MaxExpires is the longest X-Amz-Expires that S3 accepts.
	sigV4MaxExpires = 7 * 24 * time.Hour

	// sigV4MaxPooledBuffer caps the buffers kept for reuse, so one huge
	// request does not pin its buffer in memory for good.
	sigV4MaxPooledBuffer = 64 << 10
)

// URLSigner pre-signs S3 GET URLs for one endpoint and bucket with
// Signature Version 4 in the query string. For the same inputs its URLs
// are byte-identical to those of the AWS SDK for Go v2's
// s3.PresignClient.PresignGetObject (a test checks this against
// service/s3 v1.115.0), including the SDK's x-id=GetObject parameter.
//
// URLSigner caches the signing key derived for the last credentials and
// UTC date it saw, so it derives a new key about once a day, or when the
// credentials change. Signers must be created with NewURLSigner. A
// URLSigner is safe for concurrent use and must not be copied after first
// use.
type URLSigner struct {
	// origin is scheme://host as clients will use it, port included.
	origin string
	// pathPrefix is "/" for virtual-hosted URLs and "/bucket/" otherwise.
	pathPrefix string
	// signedHost is the host header value covered by the signature.
	signedHost string
	region     string
	// scope is "/{region}/s3/aws4_request", the credential scope after
	// the date.
	scope string
	// escapedScope is scope with each '/' encoded as %2F.
	escapedScope string

	// signingState caches the per-credentials, per-date signing inputs.
	signingState atomic.Pointer[sigV4State]
	buffers      sync.Pool
}

// SignerConfig configures a URLSigner.
type SignerConfig struct {
	// Endpoint is the base URL that clients will use, such as
	// "https://s3.us-east-1.amazonaws.com" or "http://127.0.0.1:9000".
	// It may carry a port, but no user information, query or path other
	// than "/". The
	// empty string means https://s3.{Region}.amazonaws.com, or
	// amazonaws.com.cn for regions starting with "cn-".
	Endpoint string
	// Region is the signing region, such as "us-east-1". It is required.
	Region string
	// Bucket is the bucket that every signed URL addresses. It is
	// required.
	Bucket string
	// PathStyle puts the bucket in the path (/bucket/key). When false,
	// URLs are virtual-hosted (bucket.host/key), which requires a bucket
	// name that is one DNS label and an endpoint that is a host name, not
	// an IP address.
	PathStyle bool
}

// NewURLSigner returns a URLSigner for cfg. It returns an error when the
// region, bucket or endpoint is missing or invalid, or when a
// virtual-hosted URL cannot be formed from the bucket and endpoint.
func NewURLSigner(cfg SignerConfig) (*URLSigner, error) {
	if !isValidRegion(cfg.Region) {
		return nil, fmt.Errorf("presign: invalid region %q: %s",
			cfg.Region, regionRule)
	}
	if !isValidBucket(cfg.Bucket) {
		return nil, fmt.Errorf("presign: invalid bucket %q: %s",
			cfg.Bucket, bucketRule)
	}
	endpoint, err := parseEndpoint(cfg.Endpoint, cfg.Region)
	if err != nil {
		return nil, fmt.Errorf("presign: invalid endpoint %q: %w",
			cfg.Endpoint, err)
	}

	scope := "/" + cfg.Region + "/" + sigV4Service + "/aws4_request"
	s := &URLSigner{
		region:       cfg.Region,
		scope:        scope,
		escapedScope: strings.ReplaceAll(scope, "/", "%2F"),
	}
	host := endpoint.Host
	if cfg.PathStyle {
		s.pathPrefix = "/" + cfg.Bucket + "/"
	} else {
		if err := checkVirtualHosted(cfg.Bucket, endpoint); err != nil {
			return nil, fmt.Errorf("presign: %w: set PathStyle", err)
		}
		host = cfg.Bucket + "." + host
		s.pathPrefix = "/"
	}
	s.origin = endpoint.Scheme + "://" + host
	s.signedHost = hostWithoutDefaultPort(endpoint.Scheme, host)
	s.buffers.New = func() any {
		return &sigV4Buffer{b: make([]byte, 0, 4096)}
	}
	return s, nil
}

// parseEndpoint parses and checks SignerConfig.Endpoint, filling in the
// default AWS endpoint for region when raw is empty. Its errors give the
// reason only.
func parseEndpoint(raw, region string) (*url.URL, error) {
	if raw == "" {
		suffix := ".amazonaws.com"
		if strings.HasPrefix(region, "cn-") {
			suffix = ".amazonaws.com.cn"
		}
		// NOTE: partitions other than aws and aws-cn (such as the ISO
		// regions) use other domains, so they need an explicit Endpoint.
		raw = "https://s3." + region + suffix
	}

	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, errors.New("scheme must be http or https")
	case u.Host == "" || u.Opaque != "":
		return nil, errors.New("missing host")
	case u.User != nil:
		return nil, errors.New("user information is not allowed")
	case u.Path != "" && u.Path != "/", u.RawQuery != "", u.Fragment != "":
		return nil, errors.New("path, query and fragment are not allowed")
	}
	return u, nil
}

// checkVirtualHosted returns an error when bucket cannot be put in front of
// the endpoint's host name.
func checkVirtualHosted(bucket string, endpoint *url.URL) error {
	if !isDNSLabel(bucket) {
		return fmt.Errorf("bucket %q is not a DNS label, so it cannot "+
			"be part of a host name", bucket)
	}
	if net.ParseIP(endpoint.Hostname()) != nil {
		return fmt.Errorf("endpoint host %q is an IP address, so it "+
			"cannot take a bucket subdomain", endpoint.Hostname())
	}
	return nil
}

// hostWithoutDefaultPort returns host without ":443" for https or ":80"
// for http. The SDK's signer drops these ports from the signed host but
// keeps them in the URL, and URLSigner does the same.
func hostWithoutDefaultPort(scheme, host string) string {
	defaultPort := ":443"
	if scheme == "http" {
		defaultPort = ":80"
	}
	// NOTE: for an IPv6 literal such as "[::1]:443" the SDK (v1.48.0)
	// also drops the brackets, so there the URLs differ. URLSigner keeps
	// them, because a host header needs them around an IPv6 address.
	return strings.TrimSuffix(host, defaultPort)
}

// regionRule and bucketRule describe the valid regions and bucket names
// in errors.
const (
	regionRule = "want lowercase letters, digits and '-', such as eu-west-1"
	bucketRule = "want 1 to 255 letters, digits, '.', '-' or '_'"
)

func isValidRegion(region string) bool {
	if region == "" {
		return false
	}
	for i := 0; i < len(region); i++ {
		c := region[i]
		if !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// isValidBucket reports whether bucket is 1 to 255 characters from the
// set S3 has allowed in bucket names, including legacy names, and is not
// a dot segment. None of these characters needs escaping in a path.
func isValidBucket(bucket string) bool {
	if bucket == "" || len(bucket) > 255 || bucket == "." || bucket == ".." {
		return false
	}
	for i := 0; i < len(bucket); i++ {
		c := bucket[i]
		upper := 'A' <= c && c <= 'Z'
		if !isLowerAlnum(c) && !upper && c != '.' && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// isDNSLabel reports whether bucket is a 3 to 63 character DNS label of
// lowercase letters, digits and '-' that starts and ends with a letter or
// digit.
func isDNSLabel(bucket string) bool {
	n := len(bucket)
	if n < 3 || n > 63 {
		return false
	}
	if !isLowerAlnum(bucket[0]) || !isLowerAlnum(bucket[n-1]) {
		return false
	}
	for i := 0; i < n; i++ {
		if c := bucket[i]; !isLowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isLowerAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
}

// Sign returns the pre-signed GET URL for key, signed with creds at time
// t and valid for expires. The signature covers only the host header
// (X-Amz-SignedHeaders=host) and uses UNSIGNED-PAYLOAD. The URL carries
// X-Amz-Security-Token when creds.SessionToken is set and
// response-content-disposition when disposition is not empty.
//
// key is signed byte for byte: each byte outside A-Z a-z 0-9 - . _ ~ and
// '/' is percent-encoded, and no path cleaning is applied. Sign panics if
// key is empty, because such a URL would address the bucket itself.
// expires is truncated to whole seconds and then clamped to the range
// that S3 accepts, 1 second to 7 days. t must fall in years 0 to 9999,
// the range that the X-Amz-Date format can express.
func (s *URLSigner) Sign(creds aws.Credentials, key, disposition string,
	t time.Time, expires time.Duration) string {
	if key == "" {
		panic("presign: URLSigner.Sign called with an empty object key")
	}
	t = t.UTC()
	amzDate := formatAmzDate(t)
	state := s.signingStateFor(creds, amzDate)

	buf := s.buffers.Get().(*sigV4Buffer)
	defer s.putBuffer(buf)

	req := s.appendCanonicalRequest(buf.b[:0], state, key, disposition,
		amzDate, expires)
	hash := sha256.Sum256(req.b)
	sig, b := state.key.sign(req.b, &amzDate, s.scope, &hash)
	buf.b = b

	path := b[req.pathStart:req.pathEnd]
	query := b[req.queryStart:req.queryEnd]
	return s.assembleURL(path, query, &sig)
}

// sigV4Buffer is scratch space for one Sign call, reused through a pool.
type sigV4Buffer struct{ b []byte }

func (s *URLSigner) putBuffer(buf *sigV4Buffer) {
	if cap(buf.b) > sigV4MaxPooledBuffer {
		return
	}
	s.buffers.Put(buf)
}

// canonicalRequest is a SigV4 canonical request in b, with the offsets of
// its path and query, which reappear unchanged in the URL.
type canonicalRequest struct {
	b                    []byte
	pathStart, pathEnd   int
	queryStart, queryEnd int
}

// appendCanonicalRequest appends the canonical request for a GET of key to
// dst.
func (s *URLSigner) appendCanonicalRequest(dst []byte, state *sigV4State,
	key, disposition string, amzDate [16]byte,
	expires time.Duration) canonicalRequest {
	var r canonicalRequest
	dst = append(dst, "GET\n"...)
	r.pathStart = len(dst)
	dst = append(dst, s.pathPrefix...)
	dst = appendURIEncoded(dst, key, true)
	r.pathEnd = len(dst)
	dst = append(dst, '\n')

	r.queryStart = len(dst)
	dst = s.appendQuery(dst, state, disposition, amzDate, expires)
	r.queryEnd = len(dst)

	dst = append(dst, "\nhost:"...)
	dst = append(dst, s.signedHost...)
	dst = append(dst, "\n\nhost\nUNSIGNED-PAYLOAD"...)
	r.b = dst
	return r
}

// appendQuery appends the query of the URL without its signature. The
// parameters are in the byte order of their encoded names, as SigV4
// requires, which is also the order of the SDK's URLs.
func (s *URLSigner) appendQuery(dst []byte, state *sigV4State,
	disposition string, amzDate [16]byte, expires time.Duration) []byte {
	dst = append(dst, "X-Amz-Algorithm="+sigV4Algorithm...)
	dst = append(dst, "&X-Amz-Credential="...)
	dst = append(dst, state.escapedAccessKeyID...)
	dst = append(dst, "%2F"...)
	dst = append(dst, amzDate[:8]...)
	dst = append(dst, s.escapedScope...)
	dst = append(dst, "&X-Amz-Date="...)
	dst = append(dst, amzDate[:]...)
	dst = append(dst, "&X-Amz-Expires="...)
	dst = strconv.AppendInt(dst, expiresSeconds(expires), 10)
	if state.escapedSessionToken != "" {
		dst = append(dst, "&X-Amz-Security-Token="...)
		dst = append(dst, state.escapedSessionToken...)
	}
	dst = append(dst, "&X-Amz-SignedHeaders=host"...)
	if disposition != "" {
		dst = append(dst, "&response-content-disposition="...)
		dst = appendURIEncoded(dst, disposition, false)
	}
	// The SDK adds x-id=GetObject to every GetObject request, so the
	// URLs match only with it in the signed query.
	return append(dst, "&x-id=GetObject"...)
}

// expiresSeconds returns the X-Amz-Expires value for d.
func expiresSeconds(d time.Duration) int64 {
	d = min(max(d, time.Second), sigV4MaxExpires)
	return int64(d / time.Second)
}

// assembleURL joins the origin, path, query and signature into the URL,
// with exactly one allocation.
func (s *URLSigner) assembleURL(path, query []byte, sig *[64]byte) string {
	const sigParam = "&X-Amz-Signature="
	var u strings.Builder
	u.Grow(len(s.origin) + len(path) + 1 + len(query) + len(sigParam) +
		len(sig))
	u.WriteString(s.origin)
	u.Write(path)
	u.WriteByte('?')
	u.Write(query)
	u.WriteString(sigParam)
	u.Write(sig[:])
	return u.String()
}

// appendURIEncoded appends s to dst with every byte outside the RFC 3986
// unreserved set (A-Z a-z 0-9 - . _ ~) encoded as %XX in upper-case hex,
// as SigV4 requires. '/' stays as it is when keepSlash is true.
func appendURIEncoded(dst []byte, s string, keepSlash bool) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) || c == '/' && keepSlash {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&0x0f])
	}
	return dst
}

func isUnreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return c == '-' || c == '.' || c == '_' || c == '~'
}

// formatAmzDate formats t, which must be in UTC, as the X-Amz-Date value
// YYYYMMDDTHHMMSSZ. Its first 8 bytes are the credential scope date.
func formatAmzDate(t time.Time) [16]byte {
	year, month, day := t.Date()
	hour, minute, second := t.Clock()
	var d [16]byte
	putDigits(d[0:4], year)
	putDigits(d[4:6], int(month))
	putDigits(d[6:8], day)
	d[8] = 'T'
	putDigits(d[9:11], hour)
	putDigits(d[11:13], minute)
	putDigits(d[13:15], second)
	d[15] = 'Z'
	return d
}

// putDigits writes the low len(dst) decimal digits of v, zero-padded.
func putDigits(dst []byte, v int) {
	for i := len(dst) - 1; i >= 0; i-- {
		dst[i] = byte('0' + v%10)
		v /= 10
	}
}

// sigV4State contains what Sign needs for one set of credentials on one
// UTC date: the derived signing key and the query-encoded access key ID
// and session token. Values are immutable once built.
type sigV4State struct {
	accessKeyID  string
	secret       string
	sessionToken string
	date         [8]byte

	escapedAccessKeyID  string
	escapedSessionToken string
	key                 sigV4Key
}

// signingStateFor returns the cached signing state for creds on the date
// of amzDate, building and caching a new one when the credentials or the
// date differ. The cache contains one entry, so it is replaced about once
// a day, or whenever the credentials are rotated. Concurrent callers may
// each build an equal entry, and the last store wins.
func (s *URLSigner) signingStateFor(creds aws.Credentials,
	amzDate [16]byte) *sigV4State {
	date := [8]byte(amzDate[:8])
	st := s.signingState.Load()
	if st != nil && st.date == date && st.secret == creds.SecretAccessKey &&
		st.accessKeyID == creds.AccessKeyID &&
		st.sessionToken == creds.SessionToken {
		return st
	}

	st = &sigV4State{
		accessKeyID:  creds.AccessKeyID,
		secret:       creds.SecretAccessKey,
		sessionToken: creds.SessionToken,
		date:         date,
		escapedAccessKeyID: string(
			appendURIEncoded(nil, creds.AccessKeyID, false)),
		escapedSessionToken: string(
			appendURIEncoded(nil, creds.SessionToken, false)),
		key: deriveSigV4Key(creds.SecretAccessKey, date, s.region,
			sigV4Service),
	}
	s.signingState.Store(st)
	return st
}

// sigV4Key is a SigV4 signing key, kept as the two HMAC-SHA256 pad blocks
// of RFC 2104 so that signing needs only sha256.Sum256.
type sigV4Key struct {
	innerPad [sha256.BlockSize]byte
	outerPad [sha256.BlockSize]byte
}

// deriveSigV4Key derives the SigV4 signing key: HMAC-SHA256 chained over
// the date, region, service and "aws4_request", starting from
// "AWS4"+secret.
func deriveSigV4Key(secret string, date [8]byte, region,
	service string) sigV4Key {
	key := hmacSHA256([]byte("AWS4"+secret), date[:])
	key = hmacSHA256(key, []byte(region))
	key = hmacSHA256(key, []byte(service))
	key = hmacSHA256(key, []byte("aws4_request"))

	var k sigV4Key
	copy(k.innerPad[:], key)
	copy(k.outerPad[:], key)
	for i := range k.innerPad {
		k.innerPad[i] ^= 0x36
		k.outerPad[i] ^= 0x5c
	}
	return k
}

func hmacSHA256(key, data []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(data)
	return mac.Sum(nil)
}

// sign appends the inner pad and the string to sign to scratch, and
// returns the hex-encoded HMAC-SHA256 of that string with the grown
// scratch slice. canonicalHash is the SHA-256 of the canonical request.
func (k *sigV4Key) sign(scratch []byte, amzDate *[16]byte, scope string,
	canonicalHash *[32]byte) (sig [64]byte, grown []byte) {
	start := len(scratch)
	scratch = append(scratch, k.innerPad[:]...)
	scratch = append(scratch, sigV4Algorithm+"\n"...)
	scratch = append(scratch, amzDate[:]...)
	scratch = append(scratch, '\n')
	scratch = append(scratch, amzDate[:8]...)
	scratch = append(scratch, scope...)
	scratch = append(scratch, '\n')
	scratch = hex.AppendEncode(scratch, canonicalHash[:])
	inner := sha256.Sum256(scratch[start:])

	var outer [sha256.BlockSize + sha256.Size]byte
	copy(outer[:], k.outerPad[:])
	copy(outer[sha256.BlockSize:], inner[:])
	mac := sha256.Sum256(outer[:])
	hex.Encode(sig[:], mac[:])
	return sig, scratch
}
