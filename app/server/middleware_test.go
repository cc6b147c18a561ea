package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/twilio"
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
	// The declared length is only a claim: a body longer or shorter than
	// it (a hand-built request) is read to its end, as r.ParseForm does.
	for _, d := range []int64{-1, 5, 1 << 20} {
		cases = append(cases, struct{ name, target, ctype, body string }{
			fmt.Sprint("declared ", d), "/hook", "application/x-www-form-urlencoded", "Body=WHO&From=%2B15555550101"})
	}
	for _, tc := range cases {
		mk := func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, tc.target, strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			if d, ok := strings.CutPrefix(tc.name, "declared "); ok {
				_, _ = fmt.Sscan(d, &r.ContentLength)
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

// The calendar feed's token is its only credential: the access line (and
// the error line) names the route, never the token, also for a path that
// is no feed; other paths are logged as they are, at no cost.
func TestRequestLogHidesCalendarToken(t *testing.T) {
	const token = "cal_s3cret-token"
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	e := echo.New()
	e.HTTPErrorHandler = errorHandler(log)
	e.Use(WrapRequestLog(log))
	e.GET("/calendar/:file", func(c echo.Context) error { return c.String(http.StatusOK, "BEGIN:VCALENDAR") })
	e.GET("/calendar/broken/:file", func(c echo.Context) error { return fmt.Errorf("feed broke") })
	for _, p := range []string{"/calendar/" + token + ".ics", "/calendar/" + token + "/x", "//calendar/" + token + ".ics", "/calendar/broken/" + token + ".ics"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, p, nil))
	}
	out := buf.String()
	if strings.Contains(out, token) {
		t.Errorf("token logged:\n%s", out)
	}
	if n := strings.Count(out, `"path":"/calendar/***"`); n != 4 {
		t.Errorf("%d lines name the calendar route:\n%s", n, out)
	}
	if n := strings.Count(out, `"path":"//calendar/***"`); n != 1 {
		t.Errorf("odd path not masked:\n%s", out)
	}
	for _, p := range []string{"/who", "/heartbeat/nightly", "/calendar", "/ui/calendar"} {
		if got := logPath(p); got != p {
			t.Errorf("logPath(%q) = %q", p, got)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = logPath("/msgcontrol/entry") }); n != 0 {
		t.Errorf("logPath allocates %v for another route", n)
	}
}

// A body over the limit is refused whether its length is declared (413,
// before reading) or not (chunked: the read fails, the form is refused).
func TestBodyLimit(t *testing.T) {
	e := echo.New()
	var read int
	e.POST("/hook", func(c echo.Context) error {
		if err := ParseForm(c.Request()); err != nil {
			return echo.NewHTTPError(http.StatusBadRequest, "malformed form body")
		}
		read++
		return c.NoContent(http.StatusNoContent)
	}, WrapBodyLimit(16))
	for _, tc := range []struct {
		body    string
		chunked bool
		want    int
	}{
		{"Body=short", false, http.StatusNoContent},
		{"Body=short", true, http.StatusNoContent},
		{"Body=" + strings.Repeat("x", 32), false, http.StatusRequestEntityTooLarge},
		{"Body=" + strings.Repeat("x", 32), true, http.StatusBadRequest},
	} {
		r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if tc.chunked {
			r.ContentLength = -1
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%d bytes, chunked %v: %d, want %d", len(tc.body), tc.chunked, w.Code, tc.want)
		}
	}
	if read != 2 {
		t.Errorf("handler read %d forms, want 2", read)
	}
}

// The signed URL is the base plus the request's path and query, whatever
// the route saw before.
func TestSignedURLOf(t *testing.T) {
	var last atomic.Pointer[signedURL]
	for _, tc := range []struct{ target, want string }{
		{"/public/answer", "https://p.example/public/answer"},
		{"/public/answer", "https://p.example/public/answer"},
		{"/public/callstatus?job=vm-1", "https://p.example/public/callstatus?job=vm-1"},
		{"/public/callstatus?job=vm-2", "https://p.example/public/callstatus?job=vm-2"},
		{"/public/a%20b", "https://p.example/public/a%20b"},
		{"/public/answer", "https://p.example/public/answer"},
	} {
		u, err := url.ParseRequestURI(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		if got := signedURLOf(&last, "https://p.example", u); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.target, got, tc.want)
		}
	}
}

// The signature check gets the body's fields in order, as parsed into the
// form, and nothing for a request the shortcut does not take.
func TestParseFormListsFields(t *testing.T) {
	mk := func(target, body string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return r
	}
	var fields []twilio.Param
	r := mk("/hook", "Body=WHO+now&From=%2B15555550101&&Digits=5678&Digits=1234&Empty=&Bare")
	listed, err := parseForm(r, &fields)
	want := []twilio.Param{{Name: "Body", Value: "WHO now"}, {Name: "From", Value: "+15555550101"},
		{Name: "Digits", Value: "5678"}, {Name: "Digits", Value: "1234"}, {Name: "Empty"}, {Name: "Bare"}}
	if err != nil || !listed || !reflect.DeepEqual(fields, want) {
		t.Fatalf("parseForm = %v, %v, %q; want listed %q", listed, err, fields, want)
	}
	std := mk("/hook", "Body=WHO+now&From=%2B15555550101&&Digits=5678&Digits=1234&Empty=&Bare")
	if err := std.ParseForm(); err != nil || !reflect.DeepEqual(r.PostForm, std.PostForm) {
		t.Fatalf("form %v, stdlib %v (%v)", r.PostForm, std.PostForm, err)
	}
	for _, tc := range []struct{ target, body string }{
		{"/hook?x=1", "Body=a"},
		{"/hook", "Body=%zz"},
		{"/hook", "a=1;b=2"},
	} {
		fields = fields[:0]
		r := mk(tc.target, tc.body)
		listed, err := parseForm(r, &fields)
		std := mk(tc.target, tc.body)
		serr := std.ParseForm()
		if listed || len(fields) != 0 || (err == nil) != (serr == nil) {
			t.Errorf("%s %q: listed %v, %d fields, err %v; stdlib err %v", tc.target, tc.body, listed, len(fields), err, serr)
		}
	}
}

// The values share one array: a handler adding to one name must not
// overwrite the next name's value.
func TestParseFormValuesIndependent(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/hook", strings.NewReader("A=1&B=2&C=3"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := ParseForm(r); err != nil {
		t.Fatal(err)
	}
	r.PostForm.Add("A", "x")
	r.PostForm["B"][0] = "y"
	want := url.Values{"A": {"1", "x"}, "B": {"y"}, "C": {"3"}}
	if !reflect.DeepEqual(r.PostForm, want) {
		t.Fatalf("form %v, want %v", r.PostForm, want)
	}
}
