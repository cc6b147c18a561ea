package harness

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// API calls the alert API as a monitoring system would and returns the
// status and body. How the key travels depends on body, as each kind of
// client sends it:
//
//   - url.Values: a form (RedFlash's rfclient, curl -d), the key as the
//     api_key field unless the form already has one;
//   - string: sent verbatim as a form body, the key as api_key in the query;
//   - nil: no body (GET), the key as api_key in the query;
//   - anything else: JSON, the key as Authorization: Bearer.
//
// An empty key is not sent at all.
func (h *Harness) API(method, path string, body any, key string) (int, string) {
	h.T.Helper()
	var (
		rd          io.Reader
		contentType string
		bearer      bool
	)
	q := url.Values{}
	switch b := body.(type) {
	case url.Values:
		form := url.Values{}
		for k, v := range b {
			form[k] = v
		}
		if key != "" && form.Get("api_key") == "" {
			form.Set("api_key", key)
		}
		rd, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case string:
		rd, contentType = strings.NewReader(b), "application/x-www-form-urlencoded"
		if key != "" {
			q.Set("api_key", key)
		}
	case nil:
		if key != "" {
			q.Set("api_key", key)
		}
	default:
		data, err := json.Marshal(b)
		if err != nil {
			h.T.Fatalf("harness: API body: %v", err)
		}
		rd, contentType, bearer = bytes.NewReader(data), "application/json", true
	}
	target := h.url + path
	if len(q) > 0 {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		target += sep + q.Encode()
	}
	req, err := http.NewRequest(method, target, rd)
	if err != nil {
		h.T.Fatalf("harness: API request: %v", err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if bearer && key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	return h.Do(req)
}

// Do sends a request built by the test to the listening pager (for
// headers and bodies API does not make) and returns status and body.
func (h *Harness) Do(req *http.Request) (int, string) {
	h.T.Helper()
	if req.URL.Host == "" {
		u, err := url.Parse(h.url + req.URL.RequestURI())
		if err != nil {
			h.T.Fatal(err)
		}
		req.URL, req.Host = u, u.Host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.T.Fatalf("harness: %s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// APIJSON is API with the answer decoded into out.
func (h *Harness) APIJSON(method, path string, body any, key string, out any) int {
	h.T.Helper()
	status, text := h.API(method, path, body, key)
	if err := json.Unmarshal([]byte(text), out); err != nil {
		h.T.Fatalf("harness: %s %s: HTTP %d, answer is not JSON: %v\n%s", method, path, status, err, text)
	}
	return status
}
