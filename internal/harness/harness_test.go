package harness_test

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/oncall/pager/internal/harness"
)

// recordTB keeps the failures the harness reports, so a test can assert
// the harness fails a test, without failing itself.
type recordTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordTB) Helper() {}

func (r *recordTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordTB) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recordTB) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs) > 0
}

func (r *recordTB) failures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.errs, "\n")
}

// takePager has bob take the pager, which texts alice.
func takePager(h *harness.Harness) {
	h.Phone(harness.Bob).Text("TAKE").ThenReply("C").Expect("on call now")
}

func TestATextLeftUnexpectedFailsTheTest(t *testing.T) {
	rec := &recordTB{TB: t}
	t.Run("leaves a text", func(t *testing.T) {
		rec.TB = t
		takePager(harness.New(rec, harness.Options{}))
	})
	if got := rec.failures(); !strings.Contains(got, "did not expect") || !strings.Contains(got, "has taken the pager") {
		t.Fatalf("the harness reported %q; want the unexpected text", got)
	}
}

func TestExpectedTextsPass(t *testing.T) {
	h := harness.New(t, harness.Options{})
	takePager(h)
	alice := h.Phone(harness.Alice)
	alice.ExpectSMS("has taken the pager")
	alice.ExpectNoSMS()
	h.ExpectNoMore()
}

func TestExpectNoSMSFailsOnATextNotExpected(t *testing.T) {
	h := harness.New(t, harness.Options{})
	takePager(h)
	h.Phone(harness.Carol).Text("TAKE").ThenReply("C").Expect("on call now")
	bob := h.Phone(harness.Bob)
	bob.ExpectSMS("Carol Jones has taken the pager")
	alice := h.Phone(harness.Alice)
	rec := &recordTB{TB: t}
	h.T = rec // the assertion below reports here
	done := make(chan struct{})
	go func() {
		defer close(done)
		alice.ExpectNoSMS()
	}()
	<-done
	h.T = t
	if got := rec.failures(); !strings.Contains(got, "unexpected SMS") || !strings.Contains(got, "Bob Roberts has taken the pager") {
		t.Fatalf("ExpectNoSMS reported %q; want alice's text", got)
	}
	alice.ExpectSMS("Bob Roberts has taken the pager") // leave nothing for the end
}
