package storetest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Fault sits in front of the fake S3 server's HTTP handler and simulates an
// outage. Failed requests answer 503 with an S3 error document, as S3 does
// under throttling or an availability event. Requests are counted whether
// they fail or not.
type Fault struct {
	g    gate
	next http.Handler

	mu   sync.Mutex
	lose []*loss
}

// loss is a LoseNext still to apply.
type loss struct {
	method, suffix string
	left           int
}

// NewFault wraps next; StartS3 does this for you.
func NewFault(next http.Handler) *Fault { return &Fault{next: next} }

// Down makes every request fail until Up.
func (f *Fault) Down() { f.g.setDown(true) }

// Up ends an outage started by Down (FailNext is unaffected).
func (f *Fault) Up() { f.g.setDown(false) }

// DenyWrites makes every write (PUT, POST, DELETE) fail with 403
// AccessDenied while reads go on working, as a bucket policy or a role that
// lost s3:PutObject does; AllowWrites ends it.
func (f *Fault) DenyWrites() { f.g.setReadOnly(true) }

// AllowWrites ends DenyWrites.
func (f *Fault) AllowWrites() { f.g.setReadOnly(false) }

// FailNext fails the next n requests, then serves normally.
func (f *Fault) FailNext(n int) { f.g.setFailNext(n) }

// LoseNext carries out the next n requests of method whose path ends in
// suffix and then answers them 500 InternalError, as S3 may after it
// committed a write: the caller cannot tell the write landed.
func (f *Fault) LoseNext(method, suffix string, n int) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lose = append(f.lose, &loss{method: method, suffix: suffix, left: n})
}

func (f *Fault) takeLoss(r *http.Request) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range f.lose {
		if l.method == r.Method && strings.HasSuffix(r.URL.Path, l.suffix) {
			if l.left--; l.left == 0 {
				f.lose = append(f.lose[:i], f.lose[i+1:]...)
			}
			return true
		}
	}
	return false
}

// Requests returns how many requests arrived, by HTTP method ("GET", "PUT",
// "HEAD", "DELETE", ...), since the start or the last ResetRequests.
func (f *Fault) Requests() map[string]int { return f.g.snapshot() }

// Total is the sum of Requests.
func (f *Fault) Total() int { return total(f.g.snapshot()) }

// ResetRequests zeroes the counters.
func (f *Fault) ResetRequests() { f.g.reset() }

// ServeHTTP implements http.Handler.
func (f *Fault) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	fail, down := f.g.admit(r.Method)
	if !fail && f.g.isReadOnly() && r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>storetest: writes denied</Message><RequestId>storetest-fault</RequestId></Error>`)
		return
	}
	if !fail && f.takeLoss(r) {
		f.next.ServeHTTP(httptest.NewRecorder(), r)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>InternalError</Code><Message>storetest: answer lost</Message><RequestId>storetest-fault</RequestId></Error>`)
		return
	}
	if !fail {
		f.next.ServeHTTP(w, r)
		return
	}
	code := "SlowDown"
	if down {
		code = "ServiceUnavailable"
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	if r.Method == http.MethodHead {
		return
	}
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>%s</Code><Message>storetest: simulated outage</Message><RequestId>storetest-fault</RequestId></Error>`, code)
}
