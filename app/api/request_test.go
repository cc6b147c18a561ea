package api

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/store/storetest"
)

func newReq(method, target, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, target, strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestParseRequest(t *testing.T) {
	mp := func() (string, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		_ = w.WriteField("api_key", "k1")
		_ = w.WriteField("message", "from -F")
		_ = w.Close()
		return w.FormDataContentType(), b.String()
	}
	mpType, mpBody := mp()
	for _, tc := range []struct {
		name, target, ctype, body, auth string
		key                             string
		fields                          map[string]string
		status                          int
	}{
		{name: "rfclient form", target: "/contact/a/", ctype: "application/x-www-form-urlencoded",
			body: "api_key=k1&message=Disk+full", key: "k1", fields: map[string]string{"message": "Disk full"}},
		{name: "form without content type", target: "/x", body: "api_key=k1&message=hi", key: "k1", fields: map[string]string{"message": "hi"}},
		{name: "json without content type", target: "/x", body: ` {"api_key":"k1","message":"hi"}`, key: "k1", fields: map[string]string{"message": "hi"}},
		{name: "json scalars", target: "/x", ctype: "application/json; charset=utf-8",
			body: `{"host":"db1","pct":97.5,"up":false,"none":null}`, auth: "Bearer k2", key: "k2",
			fields: map[string]string{"host": "db1", "pct": "97.5", "up": "false", "none": ""}},
		{name: "query key and fields under the body", target: "/x?api_key=k3&message=q&host=h", ctype: "application/x-www-form-urlencoded",
			body: "message=b", key: "k3", fields: map[string]string{"message": "b", "host": "h"}},
		{name: "bearer wins", target: "/x?api_key=q", body: "api_key=b", auth: "bearer  k4 ", key: "k4", fields: map[string]string{}},
		{name: "multipart", target: "/x", ctype: mpType, body: mpBody, key: "k1", fields: map[string]string{"message": "from -F"}},
		{name: "invalid UTF-8 repaired", target: "/x", body: "message=%ff%fe", fields: map[string]string{"message": "\uFFFD"}},
		{name: "nested JSON", target: "/x", ctype: "application/json", body: `{"a":{"b":1}}`, status: 400},
		{name: "JSON array", target: "/x", ctype: "application/json", body: `[1]`, status: 400},
		{name: "two JSON values", target: "/x", ctype: "application/json", body: `{}{}`, status: 400},
		{name: "bad escape", target: "/x", ctype: "application/x-www-form-urlencoded", body: "a=%zz", status: 400},
		{name: "bad query", target: "/x?a=%zz", status: 400},
		{name: "basic auth", target: "/x", auth: "Basic Zm9vOmJhcg==", status: 400},
		{name: "xml", target: "/x", ctype: "text/xml", body: "<a/>", status: 400},
		{name: "multipart without boundary", target: "/x", ctype: "multipart/form-data", body: "x", status: 400},
		{name: "too large", target: "/x", body: "message=" + strings.Repeat("x", DefaultMaxBody), status: 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReq(http.MethodPost, tc.target, tc.ctype, tc.body)
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			req, err := ParseRequest(r, 0)
			if tc.status != 0 {
				re, ok := err.(*RequestError)
				if !ok || re.Status != tc.status {
					t.Fatalf("err = %v, want HTTP %d", err, tc.status)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if req.Key != tc.key || fmt.Sprint(req.Fields) != fmt.Sprint(tc.fields) {
				t.Fatalf("key %q fields %v; want %q %v", req.Key, req.Fields, tc.key, tc.fields)
			}
		})
	}
}

// FuzzParseRequest throws forms, JSON and garbage at the request parser and
// at the event endpoint behind it: nothing panics, and nothing a client
// sends earns a 5xx.
func FuzzParseRequest(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "api_key=KEY&host=db1&pct=97", "", "")
	f.Add("application/json", `{"api_key":"KEY","host":"{{ pct }}","pct":1e400}`, "", "")
	f.Add("", `{"host":`, "api_key=KEY", "")
	f.Add("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"host\"\r\n\r\ndb1\r\n--x--\r\n", "", "Bearer KEY")
	f.Add("text/plain", "\xff\x00{{", "api_key=%zz", "Bearer")
	f.Add("application/json", `{"host":"\ud800","pct":[1,2]}`, "api_key=KEY", "")
	f.Add("application/x-www-form-urlencoded", strings.Repeat("a=b&", 300), "api_key=KEY", "")
	e := fuzzAPI(f)
	f.Fuzz(func(t *testing.T, ctype, body, query, auth string) {
		r := newReq(http.MethodPost, "/x", ctype, body)
		r.URL.RawQuery = query
		if auth != "" {
			r.Header.Set("Authorization", auth)
		}
		req, err := ParseRequest(r, 4096)
		if err != nil {
			re, ok := err.(*RequestError)
			if !ok || (re.Status != 400 && re.Status != 413) {
				t.Fatalf("ParseRequest error %v", err)
			}
		} else {
			for k, v := range req.Fields {
				if !utf8.ValidString(k) || !utf8.ValidString(v) {
					t.Fatalf("invalid UTF-8 field %q=%q", k, v)
				}
			}
			if _, ok := req.Fields["api_key"]; ok {
				t.Fatal("api_key left among the fields")
			}
		}
		for _, target := range []string{"/event/disk_full/", "/contact/alice"} {
			r := newReq(http.MethodPost, target, ctype, body)
			r.URL.RawQuery = query
			if auth != "" {
				r.Header.Set("Authorization", auth)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, r)
			if w.Code >= 500 {
				t.Fatalf("%s: HTTP %d %s", target, w.Code, w.Body)
			}
		}
	})
}

// fuzzAPI is the API on an in-memory store with the key "KEY".
func fuzzAPI(tb testing.TB) *echo.Echo {
	cfg, err := team.Parse(teamtest.Default(
		teamtest.Merge(`{"events": {"disk_full": {"message": "Disk {{ host }} at {{ pct }}%", "contacts": ["alice"]}}}`),
		teamtest.WithAPIKey("fuzz", team.HashAPIKey("KEY"), true),
	).JSON())
	if err != nil {
		tb.Fatal(err)
	}
	st := storetest.NewMem()
	q := jobs.New(st, jobs.Options{})
	out := outbound.New(outbound.Options{Config: fixedConfig{cfg}, Rates: outbound.Rates{SMSPerSecond: 1000, CallsPerSecond: 1000}})
	ntf := notification.New(out, notification.Options{Store: st, Config: fixedConfig{cfg}})
	h := New(Options{Config: fixedConfig{cfg}, Jobs: q, Notifications: ntf, Now: time.Now})
	e := echo.New()
	e.POST("/event/:slug/", h.ServeEvent)
	e.POST("/contact/:slug", h.ServeContact)
	return e
}

type fixedConfig struct{ c *team.Config }

func (f fixedConfig) Current() *team.Config { return f.c }
