package mocktwilio

import (
	"net/http"
	"strings"
)

type fault struct {
	suffix       string
	status, code int
	left         int
	// lose: the request is carried out and its answer lost (LoseNext).
	lose bool
}

// knownMessages are Twilio's wording for the errors tests inject most.
var knownMessages = map[int]string{
	20003: "Authenticate",
	20404: "The requested resource was not found",
	20429: "Too Many Requests",
	20500: "An internal server error has occurred",
	20503: "Service is unavailable. Please try again",
	21211: "The 'To' number is not a valid phone number.",
	21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
	21610: "Attempt to send to unsubscribed recipient",
	21612: "The 'To' phone number is not currently reachable using the 'From' phone number via SMS.",
	21614: "'To' number is not a valid mobile number",
}

func (f *fault) message() string {
	if m, ok := knownMessages[f.code]; ok {
		return m
	}
	return http.StatusText(f.status)
}

// FailNext makes the next n requests whose path ends in pathSuffix (e.g.
// "Messages.json", "Calls.json", ".mp3") fail with HTTP status and Twilio
// error code (0 for Twilio's generic 20xxx code of that status, e.g. 20500).
// Faults apply after the spec and credential checks, in the order added.
//
//	mock.FailNext("Messages.json", 400, 21610, 1) // recipient replied STOP
//	mock.FailNext("Calls.json", 503, 0, 2)        // two outages, then fine
func (s *Server) FailNext(pathSuffix string, status, code int, n int) {
	if n <= 0 {
		return
	}
	if code == 0 {
		switch status {
		case 401:
			code = 20003
		case 404, 429, 500, 503:
			code = 20000 + status
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{suffix: pathSuffix, status: status, code: code, left: n})
}

// LoseNext makes the next n requests whose path ends in pathSuffix take
// effect (a text is accepted, a call placed) and then lose their answer: the
// connection closes before the reply, as when the network fails after
// Twilio accepted a request. The client sees an error for something that
// happened. Such requests are in Requests with status 0.
func (s *Server) LoseNext(pathSuffix string, n int) {
	if n <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{suffix: pathSuffix, left: n, lose: true})
}

// takeFault consumes one use of the first fault matching p.
func (s *Server) takeFault(p string) *fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if !strings.HasSuffix(p, f.suffix) {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}
