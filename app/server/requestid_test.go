package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// Every line a request logs with its context, the access line included,
// names the request; the answer echoes the id. An incoming X-Request-Id is
// kept when it is sane and replaced otherwise.
func TestRequestIDOnEveryLineOfARequest(t *testing.T) {
	for _, order := range []string{"log outside id (server.New)", "id outside log"} {
		t.Run(order, func(t *testing.T) { testRequestIDLines(t, order == "id outside log") })
	}
}

func testRequestIDLines(t *testing.T, idOutside bool) {
	var buf bytes.Buffer
	log := slog.New(RequestIDLogs(slog.NewJSONHandler(&buf, nil)))
	e := echo.New()
	if idOutside {
		e.Use(WrapRequestID())
		e.Use(WrapRequestLog(log))
	} else {
		e.Use(WrapRequestLog(log))
		e.Use(WrapRequestID())
	}
	e.GET("/x", func(c echo.Context) error {
		log.InfoContext(c.Request().Context(), "handler line")
		log.Info("background line")
		return c.NoContent(http.StatusNoContent)
	})
	generated := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, tc := range []struct {
		name, in string
		keep     bool
	}{
		{"sane id kept", "req-42:abc.DEF_9", true},
		{"none", "", false},
		{"too long", strings.Repeat("a", 65), false},
		{"unsafe characters", "id\" injected=1", false},
		{"line break", "a\nb", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			req := httptest.NewRequest(http.MethodGet, "/x", nil)
			if tc.in != "" {
				req.Header[RequestIDHeader] = []string{tc.in}
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			id := rec.Header().Get(RequestIDHeader)
			if tc.keep && id != tc.in {
				t.Fatalf("answer id %q; want the incoming %q", id, tc.in)
			}
			if !tc.keep && !generated.MatchString(id) {
				t.Fatalf("answer id %q; want a fresh one", id)
			}
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 3 {
				t.Fatalf("want 3 log lines, got %q", lines)
			}
			for _, l := range lines {
				if n := strings.Count(l, `"request_id"`); n > 1 {
					t.Errorf("request_id %d times in %s", n, l)
				}
				var rec map[string]any
				if err := json.Unmarshal([]byte(l), &rec); err != nil {
					t.Fatal(err)
				}
				got, _ := rec["request_id"].(string)
				switch rec["msg"] {
				case "background line":
					if got != "" {
						t.Errorf("a line logged without the request's context carries %q", got)
					}
				default:
					if got != id {
						t.Errorf("%s line: request_id %q, want %q", rec["msg"], got, id)
					}
				}
			}
		})
	}
}
