package mocktwilio

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

const (
	testAccount   = "AC0123456789abcdef0123456789abcdef"
	testRecording = "RE0123456789abcdef0123456789abcdef"
)

func testSpec(t *testing.T) *Spec {
	t.Helper()
	res := sharedSpec()
	if res.err != nil {
		t.Fatalf("loading %s: %v", res.path, res.err)
	}
	if res.spec == nil {
		res.noSpec(t, "the spec validation tests")
		t.SkipNow()
	}
	return res.spec
}

func formRequest(method, path string, form url.Values) (*http.Request, []byte) {
	body := []byte(form.Encode())
	r := httptest.NewRequest(method, path, nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r, body
}

func messageForm() url.Values {
	return url.Values{
		"To":             {"+15005550006"},
		"From":           {"+15005550001"},
		"Body":           {"On-Call voicemail (12 sec)"},
		"MediaUrl":       {"https://api.twilio.com/2010-04-01/Accounts/" + testAccount + "/Recordings/" + testRecording + ".mp3", "https://example.com/b.png"},
		"StatusCallback": {"https://pager.example.com/public/mmsstatuscb"},
	}
}

func callForm() url.Values {
	return url.Values{
		"To":                  {"+15005550006"},
		"From":                {"+15005550001"},
		"Twiml":               {"<Response><Say>Page</Say></Response>"},
		"StatusCallback":      {"https://pager.example.com/public/callstatus"},
		"StatusCallbackEvent": {"initiated", "answered", "completed"},
		"MachineDetection":    {"DetectMessageEnd"},
		"Timeout":             {"25"},
	}
}

const messagesPath = "/2010-04-01/Accounts/" + testAccount + "/Messages.json"
const callsPath = "/2010-04-01/Accounts/" + testAccount + "/Calls.json"
const recordingPath = "/2010-04-01/Accounts/" + testAccount + "/Recordings/" + testRecording

func TestSpecAcceptsWhatThePagerSends(t *testing.T) {
	spec := testSpec(t)
	cases := []struct {
		name   string
		method string
		path   string
		form   url.Values
	}{
		{"SMS/MMS", http.MethodPost, messagesPath, messageForm()},
		{"call", http.MethodPost, callsPath, callForm()},
		{"recording mp3", http.MethodGet, recordingPath + ".mp3", nil},
		{"recording wav", http.MethodGet, recordingPath + ".wav", nil},
		{"recording metadata", http.MethodGet, recordingPath + ".json?IncludeSoftDeleted=true", nil},
		{"recording delete", http.MethodDelete, recordingPath + ".json", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r *http.Request
			var body []byte
			if tc.form != nil {
				r, body = formRequest(tc.method, tc.path, tc.form)
			} else {
				r = httptest.NewRequest(tc.method, tc.path, nil)
			}
			if v := spec.Validate(r, body); len(v) > 0 {
				t.Errorf("violations for a valid request: %q", v)
			}
		})
	}
}

func TestSpecRejects(t *testing.T) {
	spec := testSpec(t)
	with := func(base url.Values, edit func(url.Values)) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = append([]string(nil), vs...)
		}
		edit(v)
		return v
	}
	cases := []struct {
		name   string
		method string
		path   string
		form   url.Values
		want   string
	}{
		{"unknown field", http.MethodPost, messagesPath,
			with(messageForm(), func(v url.Values) { v.Set("Foo", "bar") }), `field "Foo" is not in the spec`},
		{"missing required To", http.MethodPost, messagesPath,
			with(messageForm(), func(v url.Values) { v.Del("To") }), `required field "To" missing`},
		{"bad AccountSid", http.MethodPost, "/2010-04-01/Accounts/AC123/Messages.json",
			messageForm(), "path AccountSid"},
		{"AccountSid with non-hex", http.MethodPost, "/2010-04-01/Accounts/ACzz23456789abcdef0123456789abcdef/Messages.json",
			messageForm(), "does not match ^AC[0-9a-fA-F]{32}$"},
		{"scalar field repeated", http.MethodPost, messagesPath,
			with(messageForm(), func(v url.Values) { v.Add("To", "+15005550007") }), "given 2 times but is not an array"},
		{"enum", http.MethodPost, messagesPath,
			with(messageForm(), func(v url.Values) { v.Set("ContentRetention", "forever") }), "is not one of"},
		{"integer", http.MethodPost, callsPath,
			with(callForm(), func(v url.Values) { v.Set("Timeout", "ten") }), "is not an integer"},
		{"boolean", http.MethodPost, messagesPath,
			with(messageForm(), func(v url.Values) { v.Set("SmartEncoded", "yes") }), "is not a boolean"},
		{"uri format", http.MethodPost, messagesPath,
			with(messageForm(), func(v url.Values) { v.Set("StatusCallback", "/public/mmsstatuscb") }), "is not an absolute http(s) URL"},
		{"http-method enum", http.MethodPost, callsPath,
			with(callForm(), func(v url.Values) { v.Set("StatusCallbackMethod", "PUT") }), "is not one of"},
		{"call without From", http.MethodPost, callsPath,
			with(callForm(), func(v url.Values) { v.Del("From") }), `required field "From" missing`},
		{"unknown path", http.MethodPost, "/2010-04-01/Accounts/" + testAccount + "/Pages.json",
			messageForm(), "no path in the spec matches"},
		{"wrong method", http.MethodPut, messagesPath, messageForm(), "method not in the spec"},
		{"bad recording sid", http.MethodGet, "/2010-04-01/Accounts/" + testAccount + "/Recordings/RE42.mp3",
			nil, "path Sid"},
		{"unknown query parameter", http.MethodGet, recordingPath + ".mp3?Download=true",
			nil, `query parameter "Download" is not in the spec`},
		{"media on the wrong method", http.MethodDelete, recordingPath + ".mp3",
			nil, "no path in the spec matches"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r *http.Request
			var body []byte
			if tc.form != nil {
				r, body = formRequest(tc.method, tc.path, tc.form)
			} else {
				r = httptest.NewRequest(tc.method, tc.path, nil)
			}
			v := spec.Validate(r, body)
			found := false
			for _, msg := range v {
				found = found || strings.Contains(msg, tc.want)
			}
			if !found {
				t.Errorf("violations %q, want one containing %q", v, tc.want)
			}
		})
	}
}

func TestSpecRejectsWrongContentType(t *testing.T) {
	spec := testSpec(t)
	r, body := formRequest(http.MethodPost, messagesPath, messageForm())
	r.Header.Set("Content-Type", "application/json")
	if v := spec.Validate(r, body); len(v) == 0 {
		t.Error("a JSON content type for a form endpoint passed")
	}
}

func TestParseSpecErrors(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":       "{",
		"no paths":       `{"paths":{}}`,
		"dangling $ref":  `{"paths":{"/x":{"get":{"parameters":[{"name":"a","in":"query","schema":{"$ref":"#/components/schemas/nope"}}]}}}}`,
		"bad pattern":    `{"paths":{"/x/{A}":{"get":{"parameters":[{"name":"A","in":"path","schema":{"type":"string","pattern":"(("}}]}}}}`,
		"two params/seg": `{"paths":{"/x/{A}{B}":{"get":{}}}}`,
	} {
		if _, err := ParseSpec([]byte(doc)); err == nil {
			t.Errorf("%s: ParseSpec accepted it", name)
		}
	}
}

func TestParseSpecPrefersMostSpecificPath(t *testing.T) {
	spec, err := ParseSpec([]byte(`{"paths":{
		"/a/{X}.json":{"get":{"parameters":[{"name":"X","in":"path","schema":{"type":"string","pattern":"^RE"}}]}},
		"/a/Calls.json":{"post":{}}
	}}`))
	if err != nil {
		t.Fatal(err)
	}
	if v := spec.Validate(httptest.NewRequest(http.MethodPost, "/a/Calls.json", nil), nil); len(v) != 0 {
		t.Errorf("literal path not preferred: %q", v)
	}
	if v := spec.Validate(httptest.NewRequest(http.MethodGet, "/a/CA1.json", nil), nil); len(v) == 0 {
		t.Error("path param pattern not checked")
	}
}
