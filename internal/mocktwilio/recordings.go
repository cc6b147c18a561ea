package mocktwilio

import (
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

var recordingSID = regexp.MustCompile(`^RE[0-9a-fA-F]{32}$`)

// recording is one recording the mock holds.
type recording struct {
	data     []byte
	callSID  string // "" when added without a call
	duration int    // seconds; -1 when unknown
	created  time.Time
}

// AddRecording registers data as the media of recording sid ("" for a fresh
// SID) and returns its URL in the form Twilio posts as RecordingUrl:
// <base>/2010-04-01/Accounts/AC…/Recordings/RE…, without extension.
func (s *Server) AddRecording(sid string, data []byte) (recordingURL string) {
	s.t.Helper()
	return s.addRecording(sid, "", data, -1)
}

// AddRecordingFor is AddRecording for a recording (fresh SID) of call
// callSID, seconds long, as <Record> leaves one. It returns the SID and the
// RecordingUrl.
func (s *Server) AddRecordingFor(callSID string, data []byte, seconds int) (sid, recordingURL string) {
	s.t.Helper()
	if !callSIDPattern.MatchString(callSID) {
		s.t.Fatalf("mocktwilio: %q is not a call SID (CA and 32 hex digits)", callSID)
	}
	sid = "RE" + randHex(16)
	return sid, s.addRecording(sid, callSID, data, seconds)
}

func (s *Server) addRecording(sid, callSID string, data []byte, seconds int) string {
	s.t.Helper()
	if sid == "" {
		sid = "RE" + randHex(16)
	}
	if !recordingSID.MatchString(sid) {
		s.t.Fatalf("mocktwilio: %q is not a recording SID (RE and 32 hex digits)", sid)
	}
	s.mu.Lock()
	s.recordings[sid] = &recording{data: append([]byte(nil), data...), callSID: callSID, duration: seconds, created: time.Now()}
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

// recordingJSON is a recording resource as Twilio's 2010 API renders it.
func (s *Server) recordingJSON(sid string, rec *recording) map[string]any {
	created := twilioTime(rec.created)
	var callSID any
	if rec.callSID != "" {
		callSID = rec.callSID
	}
	return map[string]any{
		"account_sid":  s.accountSID,
		"api_version":  "2010-04-01",
		"call_sid":     callSID,
		"channels":     1,
		"date_created": created,
		"date_updated": created,
		"duration":     strconv.Itoa(rec.duration),
		"media_url":    s.recordingURL(sid),
		"sid":          sid,
		"source":       "RecordVerb",
		"status":       "completed",
		"uri":          "/2010-04-01/Accounts/" + s.accountSID + "/Recordings/" + sid + ".json",
	}
}

// listRecordings is GET Recordings.json: oldest first (Twilio lists newest
// first; nothing here depends on the order), paged by PageSize and Page.
// DateCreated> is honoured to the second.
func (s *Server) listRecordings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var after time.Time
	if v := q.Get("DateCreated>"); v != "" {
		after, _ = time.Parse(time.RFC3339, v) // the spec check vouches for it
	}
	callSID := q.Get("CallSid")
	size := 50
	if v, err := strconv.Atoi(q.Get("PageSize")); err == nil && v > 0 {
		size = v
	}
	page, _ := strconv.Atoi(q.Get("Page"))

	type entry struct {
		sid string
		rec *recording
	}
	s.mu.Lock()
	var all []entry
	for sid, rec := range s.recordings {
		if rec.created.Before(after.Truncate(time.Second)) || (callSID != "" && rec.callSID != callSID) {
			continue
		}
		all = append(all, entry{sid, rec})
	}
	slices.SortFunc(all, func(a, b entry) int {
		if c := a.rec.created.Compare(b.rec.created); c != 0 {
			return c
		}
		return strings.Compare(a.sid, b.sid)
	})
	items := []map[string]any{}
	start := min(page*size, len(all))
	end := min(start+size, len(all))
	for _, e := range all[start:end] {
		items = append(items, s.recordingJSON(e.sid, e.rec))
	}
	s.mu.Unlock()

	base := "/2010-04-01/Accounts/" + s.accountSID + "/Recordings.json"
	pageURI := func(p int) string {
		v := q
		v.Set("PageSize", strconv.Itoa(size))
		v.Set("Page", strconv.Itoa(p))
		return base + "?" + v.Encode()
	}
	var next any
	if end < len(all) {
		next = pageURI(page + 1)
	}
	var prev any
	if page > 0 {
		prev = pageURI(page - 1)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"recordings":        items,
		"start":             start,
		"end":               max(end-1, start),
		"page":              page,
		"page_size":         size,
		"uri":               pageURI(page),
		"first_page_uri":    pageURI(0),
		"next_page_uri":     next,
		"previous_page_uri": prev,
	})
}

// serveRecording handles …/Recordings/{name}: media (.mp3, .wav), metadata
// (.json) and deletion.
func (s *Server) serveRecording(w http.ResponseWriter, r *http.Request, name string) {
	ext := path.Ext(name)
	sid := strings.TrimSuffix(name, ext)
	s.mu.Lock()
	rec, ok := s.recordings[sid]
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
		w.Header().Set("Content-Length", strconv.Itoa(len(rec.data)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(rec.data)
	case r.Method == http.MethodGet && ext == ".json":
		writeJSON(w, http.StatusOK, s.recordingJSON(sid, rec))
	case r.Method == http.MethodDelete && ext == ".json":
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, http.StatusMethodNotAllowed, 20004, "Method not allowed")
	}
}
