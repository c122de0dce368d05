package server

import (
	"strconv"
	"strings"
)

// prefersHTML reports whether the Accept header ranks text/html strictly
// above application/json. Browsers navigating to a page send text/html
// with a higher quality than the "*/*" that covers JSON. API clients send
// application/json, "*/*" alone or no Accept header, and get JSON, so a
// tie goes to JSON.
func prefersHTML(accept string) bool {
	if accept == "" {
		return false
	}
	return acceptQuality(accept, "text", "html") >
		acceptQuality(accept, "application", "json")
}

// acceptQuality returns the quality that an Accept header gives the media
// type typ/sub: the q of its most specific matching range, or 0 when no
// range matches. Malformed ranges and q values count as no match.
func acceptQuality(accept, typ, sub string) float64 {
	best, bestRank := 0.0, -1
	for part := range strings.SplitSeq(accept, ",") {
		rng, params, _ := strings.Cut(part, ";")
		rt, rs, ok := strings.Cut(strings.TrimSpace(rng), "/")
		if !ok {
			continue
		}
		rank := matchRank(rt, rs, typ, sub)
		if rank < 0 || rank < bestRank {
			continue
		}
		q, ok := qualityParam(params)
		if !ok {
			continue
		}
		if rank > bestRank || q > best {
			best, bestRank = q, rank
		}
	}
	return best
}

// matchRank returns how specifically the range rt/rs matches typ/sub:
// 2 for an exact match, 1 for "type/*", 0 for "*/*" and -1 for none.
func matchRank(rt, rs, typ, sub string) int {
	switch {
	case rt == "*" && rs == "*":
		return 0
	case !strings.EqualFold(rt, typ):
		return -1
	case rs == "*":
		return 1
	case strings.EqualFold(rs, sub):
		return 2
	}
	return -1
}

// qualityParam returns the q parameter of a media range's parameters, or
// 1 when there is none. It reports false for a q outside 0..1.
func qualityParam(params string) (float64, bool) {
	for p := range strings.SplitSeq(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || q < 0 || q > 1 {
			return 0, false
		}
		return q, true
	}
	return 1, true
}
