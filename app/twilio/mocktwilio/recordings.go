package mocktwilio

import (
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var recordingSID = regexp.MustCompile(`^RE[0-9a-fA-F]{32}$`)

// AddRecording registers data as the media of recording sid ("" for a fresh
// SID) and returns its URL in the form Twilio posts as RecordingUrl:
// <base>/2010-04-01/Accounts/AC…/Recordings/RE…, without extension.
func (s *Server) AddRecording(sid string, data []byte) (recordingURL string) {
	s.t.Helper()
	if sid == "" {
		sid = "RE" + randHex(16)
	}
	if !recordingSID.MatchString(sid) {
		s.t.Fatalf("mocktwilio: %q is not a recording SID (RE and 32 hex digits)", sid)
	}
	s.mu.Lock()
	s.recordings[sid] = append([]byte(nil), data...)
	s.mu.Unlock()
	return s.recordingURL(sid)
}

func (s *Server) recordingURL(sid string) string {
	return s.srv.URL + "/2010-04-01/Accounts/" + s.accountSID + "/Recordings/" + sid
}

// HasRecording reports whether recording sid exists (was added and not
// deleted).
func (s *Server) HasRecording(sid string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.recordings[sid]
	return ok
}

// serveRecording handles …/Recordings/{name}: media (.mp3, .wav), metadata
// (.json) and deletion.
func (s *Server) serveRecording(w http.ResponseWriter, r *http.Request, name string) {
	ext := path.Ext(name)
	sid := strings.TrimSuffix(name, ext)
	s.mu.Lock()
	data, ok := s.recordings[sid]
	if ok && r.Method == http.MethodDelete && ext == ".json" {
		delete(s.recordings, sid)
	}
	s.mu.Unlock()
	if !ok {
		writeNotFound(w, r)
		return
	}

	switch {
	case r.Method == http.MethodGet && (ext == ".mp3" || ext == ".wav"):
		ct := "audio/mpeg"
		if ext == ".wav" {
			ct = "audio/x-wav"
		}
		w.Header().Set("Content-Type", ct)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(data)
	case r.Method == http.MethodGet && ext == ".json":
		now := twilioTime(time.Now())
		writeJSON(w, http.StatusOK, map[string]any{
			"account_sid":  s.accountSID,
			"api_version":  "2010-04-01",
			"call_sid":     nil,
			"channels":     1,
			"date_created": now,
			"date_updated": now,
			"duration":     "-1",
			"media_url":    s.recordingURL(sid),
			"sid":          sid,
			"source":       "RecordVerb",
			"status":       "completed",
			"uri":          "/2010-04-01/Accounts/" + s.accountSID + "/Recordings/" + sid + ".json",
		})
	case r.Method == http.MethodDelete && ext == ".json":
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
	}
}
