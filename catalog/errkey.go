package catalog

import "regexp"

// Patterns of the parts of an SDK error's text that differ between
// attempts that fail for the same reason. S3 and STS assign a request
// and host id to each request, each connection has its own local port,
// a reset may show up while connecting or while reading, and a request
// URL may carry a continuation token.
var (
	requestIDPattern = regexp.MustCompile(
		`\b(RequestID|HostID|RequestId|HostId): [^,\s]*`)
	localAddrPattern = regexp.MustCompile(
		`(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:.%\w]*\]):\d+->`)
	tokenPattern = regexp.MustCompile(`continuation-token=[^&"\s]*`)
	// netOpPattern matches the operation of a socket error, so that a
	// reset seen while connecting and one seen while reading are one
	// cause.
	netOpPattern = regexp.MustCompile(
		`\b(?:dial|read|write) (tcp[46]?) (?:\S+->)?(\S+): ` +
			`(?:connect|read|write): `)
)

// errorKey returns the text of err without the parts that change from
// one attempt to the next, so that repeated failures with one cause get
// the same key and are logged once.
func errorKey(err error) string {
	key := err.Error()
	key = requestIDPattern.ReplaceAllString(key, "$1: *")
	key = netOpPattern.ReplaceAllString(key, "$1 $2: ")
	key = localAddrPattern.ReplaceAllString(key, "*->")
	return tokenPattern.ReplaceAllString(key, "continuation-token=*")
}
