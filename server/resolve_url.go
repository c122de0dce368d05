package server

import (
	"net/http"

	"github.com/modelgate/modelgate/catalog"
	"github.com/modelgate/modelgate/presign"
)

// signedURLJSON is the response body of a resolve GET with
// redirect=false.
type signedURLJSON struct {
	URL       string `json:"url"`
	ExpiresAt string `json:"expires_at"`
	Size      int64  `json:"size"`
	ETag      string `json:"etag"`
}

// wantsURLOnly reports whether r is a GET that requests the signed URL
// as JSON with redirect=false. The redirect parameter parses like the other
// query booleans ("False" and "0" too), and absent means a redirect.
// An empty or invalid value or query string is a 400 error, for HEAD as
// well.
func wantsURLOnly(r *http.Request) (bool, error) {
	q, err := parseQuery(r)
	if err != nil {
		return false, err
	}
	v, ok := q["redirect"]
	if !ok {
		return false, nil
	}
	if v[0] == "" {
		// An empty value would read as false and turn the redirect
		// into JSON, which no client means by it.
		return false, badRequest(errorString(
			"empty redirect parameter; use redirect=false or leave it out"))
	}
	redirect, err := parseBool("redirect", v[0])
	if err != nil {
		return false, queryError("redirect", err)
	}
	return r.Method == http.MethodGet && !redirect, nil
}

// answerURL sends the pre-signed URL and the file's metadata as JSON, for
// scripts that fetch the file themselves, in response to a resolve GET
// with redirect=false. The request counts as a download by the same
// rules as the redirect, because handleResolve marks it as a file
// request. A zero-byte file gets a URL too, although S3 rejects a Range
// request on it with 416.
func answerURL(w http.ResponseWriter, f catalog.File, u presign.URL) {
	writeJSON(w, http.StatusOK, signedURLJSON{
		URL:       u.URL,
		ExpiresAt: u.Expires.UTC().Format(timeFormatJSON),
		Size:      f.Size,
		ETag:      f.QuotedETag(),
	})
}
