package jsondoc

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Reporter hears what Decode finds wrong, at the path where it lies.
type Reporter interface {
	// Failf reports a value that cannot be decoded; nothing under at is
	// worth reporting after it.
	Failf(at Path, format string, args ...any)
	// Warnf reports something that decodes but looks like a mistake.
	Warnf(at Path, format string, args ...any)
}

// Decode fills v (a pointer) from the document, reporting every type
// mismatch with its path to r instead of stopping at the first one as
// encoding/json does. It follows json tags; a `jsondoc` tag adds
// "required" (the key must be present and not null) and "truncate" (an
// integer field takes a fractional number, dropping the fraction). Types
// with their own UnmarshalJSON keep it.
func (d *Doc) Decode(v any, r Reporter) {
	decodeOpts(d.root, reflect.ValueOf(v).Elem(), nil, r, false)
}

func decodeOpts(node any, rv reflect.Value, at Path, r Reporter, truncate bool) {
	if rv.Kind() == reflect.Pointer {
		if node == nil {
			rv.SetZero()
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.New(rv.Type().Elem()))
		}
		decodeOpts(node, rv.Elem(), at, r, truncate)
		return
	}
	if node == nil {
		return // as encoding/json: null leaves the zero value
	}
	if rv.CanAddr() {
		switch u := rv.Addr().Interface().(type) {
		case json.Unmarshaler:
			b, err := appendValue(nil, node, "", 0)
			if err == nil {
				err = u.UnmarshalJSON(b)
			}
			if err != nil {
				r.Failf(at, "%s", strings.TrimPrefix(err.Error(), "json: "))
			}
			return
		case encoding.TextUnmarshaler:
			s, ok := node.(string)
			if !ok {
				r.Failf(at, "must be a string, not %s", kindOf(node))
				return
			}
			if err := u.UnmarshalText([]byte(s)); err != nil {
				r.Failf(at, "%v", err)
			}
			return
		}
	}
	switch rv.Kind() {
	case reflect.Struct:
		o, ok := node.(*Object)
		if !ok {
			r.Failf(at, "must be an object, not %s", kindOf(node))
			return
		}
		decodeStruct(o, rv, at, r)
	case reflect.Map:
		o, ok := node.(*Object)
		if !ok {
			r.Failf(at, "must be an object, not %s", kindOf(node))
			return
		}
		if rv.Type().Key().Kind() != reflect.String {
			fallback(node, rv, at, r)
			return
		}
		if rv.IsNil() {
			rv.Set(reflect.MakeMapWithSize(rv.Type(), o.Len()))
		}
		for _, k := range o.keys {
			ev := reflect.New(rv.Type().Elem()).Elem()
			decodeOpts(o.vals[k], ev, at.Key(k), r, truncate)
			rv.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), ev)
		}
	case reflect.Slice:
		a, ok := node.([]any)
		if !ok {
			r.Failf(at, "must be an array, not %s", kindOf(node))
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(a), len(a))
		for i, e := range a {
			decodeOpts(e, s.Index(i), at.Index(i), r, truncate)
		}
		rv.Set(s)
	case reflect.String:
		s, ok := node.(string)
		if !ok {
			r.Failf(at, "must be a string, not %s", kindOf(node))
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := node.(bool)
		if !ok {
			r.Failf(at, "must be true or false, not %s", kindOf(node))
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := node.(json.Number)
		if !ok {
			r.Failf(at, "must be a number, not %s", kindOf(node))
			return
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(string(n), 64)
			switch {
			case ferr != nil || math.Abs(f) >= math.MaxInt64:
				r.Failf(at, "is out of range")
				return
			case f != math.Trunc(f) && !truncate:
				r.Failf(at, "must be a whole number")
				return
			}
			i = int64(f)
		}
		if rv.OverflowInt(i) {
			r.Failf(at, "is out of range")
			return
		}
		rv.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := node.(json.Number)
		if !ok {
			r.Failf(at, "must be a number, not %s", kindOf(node))
			return
		}
		u, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil || rv.OverflowUint(u) {
			r.Failf(at, "must be a whole number, not negative, in range")
			return
		}
		rv.SetUint(u)
	case reflect.Float32, reflect.Float64:
		n, ok := node.(json.Number)
		if !ok {
			r.Failf(at, "must be a number, not %s", kindOf(node))
			return
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || rv.OverflowFloat(f) {
			r.Failf(at, "is out of range")
			return
		}
		rv.SetFloat(f)
	default:
		fallback(node, rv, at, r)
	}
}

// fallback lets encoding/json decode what the walker does not model (any,
// arrays, non-string map keys).
func fallback(node any, rv reflect.Value, at Path, r Reporter) {
	b, err := appendValue(nil, node, "", 0)
	if err != nil {
		r.Failf(at, "%v", err)
		return
	}
	p := reflect.New(rv.Type())
	if err := json.Unmarshal(b, p.Interface()); err != nil {
		r.Failf(at, "%s", strings.TrimPrefix(err.Error(), "json: "))
		return
	}
	rv.Set(p.Elem())
}

func decodeStruct(o *Object, rv reflect.Value, at Path, r Reporter) {
	known := map[string]bool{}
	decodeFields(o, rv, at, r, known)
	for _, k := range o.keys {
		if known[k] {
			continue
		}
		// Unknown keys are kept and fine (newer sections, ops' notes), but
		// a typo such as "escalaton" silently turns a section off: say so.
		if name := closest(k, known); name != "" {
			r.Warnf(at.Key(k), "is not a known key and is ignored; did you mean %q?", name)
		}
	}
}

// closest is the known name k most likely misspells, or "": the same word in
// another case, or one within a small edit distance.
func closest(k string, known map[string]bool) string {
	best, bestDist := "", 0
	for name := range known {
		d := editDistance(strings.ToLower(k), strings.ToLower(name))
		if d > max(1, min(len(name), len(k))/4) {
			continue
		}
		if best == "" || d < bestDist || (d == bestDist && name < best) {
			best, bestDist = name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, counting a swap of
// two neighbours as one edit.
func editDistance(a, b string) int {
	x, y := []rune(a), []rune(b)
	prev2 := make([]int, len(y)+1)
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(x); i++ {
		cur[0] = i
		for j := 1; j <= len(y); j++ {
			cost := 1
			if x[i-1] == y[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && x[i-1] == y[j-2] && x[i-2] == y[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(y)]
}

func decodeFields(o *Object, rv reflect.Value, at Path, r Reporter, known map[string]bool) {
	t := rv.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.Anonymous && f.Tag.Get("json") == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				fv := rv.Field(i)
				if fv.Kind() == reflect.Pointer {
					if !f.IsExported() {
						continue
					}
					if fv.IsNil() {
						fv.Set(reflect.New(ft))
					}
					fv = fv.Elem()
				}
				decodeFields(o, fv, at, r, known)
				continue
			}
		}
		name, ok := FieldName(f)
		if !ok {
			continue
		}
		known[name] = true
		opts := tagOptions(f.Tag.Get("jsondoc"))
		node, present := o.vals[name]
		if !present || node == nil {
			if opts["required"] {
				r.Failf(at.Key(name), "is required")
			}
			if !present {
				continue
			}
		}
		decodeOpts(node, rv.Field(i), at.Key(name), r, opts["truncate"])
	}
}

// FieldName is the key a struct field is read from, as encoding/json names
// it; false for a field Decode leaves alone.
func FieldName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return "", false
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, true
}

func tagOptions(tag string) map[string]bool {
	if tag == "" {
		return nil
	}
	opts := map[string]bool{}
	for o := range strings.SplitSeq(tag, ",") {
		opts[strings.TrimSpace(o)] = true
	}
	return opts
}
