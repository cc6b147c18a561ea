package team

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

// withUnknowns is the seed sample plus keys this version does not know, at
// the top level, inside current_config and inside a user, in odd places.
const withUnknowns = `{
"zz_first": {"note": "ops wrote this", "nested": [1, 2.50, {"b": null, "a": true}]},
"available_users": {
"users": {
"alice": {
"id": "alice",
"pronouns": "she/her",
"name": "Alice McAlister",
"phone": "+19195551001"
},
"bob": {
"id": "bob",
"name": "Bob Roberts",
"phone": "+19195551002"
}
}
},
"current_config": {
"from_phone": "+19195559876",
"last_modified_time": 1611602242,
"last_modified_user_id": "alice",
"escalate_after": 1e3,
"mail_settings": {
"from_email": "oncall@example.com",
"mail_password": "ktmyastgLYrB5bkpNdsx",
"mail_port": 25,
"mail_server": "smtp.example.com",
"mail_use_tls": true,
"mail_username": "oncall_pager_smtp",
"to_email": "sre@example.com"
},
"oncall_user": {
"id": "alice",
"name": "Alice McAlister",
"phone": "+9195551001",
"since": "ops"
},
"pager_phone": "+18002255288",
"session_lifetime": 300
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
	doc, err := ParseDoc([]byte(withUnknowns))
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
	if got, want := flatten(t, out), flatten(t, []byte(withUnknowns)); !slices.Equal(got, want) {
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
	doc2, err := ParseDoc(out)
	if err != nil {
		t.Fatal(err)
	}
	out2, _ := doc2.Marshal()
	if !bytes.Equal(out, out2) {
		t.Errorf("second round trip differs:\n%s\n%s", out, out2)
	}
}

func TestDocSetChangesOnlyTheTarget(t *testing.T) {
	doc, err := ParseDoc([]byte(withUnknowns))
	if err != nil {
		t.Fatal(err)
	}
	before, _ := doc.Marshal()
	bob := User{ID: "bob", Name: "Bob Roberts", Phone: "+19195551002"}
	now := time.Unix(1700000000, 0)
	if err := SetOnCall(doc, bob, "bob", now); err != nil {
		t.Fatal(err)
	}
	after, err := doc.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := string(before)
	for _, r := range [][2]string{
		{`"last_modified_time": 1611602242`, `"last_modified_time": 1700000000`},
		{`"last_modified_user_id": "alice"`, `"last_modified_user_id": "bob"`},
		{`"id": "alice",
      "name": "Alice McAlister",
      "phone": "+9195551001",
      "since": "ops"`, `"id": "bob",
      "name": "Bob Roberts",
      "phone": "+19195551002",
      "since": "ops"`},
	} {
		if !strings.Contains(want, r[0]) {
			t.Fatalf("test is stale: %q not in\n%s", r[0], want)
		}
		want = strings.Replace(want, r[0], r[1], 1)
	}
	if string(after) != want {
		t.Errorf("after SetOnCall:\n%s\nwant:\n%s", after, want)
	}
	cfg, err := Parse(after)
	if err != nil {
		t.Fatal(err)
	}
	if oc, _ := cfg.OnCall(); oc.ID != "bob" || cfg.CurrentConfig.LastModifiedTime != now.Unix() {
		t.Errorf("parsed back: on call %+v at %d", oc, cfg.CurrentConfig.LastModifiedTime)
	}
	if len(Warnings(cfg)) != 0 {
		t.Errorf("SetOnCall left oncall_user disagreeing with available_users: %v", Warnings(cfg))
	}
}

func TestDocSetGetDelete(t *testing.T) {
	doc, err := ParseDoc([]byte(`{"a": {"b": 1}, "n": null, "s": "str"}`))
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

func TestParseDocRejects(t *testing.T) {
	for _, in := range []string{`[]`, `"s"`, `{"a":1} {"b":2}`, `{"a":}`, "\xef\xbb\xbf{"} {
		if _, err := ParseDoc([]byte(in)); err == nil {
			t.Errorf("ParseDoc(%q) succeeded", in)
		}
	}
	var se *SyntaxError
	if _, err := ParseDoc([]byte("{\n\"a\":}")); !errors.As(err, &se) || se.Line != 2 || se.Column != 5 {
		t.Errorf("want *SyntaxError at 2:5, got %v", err)
	}
	// A byte order mark from a Windows editor is not an error.
	if _, err := ParseDoc(append([]byte("\xef\xbb\xbf"), DefaultConfig()...)); err != nil {
		t.Errorf("BOM: %v", err)
	}
}

func TestParseDocDuplicateKeys(t *testing.T) {
	data := bytes.Replace(DefaultConfig(), []byte(`"session_lifetime": 300`), []byte(`"session_lifetime": 300, "session_lifetime": 60`), 1)
	cfg, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CurrentConfig.SessionLifetime != 60 {
		t.Errorf("last duplicate should win, got %d", cfg.CurrentConfig.SessionLifetime)
	}
	if !slices.ContainsFunc(Warnings(cfg), func(p Problem) bool { return p.Path == "current_config.session_lifetime" }) {
		t.Errorf("no warning about the duplicate: %v", Warnings(cfg))
	}
}
