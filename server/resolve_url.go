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

// answerURL sends the pre-signed URL and the file's metadata as JSON, for
// scripts that fetch the file themselves, in response to a resolve GET
// with redirect=false. It counts a download as the redirect does. A
// zero-byte file gets a URL too, although S3 rejects a Range request on
// it with 416.
func (s *Server) answerURL(w http.ResponseWriter, r *http.Request,
	m *catalog.Model, f *catalog.File, u presign.URL,
) {
	writeJSON(w, http.StatusOK, signedURLJSON{
		URL:       u.URL,
		ExpiresAt: u.Expires.UTC().Format(timeFormatJSON),
		Size:      f.Size,
		ETag:      `"` + f.ETag + `"`,
	})
	if wholeDownload(r) {
		s.metrics.download(m.ID)
	}
}
