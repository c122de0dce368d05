package catalog

import "regexp"

// Parts of an SDK error's text that differ between attempts that fail
// for the same reason: the request and host ids S3 and STS assign to
// each request, the local address of the connection, and the
// continuation token in a request URL.
var (
	requestIDPattern = regexp.MustCompile(
		`\b(RequestID|HostID|RequestId|HostId): [^,\s]*`)
	localAddrPattern = regexp.MustCompile(
		`(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.%\w]*\]):\d+->`)
	tokenPattern = regexp.MustCompile(`continuation-token=[^&"\s]*`)
)

// errorKey returns the text of err without the parts that change from
// one attempt to the next, so that repeated failures with one cause get
// the same key and are logged once.
func errorKey(err error) string {
	key := err.Error()
	key = requestIDPattern.ReplaceAllString(key, "$1: *")
	key = localAddrPattern.ReplaceAllString(key, "*->")
	return tokenPattern.ReplaceAllString(key, "continuation-token=*")
}
