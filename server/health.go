package server

import (
	"encoding/json"
	"net/http"
	"strings"
)

// handleHealthz reports liveness: the process is up and serving.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReadyz reports ready once the first catalog listing has
// succeeded and the Ready hook, if any, returns nil. Otherwise the reason
// names every cause. It never waits for a listing.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	var reasons []string
	if s.cat.Current() == nil {
		reasons = append(reasons, "catalog not loaded yet")
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			reasons = append(reasons, err.Error())
		}
	}
	reason := strings.Join(reasons, "; ")
	if reason != "" {
		writeJSON(w, http.StatusServiceUnavailable,
			map[string]string{"status": "not ready", "reason": reason})
		return
	}
	snap := s.cat.Current()
	writeJSON(w, http.StatusOK, map[string]any{
		"status":          "ready",
		"models":          len(snap.Models()),
		"files":           snap.Objects,
		"catalog_age_sec": int(s.now().Sub(snap.Loaded).Seconds()),
	})
}

// writeJSON sends v as a JSON response with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
