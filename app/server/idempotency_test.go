package server

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/store/local"
)

func TestWrapTwilioIdempotency(t *testing.T) {
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	once := intake.NewOnce(st, "", nil)
	acted, fail := 0, false
	e := echo.New()
	e.POST("/hook", WrapTwilioIdempotency(once, slog.New(slog.DiscardHandler))(func(c echo.Context) error {
		acted++
		if fail {
			return errors.New("store down")
		}
		return c.String(http.StatusOK, "<Response><Message>done</Message></Response>")
	}))
	post := func(token string) (int, string) {
		req := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("Body=1a"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if token != "" {
			req.Header.Set(TwilioIdempotencyHeader, token)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}

	if code, body := post("tok-1"); code != http.StatusOK || !strings.Contains(body, "done") || acted != 1 {
		t.Fatalf("first: %d %q acted %d", code, body, acted)
	}
	if code, body := post("tok-1"); code != http.StatusOK || strings.Contains(body, "done") || acted != 1 {
		t.Fatalf("retry: %d %q acted %d", code, body, acted)
	}
	// Without a token every delivery acts.
	post("")
	post("")
	if acted != 3 {
		t.Fatalf("without token acted %d times, want 3", acted)
	}
	// A failed first delivery is forgotten, so Twilio's retry acts.
	fail = true
	if code, _ := post("tok-2"); code < 500 {
		t.Fatalf("failing handler answered %d", code)
	}
	fail = false
	if code, body := post("tok-2"); code != http.StatusOK || !strings.Contains(body, "done") || acted != 5 {
		t.Fatalf("retry after failure: %d %q acted %d", code, body, acted)
	}
}
