package server

import (
	"net/http"
	"net/textproto"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/modelgate/modelgate/catalog"
)

// The gateway never receives the bytes of a download, because it
// responds with a redirect and the client fetches the file from S3. So a
// download is counted when the gateway hands one out. A request for a
// file counts as a download of its model when all of these hold:
//
//   - the method is GET, not HEAD;
//   - the response is a redirect (302 or 307), or 200 for an empty file,
//     whose empty content the gateway sends itself, or for a pre-signed
//     URL sent as JSON (redirect=false); never 4xx or 5xx;
//   - the request asks for the file from its first byte: it has no
//     Range header, or a single byte range that starts at byte 0, such
//     as "bytes=0-" or "bytes=0-999";
//   - the range is not "bytes=0-0", the one-byte probe with which the
//     JavaScript Hub client reads a file's size before it downloads it.
//
// So a resumed or multi-connection download counts once, for the part
// that starts at byte 0, and a suffix range ("bytes=-500"), a list of
// several ranges or a Range header that does not parse never counts.

// setFileRequest marks r as a request for a file's content, whose
// response may count as a download of the model given to setModel.
func setFileRequest(r *http.Request) {
	if info := requestInfoFrom(r.Context()); info != nil {
		info.file = true
	}
}

// countsAsDownload reports whether a request for a file, whose response
// has the given status, is a whole download by the rules above.
func countsAsDownload(r *http.Request, status int) bool {
	if r.Method != http.MethodGet {
		return false
	}
	switch status {
	case http.StatusFound, http.StatusTemporaryRedirect, http.StatusOK:
		return wholeDownload(r.Header.Values("Range"))
	}
	return false
}

// wholeDownload reports whether the values of a request's Range header
// ask for a file from its first byte, other than the bytes=0-0 probe.
// It parses them by the grammar of RFC 9110, section 14.1.2, leniently:
// the range unit compares case-insensitively, and whitespace around the
// unit, the range set and each position is ignored. A header whose
// value is empty or only whitespace counts as absent.
func wholeDownload(ranges []string) bool {
	switch len(ranges) {
	case 0:
		return true
	case 1:
	default:
		return false
	}
	v := textproto.TrimString(ranges[0])
	if v == "" {
		return true
	}
	unit, set, ok := strings.Cut(v, "=")
	if !ok || !strings.EqualFold(textproto.TrimString(unit), "bytes") {
		return false
	}

	// An empty element of a list is allowed and means nothing.
	var spec string
	n := 0
	for elem := range strings.SplitSeq(set, ",") {
		if elem = textproto.TrimString(elem); elem != "" {
			spec = elem
			n++
		}
	}
	if n != 1 {
		return false
	}

	first, last, ok := strings.Cut(spec, "-")
	first = textproto.TrimString(first)
	last = textproto.TrimString(last)
	if !ok || !isZero(first) {
		return false
	}
	return last == "" || isDigits(last) && !isZero(last)
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isZero reports whether s is one or more '0' digits.
func isZero(s string) bool {
	return s != "" && strings.Trim(s, "0") == ""
}

// download counts a whole download of model. It reports false, and
// counts nothing, when the model is not in the catalog that
// CatalogRefreshed last reported, so that no request can create a
// series.
func (m *Metrics) download(model string) bool {
	if m == nil {
		return false
	}
	c, ok := (*m.models.Load())[model]
	if ok {
		c.Inc()
	}
	return ok
}

// CatalogRefreshed records the outcome of a catalog listing. It is meant
// to be the catalog's [catalog.Config].OnRefresh hook, because downloads
// count only for the models it has reported. On success it creates a
// downloads series at zero for every model in s, so that increase()
// sees a model's first download. It also deletes the series of models
// that have left the bucket. On failure it counts the failure and keeps
// everything else.
//
// NOTE: the catalog publishes a snapshot just before it calls this hook,
// so a download of a newly added model in between is not counted.
func (m *Metrics) CatalogRefreshed(s *catalog.Snapshot, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.catalogFailures.Inc()
		return
	}
	m.catalogModels.Set(float64(len(s.Models())))
	m.catalogFiles.Set(float64(s.Objects))
	m.catalogSkipped.Set(float64(s.Skipped))
	m.unverified.Set(float64(s.Unverified))
	m.catalogLoaded.Set(unixSeconds(s.Loaded))
	m.trackModels(s.Models())
}

// trackModels makes models the set whose downloads are counted.
func (m *Metrics) trackModels(models []*catalog.Model) {
	m.refreshMu.Lock()
	defer m.refreshMu.Unlock()
	current := *m.models.Load()
	next := make(map[string]prometheus.Counter, len(models))
	for _, model := range models {
		c, ok := current[model.ID]
		if !ok {
			var err error
			c, err = m.downloads.GetMetricWithLabelValues(model.ID)
			if err != nil {
				m.log.Warn("downloads of this model are not counted",
					"model", model.ID, "err", err)
				continue
			}
		}
		next[model.ID] = c
	}
	m.models.Store(&next)
	for id := range current {
		if _, ok := next[id]; !ok {
			m.downloads.DeleteLabelValues(id)
		}
	}
}
