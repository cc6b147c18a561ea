package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/oncall/pager/app/keygate"
)

// DefaultMaxBody caps a request body: an alert is a few hundred bytes, and
// a monitoring system gone wrong should not be able to make us buffer more.
const DefaultMaxBody = 64 << 10

// maxFields bounds how many fields one request may carry.
const maxFields = 256

// Request is an API call's key and fields, wherever they came from.
type Request struct {
	// Key is the API key: the Authorization Bearer token, else the
	// api_key field of the body, else of the query string.
	Key string
	// Fields are the body's fields over the query string's, without
	// api_key; values are valid UTF-8.
	Fields map[string]string
}

// RequestError is a request refused before it is understood.
type RequestError struct {
	Status  int
	Message string
}

func (e *RequestError) Error() string { return e.Message }

func badRequest(format string, args ...any) *RequestError {
	return &RequestError{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// ParseRequest reads the key and fields of r: a form (urlencoded or
// multipart, as curl -d and -F send) or a JSON object (string, number,
// boolean or null values) in the body, plus the query string. Bodies over
// maxBody are refused with 413, anything unreadable with 400; it never
// answers 5xx and never panics, whatever the body.
func ParseRequest(r *http.Request, maxBody int64) (Request, error) {
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	req := Request{Fields: map[string]string{}}
	query, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return req, badRequest("malformed query string")
	}
	var body map[string]string
	if r.Body != nil && r.Body != http.NoBody {
		data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return req, badRequest("could not read the request body")
		}
		if int64(len(data)) > maxBody {
			return req, &RequestError{Status: http.StatusRequestEntityTooLarge,
				Message: fmt.Sprintf("request body too large: the limit is %d bytes", maxBody)}
		}
		if body, err = parseBody(r.Header.Get("Content-Type"), data, maxBody); err != nil {
			return req, err
		}
	}
	if len(query)+len(body) > maxFields {
		return req, badRequest("too many fields: at most %d", maxFields)
	}
	for k, vs := range query {
		if len(vs) > 0 {
			req.Fields[clean(k)] = clean(vs[0])
		}
	}
	for k, v := range body {
		req.Fields[k] = v
	}
	key := req.Fields["api_key"]
	delete(req.Fields, "api_key")
	if req.Key, err = keygate.KeyFrom(r, key); err != nil {
		return req, badRequest("%s", err)
	}
	return req, nil
}

// parseBody decodes a body by its Content-Type. A body without one is
// taken for a form when it is not JSON, as curl -d sends one.
func parseBody(contentType string, data []byte, maxBody int64) (map[string]string, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if contentType == "" {
		mt, err = "application/x-www-form-urlencoded", nil
		if trimmed := bytes.TrimSpace(data); trimmed[0] == '{' {
			mt = "application/json"
		}
	}
	if err != nil {
		return nil, badRequest("malformed Content-Type")
	}
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return parseJSON(data)
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(data))
		if err != nil {
			return nil, badRequest("malformed form body")
		}
		return firstValues(vals), nil
	case mt == "multipart/form-data":
		return parseMultipart(data, params["boundary"], maxBody)
	default:
		return nil, badRequest("unsupported Content-Type %q: send form fields or a JSON object", mt)
	}
}

func parseJSON(data []byte) (map[string]string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, badRequest("body is not a JSON object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, badRequest("body holds more than one JSON value")
	}
	out := make(map[string]string, len(obj))
	for k, v := range obj {
		var s string
		switch v := v.(type) {
		case string:
			s = v
		case json.Number:
			s = v.String()
		case bool:
			s = fmt.Sprint(v)
		case nil:
		default:
			return nil, badRequest("field %q: want a string, number or boolean", clean(k))
		}
		out[clean(k)] = clean(s)
	}
	return out, nil
}

func parseMultipart(data []byte, boundary string, maxBody int64) (map[string]string, error) {
	if boundary == "" {
		return nil, badRequest("multipart body without a boundary")
	}
	r := http.Request{Method: http.MethodPost, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(data))}
	r.Header.Set("Content-Type", "multipart/form-data; boundary="+boundary)
	if err := r.ParseMultipartForm(maxBody); err != nil {
		return nil, badRequest("malformed multipart body")
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	return firstValues(r.MultipartForm.Value), nil
}

func firstValues(vals map[string][]string) map[string]string {
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		if len(vs) > 0 {
			out[clean(k)] = clean(vs[0])
		}
	}
	return out
}

// clean makes s valid UTF-8: texts, e-mails and JSON all need it, and a
// byte cut by a shell's locale should not cost the alert.
func clean(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
