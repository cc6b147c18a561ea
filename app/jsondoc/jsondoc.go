package jsondoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Doc is a JSON document as a tree, kept so that a change can be written
// back without disturbing anything else in the file: objects keep their key
// order, numbers keep their text (1611602242 stays 1611602242), and keys
// the reader does not know survive at any depth.
//
// Values in the tree are *Object, []any, string, json.Number, bool and nil.
// A Doc is not safe for concurrent use.
type Doc struct {
	root *Object
	// dups are the paths of keys that appeared twice in one object; the last
	// value won, as with encoding/json, but it is worth telling ops.
	dups []Path
}

// Object is a JSON object that remembers its key order.
type Object struct {
	keys []string
	vals map[string]any
}

// NewObject returns an empty object.
func NewObject() *Object { return &Object{vals: map[string]any{}} }

// Len is the number of keys.
func (o *Object) Len() int { return len(o.keys) }

// Keys are the keys in document order.
func (o *Object) Keys() []string { return append([]string(nil), o.keys...) }

// Get returns the value under key.
func (o *Object) Get(key string) (any, bool) {
	v, ok := o.vals[key]
	return v, ok
}

// Set replaces the value under key in place, or appends the key. value is
// converted to tree form (see Doc.Set).
func (o *Object) Set(key string, value any) error {
	v, err := toTree(value)
	if err != nil {
		return err
	}
	o.put(key, v)
	return nil
}

func (o *Object) put(key string, v any) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// Delete removes key, reporting whether it was there.
func (o *Object) Delete(key string) bool {
	if _, ok := o.vals[key]; !ok {
		return false
	}
	delete(o.vals, key)
	for i, k := range o.keys {
		if k == key {
			o.keys = append(o.keys[:i], o.keys[i+1:]...)
			break
		}
	}
	return true
}

// MarshalJSON writes the object compactly, in key order.
func (o *Object) MarshalJSON() ([]byte, error) {
	return appendValue(nil, o, "", 0)
}

// SyntaxError places malformed JSON for the person who edited the file.
type SyntaxError struct {
	Line, Column int // 1-based; Column counts characters
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at line %d:%d: %s", e.Line, e.Column, e.Msg)
}

var utf8BOM = []byte("\xef\xbb\xbf")

// NotObjectError is a document whose top level is not an object.
type NotObjectError struct {
	Kind string // what it is instead: "an array", "a string", ...
}

func (e *NotObjectError) Error() string {
	return "jsondoc: the document must be a JSON object, not " + e.Kind
}

// Parse reads a document. Its top level must be an object (else
// *NotObjectError). Syntax errors are *SyntaxError.
func Parse(data []byte) (*Doc, error) {
	// Editors on Windows like to add a byte order mark; it is not JSON.
	data = bytes.TrimPrefix(data, utf8BOM)
	if !json.Valid(data) {
		return nil, syntaxError(data)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	d := &Doc{}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(data)
	}
	v, err := d.readValue(dec, tok, nil)
	if err != nil {
		return nil, err
	}
	root, ok := v.(*Object)
	if !ok {
		return nil, &NotObjectError{Kind: kindOf(v)}
	}
	d.root = root
	return d, nil
}

// syntaxError locates the first syntax error in data.
func syntaxError(data []byte) error {
	var v any
	err := json.Unmarshal(data, &v)
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		if err == nil {
			err = errors.New("malformed JSON")
		}
		return &SyntaxError{Line: 1, Column: 1, Msg: err.Error()}
	}
	// Offset counts the bytes read including the offending one.
	off := int(se.Offset)
	if off > 0 && off <= len(data) && strings.HasPrefix(se.Error(), "invalid character") {
		off--
	}
	off = min(off, len(data))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	start := bytes.LastIndexByte(data[:off], '\n') + 1
	return &SyntaxError{Line: line, Column: utf8.RuneCount(data[start:off]) + 1, Msg: se.Error()}
}

func (d *Doc) readValue(dec *json.Decoder, tok json.Token, at Path) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := NewObject()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, _ := kt.(string)
				vt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := d.readValue(dec, vt, at.Key(key))
				if err != nil {
					return nil, err
				}
				if _, dup := o.vals[key]; dup {
					d.dups = append(d.dups, at.Key(key))
				}
				o.put(key, v)
			}
			_, err := dec.Token() // '}'
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				vt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := d.readValue(dec, vt, at.Index(len(a)))
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token() // ']'
			return a, err
		}
		return nil, fmt.Errorf("jsondoc: unexpected %v", t)
	default:
		return t, nil // string, json.Number, bool, nil
	}
}

// Duplicates are the paths of keys that appeared twice in one object; the
// last value won, as with encoding/json, but it is worth telling the
// person who wrote the file.
func (d *Doc) Duplicates() []Path { return append([]Path(nil), d.dups...) }

// Root is the top-level object; changes to it change the document.
func (d *Doc) Root() *Object { return d.root }

// Get returns the value at path (object keys from the top), in tree form. The
// value is part of the document: change it through Set.
func (d *Doc) Get(p []string) (any, bool) {
	var cur any = d.root
	for _, k := range p {
		o, ok := cur.(*Object)
		if !ok {
			return nil, false
		}
		if cur, ok = o.vals[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// Set puts value at path, creating missing (or null) intermediate objects and
// keeping the position of an existing key. value may be any value
// encoding/json can marshal; it is stored in tree form, so a struct becomes
// an object in its field order. Set fails when an intermediate value is not
// an object.
func (d *Doc) Set(p []string, value any) error {
	if len(p) == 0 {
		return errors.New("jsondoc: Doc.Set: empty path")
	}
	v, err := toTree(value)
	if err != nil {
		return fmt.Errorf("jsondoc: set %s: %w", Path(p), err)
	}
	o := d.root
	for i, k := range p[:len(p)-1] {
		next, ok := o.vals[k]
		if !ok || next == nil {
			child := NewObject()
			o.put(k, child)
			o = child
			continue
		}
		child, ok := next.(*Object)
		if !ok {
			return fmt.Errorf("jsondoc: set %s: %s is %s, not an object", Path(p), Path(p[:i+1]), kindOf(next))
		}
		o = child
	}
	o.put(p[len(p)-1], v)
	return nil
}

// Delete removes the value at path, reporting whether there was one.
func (d *Doc) Delete(p []string) bool {
	if len(p) == 0 {
		return false
	}
	parent, ok := d.Get(p[:len(p)-1])
	if !ok {
		return false
	}
	o, ok := parent.(*Object)
	if !ok {
		return false
	}
	return o.Delete(p[len(p)-1])
}

// Marshal writes the document with 2-space indentation and a final newline.
func (d *Doc) Marshal() ([]byte, error) {
	b, err := appendValue(make([]byte, 0, 1024), d.root, "  ", 0)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// toTree converts a Go value into tree form.
func toTree(v any) (any, error) {
	switch t := v.(type) {
	case nil, string, bool, *Object:
		return t, nil
	case json.Number:
		if !validNumber(string(t)) {
			return nil, fmt.Errorf("invalid number %q", string(t))
		}
		return t, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	var scratch Doc
	return scratch.readValue(dec, tok, nil)
}

func validNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// appendValue writes v; indent "" means compact.
func appendValue(b []byte, v any, indent string, depth int) ([]byte, error) {
	newline := func(b []byte, depth int) []byte {
		if indent == "" {
			return b
		}
		b = append(b, '\n')
		for range depth {
			b = append(b, indent...)
		}
		return b
	}
	var err error
	switch t := v.(type) {
	case *Object:
		if t == nil {
			return append(b, "null"...), nil
		}
		if len(t.keys) == 0 {
			return append(b, "{}"...), nil
		}
		b = append(b, '{')
		for i, k := range t.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = newline(b, depth+1)
			b = appendString(b, k)
			b = append(b, ':')
			if indent != "" {
				b = append(b, ' ')
			}
			if b, err = appendValue(b, t.vals[k], indent, depth+1); err != nil {
				return nil, err
			}
		}
		b = newline(b, depth)
		return append(b, '}'), nil
	case []any:
		if len(t) == 0 {
			return append(b, "[]"...), nil
		}
		b = append(b, '[')
		for i, e := range t {
			if i > 0 {
				b = append(b, ',')
			}
			b = newline(b, depth+1)
			if b, err = appendValue(b, e, indent, depth+1); err != nil {
				return nil, err
			}
		}
		b = newline(b, depth)
		return append(b, ']'), nil
	case string:
		return appendString(b, t), nil
	case json.Number:
		return append(b, t...), nil
	case bool:
		if t {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case nil:
		return append(b, "null"...), nil
	}
	return nil, fmt.Errorf("jsondoc: %T is not a document value", v)
}

// appendString quotes s as JSON without encoding/json's HTML escaping, so a
// hand-edited "a & b" stays readable.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			// Legal JSON, but invisible line breaks in an editor.
			b = append(b, `\u202`...)
			b = append(b, hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// kindOf names a tree value's JSON type for messages.
func kindOf(v any) string {
	switch v.(type) {
	case *Object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
