package jsondoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// sample has what a person editing a file writes: key orders that are not
// sorted, numbers in several spellings, nesting, nulls, escapes.
const sample = `{
"zz_first": {"note": "kept", "nested": [1, 2.50, {"b": null, "a": true}]},
"users": {
"bob": {"id": "bob", "pronouns": "he/him", "phone": "+19195551002"},
"alice": {"id": "alice", "phone": "+19195551001"}
},
"current": {
"last_modified_time": 1611602242,
"escalate_after": 1e3,
"on": false,
"empty": {},
"none": []
},
"a_last": "x < y & \"z\" ü \u2028"
}`

// flatten lists every key and scalar in document order, keys prefixed with
// their depth, numbers as written and strings decoded.
func flatten(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct{ obj, wantKey bool }
	var stack []frame
	var out []string
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, frame{obj: tok == json.Delim('{'), wantKey: tok == json.Delim('{')})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].obj {
				stack[len(stack)-1].wantKey = true
			}
			continue
		}
		top := &stack[len(stack)-1]
		if top.obj && top.wantKey {
			out = append(out, strings.Repeat(".", len(stack))+tok.(string))
			top.wantKey = false
			continue
		}
		out = append(out, fmt.Sprintf("=%#v", tok))
		if top.obj {
			top.wantKey = true
		}
	}
}

func TestDocRoundTripKeepsEverything(t *testing.T) {
	doc, err := Parse([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	out, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(out, []byte("}\n")) || !bytes.HasPrefix(out, []byte("{\n  \"zz_first\": {\n    \"note\"")) {
		t.Errorf("not 2-space indented with a final newline:\n%s", out)
	}
	// Unchanged, the document says exactly what it said, in the same order
	// and with numbers as written.
	if got, want := flatten(t, out), flatten(t, []byte(sample)); !slices.Equal(got, want) {
		t.Errorf("round trip changed the document:\n got %q\nwant %q", got, want)
	}
	for _, s := range []string{`1611602242,`, `2.50,`, `1e3,`, `"x < y & \"z\" ü`} {
		if !bytes.Contains(out, []byte(s)) {
			t.Errorf("output lacks %s:\n%s", s, out)
		}
	}
	if bytes.Contains(out, []byte("e+09")) {
		t.Errorf("number rewritten:\n%s", out)
	}
	// Marshal is a fixed point.
	doc2, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := doc2.Marshal()
	if !bytes.Equal(out, out2) {
		t.Errorf("second round trip differs:\n%s\n%s", out, out2)
	}
}

func TestDocSetGetDelete(t *testing.T) {
	doc, err := Parse([]byte(`{"a": {"b": 1}, "n": null, "s": "str"}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Set([]string{"x", "y", "z"}, map[string]int{"k": 2}); err != nil {
		t.Fatal(err)
	}
	if err := doc.Set([]string{"n", "m"}, 1.5); err != nil {
		t.Fatalf("null intermediate should become an object: %v", err)
	}
	if err := doc.Set([]string{"a", "b"}, struct {
		Z int    `json:"z"`
		A string `json:"a"`
	}{3, "q"}); err != nil {
		t.Fatal(err)
	}
	if err := doc.Set([]string{"s", "t"}, 1); err == nil || !strings.Contains(err.Error(), "s is a string") {
		t.Errorf("Set through a string: %v", err)
	}
	if err := doc.Set(nil, 1); err == nil {
		t.Error("Set with an empty path succeeded")
	}
	if err := doc.Set([]string{"bad"}, json.Number("0x10")); err == nil {
		t.Error("Set accepted an invalid json.Number")
	}
	if v, ok := doc.Get([]string{"x", "y", "z", "k"}); !ok || v != json.Number("2") {
		t.Errorf("Get x.y.z.k = %#v, %v", v, ok)
	}
	if _, ok := doc.Get([]string{"s", "t"}); ok {
		t.Error("Get through a string found something")
	}
	if !doc.Delete([]string{"x", "y"}) || doc.Delete([]string{"x", "y"}) || doc.Delete([]string{"nope", "y"}) {
		t.Error("Delete reports wrongly")
	}
	out, _ := doc.Marshal()
	want := `{
  "a": {
    "b": {
      "z": 3,
      "a": "q"
    }
  },
  "n": {
    "m": 1.5
  },
  "s": "str",
  "x": {}
}
`
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{`[]`, `"s"`, `{"a":1} {"b":2}`, `{"a":}`, "\xef\xbb\xbf{"} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
	var se *SyntaxError
	if _, err := Parse([]byte("{\n\"a\":}")); !errors.As(err, &se) || se.Line != 2 || se.Column != 5 {
		t.Errorf("want *SyntaxError at 2:5, got %v", err)
	}
	// A byte order mark from a Windows editor is not an error.
	if _, err := Parse(append([]byte("\xef\xbb\xbf"), sample...)); err != nil {
		t.Errorf("BOM: %v", err)
	}
}

func TestParseNotObject(t *testing.T) {
	var no *NotObjectError
	if _, err := Parse([]byte(`[1]`)); !errors.As(err, &no) || no.Kind != "an array" {
		t.Errorf("Parse([1]) = %v; want *NotObjectError for an array", err)
	}
}

func TestDuplicates(t *testing.T) {
	doc, err := Parse([]byte(`{"a": {"b": 1, "b": 2}, "c": [{"d": 1, "d": 3}], "e": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range doc.Duplicates() {
		got = append(got, p.String())
	}
	if want := []string{"a.b", "c[0].d"}; !slices.Equal(got, want) {
		t.Errorf("duplicates %q; want %q", got, want)
	}
	if v, _ := doc.Get([]string{"a", "b"}); v != json.Number("2") {
		t.Errorf("a.b = %v; the last one should win", v)
	}
}

func TestPathString(t *testing.T) {
	for p, want := range map[string]Path{
		"":               nil,
		"a.b_c-d@e":      Path{}.Key("a").Key("b_c-d@e"),
		"users[2].phone": Path{}.Key("users").Index(2).Key("phone"),
		`users["a.b"].x`: Path{}.Key("users").Key("a.b").Key("x"),
		`[""]`:           Path{}.Key(""),
	} {
		if got := want.String(); got != p {
			t.Errorf("%q: got %q", p, got)
		}
	}
	if !(Path{"a", "b"}).Within(Path{"a"}) || (Path{"a"}).Within(Path{"a", "b"}) || (Path{"x", "b"}).Within(Path{"a"}) {
		t.Error("Within is wrong")
	}
}

// problems is a Reporter that writes down what it hears.
type problems struct{ failed, warned []string }

func (p *problems) Failf(at Path, format string, args ...any) {
	p.failed = append(p.failed, at.String()+": "+fmt.Sprintf(format, args...))
}

func (p *problems) Warnf(at Path, format string, args ...any) {
	p.warned = append(p.warned, at.String()+": "+fmt.Sprintf(format, args...))
}

// Decode reports every mismatch, each at its path, and goes on.
func TestDecodeReportsEveryMismatch(t *testing.T) {
	type item struct {
		N    int    `json:"n" jsondoc:"required"`
		Frac int    `json:"frac" jsondoc:"truncate"`
		Name string `json:"name"`
	}
	var v struct {
		Items []item          `json:"items"`
		Flag  bool            `json:"flag"`
		Map   map[string]uint `json:"map"`
		Any   any             `json:"any"`
	}
	doc, err := Parse([]byte(`{"items": [{"n": 1, "frac": 2.7, "name": "a"}, {"n": 1.5, "Name": "b"}, {"frac": 1}],
		"flag": "yes", "map": {"x": 1, "y": -1}, "any": [1, "two"]}`))
	if err != nil {
		t.Fatal(err)
	}
	var r problems
	doc.Decode(&v, &r)
	wantFailed := []string{
		"items[1].n: must be a whole number",
		"items[2].n: is required",
		"flag: must be true or false, not a string",
		"map.y: must be a whole number, not negative, in range",
	}
	if !slices.Equal(r.failed, wantFailed) {
		t.Errorf("failed:\n%q\nwant\n%q", r.failed, wantFailed)
	}
	if want := []string{`items[1].Name: is not a known key and is ignored; did you mean "name"?`}; !slices.Equal(r.warned, want) {
		t.Errorf("warned %q; want %q", r.warned, want)
	}
	if v.Items[0] != (item{N: 1, Frac: 2, Name: "a"}) || v.Map["x"] != 1 || len(v.Any.([]any)) != 2 {
		t.Errorf("decoded %+v", v)
	}
}
