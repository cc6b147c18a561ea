package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// ParseForm gives a handler exactly what r.ParseForm would, whatever the
// request: the shortcut applies only to the plain URL-encoded POST.
func TestParseFormMatchesStdlib(t *testing.T) {
	cases := []struct {
		name, target, ctype, body string
	}{
		{"twilio", "/hook", "application/x-www-form-urlencoded", "Body=WHO&From=%2B15555550101&To=%2B1555&Digits=5678&Digits=1234&Empty="},
		{"query too", "/hook?caller_num=%2B1212&Body=q", "application/x-www-form-urlencoded", "Body=b&X=1"},
		{"charset param", "/hook", "application/x-www-form-urlencoded; charset=utf-8", "Body=a+b"},
		{"no content type", "/hook", "", "Body=x"},
		{"json", "/hook", "application/json", `{"Body":"x"}`},
		{"empty", "/hook", "application/x-www-form-urlencoded", ""},
	}
	for _, tc := range cases {
		mk := func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			return r
		}
		want, got := mk(), mk()
		werr, gerr := want.ParseForm(), ParseForm(got)
		if (werr == nil) != (gerr == nil) || !reflect.DeepEqual(want.Form, got.Form) || !reflect.DeepEqual(want.PostForm, got.PostForm) {
			t.Errorf("%s: ParseForm = %v %v %v, stdlib = %v %v %v", tc.name, got.Form, got.PostForm, gerr, want.Form, want.PostForm, werr)
		}
	}
	for _, bad := range []string{"Body=%zz", "a=1;b=2"} {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(bad))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if err := ParseForm(r); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

// One request, one line: the handler's outcome rides on the access line.
func TestRequestLogCarriesOutcome(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	e := echo.New()
	e.Use(WrapRequestLog(log))
	e.POST("/who", func(c echo.Context) error {
		SetOutcome(c, Outcome{What: "who", Actor: "alice", Ref: "SM123"})
		return c.String(http.StatusOK, "ok")
	})
	e.POST("/plain", func(c echo.Context) error { return echo.NewHTTPError(http.StatusForbidden, "no") })
	for _, p := range []string{"/who", "/plain"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, p, strings.NewReader(url.Values{}.Encode())))
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want one line per request, got %q", lines)
	}
	var who, plain map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &who); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &plain); err != nil {
		t.Fatal(err)
	}
	if who["outcome"] != "who" || who["actor"] != "alice" || who["ref"] != "SM123" || who["status"] != float64(200) || who["path"] != "/who" {
		t.Errorf("access line = %v", who)
	}
	if _, ok := plain["outcome"]; ok || plain["status"] != float64(403) || plain["level"] != "WARN" {
		t.Errorf("access line without outcome = %v", plain)
	}
}
