package team

import (
	"encoding"
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// decodeValue fills rv from a Doc tree value, reporting every type mismatch
// with its path instead of stopping at the first one as encoding/json does.
// It follows json tags; a `team` tag adds "required" (the key must be present
// and not null) and "truncate" (an integer field takes a fractional number,
// dropping the fraction). Types with their own UnmarshalJSON keep it.
func decodeValue(node any, rv reflect.Value, at path, r *report) {
	decodeOpts(node, rv, at, r, false)
}

func decodeOpts(node any, rv reflect.Value, at path, r *report, truncate bool) {
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
				r.fail(at, "%s", strings.TrimPrefix(err.Error(), "json: "))
			}
			return
		case encoding.TextUnmarshaler:
			s, ok := node.(string)
			if !ok {
				r.fail(at, "must be a string, not %s", kindOf(node))
				return
			}
			if err := u.UnmarshalText([]byte(s)); err != nil {
				r.fail(at, "%v", err)
			}
			return
		}
	}
	switch rv.Kind() {
	case reflect.Struct:
		o, ok := node.(*Object)
		if !ok {
			r.fail(at, "must be an object, not %s", kindOf(node))
			return
		}
		decodeStruct(o, rv, at, r)
	case reflect.Map:
		o, ok := node.(*Object)
		if !ok {
			r.fail(at, "must be an object, not %s", kindOf(node))
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
			decodeOpts(o.vals[k], ev, at.key(k), r, truncate)
			rv.SetMapIndex(reflect.ValueOf(k).Convert(rv.Type().Key()), ev)
		}
	case reflect.Slice:
		a, ok := node.([]any)
		if !ok {
			r.fail(at, "must be an array, not %s", kindOf(node))
			return
		}
		s := reflect.MakeSlice(rv.Type(), len(a), len(a))
		for i, e := range a {
			decodeOpts(e, s.Index(i), at.index(i), r, truncate)
		}
		rv.Set(s)
	case reflect.String:
		s, ok := node.(string)
		if !ok {
			r.fail(at, "must be a string, not %s", kindOf(node))
			return
		}
		rv.SetString(s)
	case reflect.Bool:
		b, ok := node.(bool)
		if !ok {
			r.fail(at, "must be true or false, not %s", kindOf(node))
			return
		}
		rv.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := node.(json.Number)
		if !ok {
			r.fail(at, "must be a number, not %s", kindOf(node))
			return
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			f, ferr := strconv.ParseFloat(string(n), 64)
			switch {
			case ferr != nil || math.Abs(f) >= math.MaxInt64:
				r.fail(at, "is out of range")
				return
			case f != math.Trunc(f) && !truncate:
				r.fail(at, "must be a whole number")
				return
			}
			i = int64(f)
		}
		if rv.OverflowInt(i) {
			r.fail(at, "is out of range")
			return
		}
		rv.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := node.(json.Number)
		if !ok {
			r.fail(at, "must be a number, not %s", kindOf(node))
			return
		}
		u, err := strconv.ParseUint(string(n), 10, 64)
		if err != nil || rv.OverflowUint(u) {
			r.fail(at, "must be a whole number, not negative, in range")
			return
		}
		rv.SetUint(u)
	case reflect.Float32, reflect.Float64:
		n, ok := node.(json.Number)
		if !ok {
			r.fail(at, "must be a number, not %s", kindOf(node))
			return
		}
		f, err := strconv.ParseFloat(string(n), 64)
		if err != nil || rv.OverflowFloat(f) {
			r.fail(at, "is out of range")
			return
		}
		rv.SetFloat(f)
	default:
		fallback(node, rv, at, r)
	}
}

// fallback lets encoding/json decode what the walker does not model (any,
// arrays, non-string map keys).
func fallback(node any, rv reflect.Value, at path, r *report) {
	b, err := appendValue(nil, node, "", 0)
	if err != nil {
		r.fail(at, "%v", err)
		return
	}
	p := reflect.New(rv.Type())
	if err := json.Unmarshal(b, p.Interface()); err != nil {
		r.fail(at, "%s", strings.TrimPrefix(err.Error(), "json: "))
		return
	}
	rv.Set(p.Elem())
}

func decodeStruct(o *Object, rv reflect.Value, at path, r *report) {
	known := map[string]bool{}
	decodeFields(o, rv, at, r, known)
	for _, k := range o.keys {
		if known[k] {
			continue
		}
		// Unknown keys are fine (newer sections, ops' notes) but a known key
		// in the wrong case is silently ignored, which is worth a word.
		for name := range known {
			if strings.EqualFold(k, name) {
				r.warnf(at.key(k), "is not a known key and is ignored; did you mean %q?", name)
				break
			}
		}
	}
}

func decodeFields(o *Object, rv reflect.Value, at path, r *report, known map[string]bool) {
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
		name, ok := fieldName(f)
		if !ok {
			continue
		}
		known[name] = true
		opts := tagOptions(f.Tag.Get("team"))
		node, present := o.vals[name]
		if !present || node == nil {
			if opts["required"] {
				r.fail(at.key(name), "is required")
			}
			if !present {
				continue
			}
		}
		decodeOpts(node, rv.Field(i), at.key(name), r, opts["truncate"])
	}
}

// fieldName is the JSON key of a struct field, as encoding/json names it.
func fieldName(f reflect.StructField) (string, bool) {
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
