package pagerline

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/store/storetest"
)

// A good link that cannot be checked because the store does not answer (a
// replica that has not read the signing key yet) is "try again", not a
// forged link: Twilio and the engineer's phone would give up on a 403.
func TestMediaLinkUncheckableIsUnavailable(t *testing.T) {
	r := newRig(t, rigOptions{})
	link, err := r.h.signer.URL(context.Background(), "", "vm-1.mp3")
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.Faulty(r.st)
	other := New(Options{Config: r.cfg, Store: st, Jobs: r.q, Recordings: fakeRecordings{}, Audit: audit.New(st, r.clock.Now, nil), Now: r.clock.Now})
	st.Down()
	e := echo.New()
	e.GET("/media/:name", other.ServeMedia)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, link, nil))
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "invalid") {
		t.Fatalf("good link while the store is down: HTTP %d %s, want 503", rec.Code, rec.Body)
	}
	// An expired one is still refused: that needs no key.
	rec = httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/media/vm-1.mp3?exp=1&sig=00", nil))
	if rec.Code != http.StatusForbidden {
		t.Fatalf("expired link: HTTP %d %s, want 403", rec.Code, rec.Body)
	}
}
