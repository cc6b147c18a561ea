package intake

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/oncall/pager/app/alerts"
)

// Limits every dialect applies; the numbers are PagerDuty's, from its
// Events API v2 documentation.
const (
	// MaxBodyBytes is the largest webhook body accepted (512 KB).
	MaxBodyBytes = 512 << 10
	// MaxDedupKeyLength bounds dedup_key.
	MaxDedupKeyLength = 255
	// MaxSummaryLength bounds a summary; longer summaries are cut, not
	// refused: a page must not be lost to a verbose monitor.
	MaxSummaryLength = 1024
)

// ValidationError lists everything wrong with a payload, so the sender can
// fix it in one round trip. The HTTP layer answers it with 400.
type ValidationError struct {
	Errors []string
	// more counts the problems past maxProblems, which the last entry of
	// Errors sums up.
	more int
}

// maxProblems bounds the entries of Errors: a body of bad entries (on
// PagerDuty's route, read before its key is checked) listed one problem
// each, a 512 KB body answered with megabytes.
const maxProblems = 20

func (e *ValidationError) Error() string {
	return "intake: invalid event: " + strings.Join(e.Errors, "; ")
}

// Add records one problem; past maxProblems, only how many more.
func (e *ValidationError) Add(msg string) {
	if len(e.Errors) < maxProblems {
		e.Errors = append(e.Errors, msg)
		return
	}
	if e.more == 0 {
		e.more = 1 // the last listed problem gives way to the count
	}
	e.more++
	e.Errors[maxProblems-1] = fmt.Sprintf("and %d more problems", e.more)
}

// OrNil returns e when it holds problems, else nil.
func (e *ValidationError) OrNil() error {
	if len(e.Errors) == 0 {
		return nil
	}
	return e
}

// NewDedupKey is a random UUID (version 4), the form PagerDuty generates
// for a trigger without a dedup_key.
func NewDedupKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xc0 == 0x80 {
		n--
	}
	return s[:n]
}

// Str reads an optional string field, reporting a wrong type under name.
func Str(ve *ValidationError, m map[string]json.RawMessage, key, name string) string {
	raw, ok := m[key]
	if !ok || IsNull(raw) {
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		ve.Add(fmt.Sprintf("'%s' must be a string", name))
		return ""
	}
	return s
}

// IsNull reports whether a field is absent or JSON null.
func IsNull(raw json.RawMessage) bool {
	return len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// DecodeObject decodes a JSON object into v, refusing trailing data.
func DecodeObject(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("intake: trailing data after JSON object")
	}
	return nil
}

// Links reads PagerDuty's links array ([{"href", "text"}]), which the
// generic form takes too.
func Links(ve *ValidationError, raw json.RawMessage) []alerts.Link {
	if IsNull(raw) {
		return nil
	}
	var in []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		ve.Add("'links' must be an array of objects with 'href' and 'text'")
		return nil
	}
	var out []alerts.Link
	for i, l := range in {
		if l.Href == "" {
			ve.Add(fmt.Sprintf("'links[%d].href' is missing or blank", i))
			continue
		}
		out = append(out, alerts.Link{Href: l.Href, Text: l.Text})
	}
	return out
}

// Details reads a free-form details field: an object as is, anything else
// under name, as PagerDuty shows a non-object custom_details.
func Details(ve *ValidationError, m map[string]json.RawMessage, key, name string) map[string]any {
	raw, ok := m[key]
	if !ok || IsNull(raw) {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		ve.Add(fmt.Sprintf("'%s' is not valid JSON", name))
		return nil
	}
	if obj, ok := v.(map[string]any); ok {
		return obj
	}
	return map[string]any{key: v}
}
