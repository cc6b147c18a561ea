package mocktwilio

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// SpecEnv names the environment variable that overrides where the Twilio
// OpenAPI description (twilio_api_v2010.json) is read from.
const SpecEnv = "TWILIO_OPENAPI_SPEC"

// specRelPath is where the description lives relative to a directory that
// contains the shared reference folder (the repo's parent, in this project).
var specRelPath = filepath.Join("shared", "twilio", "twilio_api_v2010.json")

// FindSpec locates Twilio's OpenAPI description: $TWILIO_OPENAPI_SPEC if
// set, else shared/twilio/twilio_api_v2010.json in the working directory or
// any parent (which finds the repo's sibling ../shared from anywhere in the
// tree). searched lists every place looked at, for the "not found" message.
func FindSpec() (path string, searched []string, ok bool) {
	if p := os.Getenv(SpecEnv); p != "" {
		_, err := os.Stat(p)
		return p, []string{p}, err == nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", nil, false
	}
	for {
		p := filepath.Join(dir, specRelPath)
		searched = append(searched, p)
		if _, err := os.Stat(p); err == nil {
			return p, searched, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", searched, false
		}
		dir = parent
	}
}

// Spec is the request side of Twilio's OpenAPI description: enough to say
// whether a request is one the real API would accept the shape of. It is
// immutable once loaded.
type Spec struct {
	ops []*specPath
	// statuses are the status words of a resource's records (a list
	// resource reports them), by schema: message_enum_status,
	// call_enum_status.
	statuses map[string][]string
}

type specPath struct {
	template string
	segs     []pathSeg
	literal  int // literal characters, to prefer the most specific match
	methods  map[string]*operation
}

// pathSeg is one "/"-separated piece of a template: prefix{Param}suffix, or
// a plain literal when param is "".
type pathSeg struct {
	prefix, param, suffix string
}

type operation struct {
	pathParams  map[string]*schema
	queryParams map[string]*schema
	required    []string // required query params
	form        *schema  // application/x-www-form-urlencoded body; nil if none
}

// schema is the subset of OpenAPI/JSON Schema that Twilio's request
// parameters use.
type schema struct {
	Ref        string             `json:"$ref"`
	Type       string             `json:"type"`
	Format     string             `json:"format"`
	Pattern    string             `json:"pattern"`
	Enum       []any              `json:"enum"`
	MinLength  *int               `json:"minLength"`
	MaxLength  *int               `json:"maxLength"`
	Items      *schema            `json:"items"`
	Properties map[string]*schema `json:"properties"`
	Required   []string           `json:"required"`
	XTwilio    struct {
		IgnoreFormat bool `json:"ignoreFormat"`
	} `json:"x-twilio"`

	re *regexp.Regexp
}

type rawParam struct {
	Name     string  `json:"name"`
	In       string  `json:"in"`
	Required bool    `json:"required"`
	Schema   *schema `json:"schema"`
}

type rawOperation struct {
	Parameters  []rawParam `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema *schema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
}

var httpMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// LoadSpec reads and indexes an OpenAPI 3 description.
func LoadSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseSpec(data)
}

// ParseSpec indexes an OpenAPI 3 description held in memory.
func ParseSpec(data []byte) (*Spec, error) {
	var raw struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("parse OpenAPI spec: %w", err)
	}
	if len(raw.Paths) == 0 {
		return nil, fmt.Errorf("parse OpenAPI spec: no paths")
	}
	r := &resolver{components: raw.Components.Schemas}
	s := &Spec{statuses: map[string][]string{}}
	for _, name := range []string{"message_enum_status", "call_enum_status"} {
		if sch := raw.Components.Schemas[name]; sch != nil {
			for _, e := range sch.Enum {
				s.statuses[name] = append(s.statuses[name], fmt.Sprint(e))
			}
		}
	}
	for tmpl, item := range raw.Paths {
		sp := &specPath{template: tmpl, methods: map[string]*operation{}}
		for _, part := range strings.Split(tmpl, "/") {
			seg, err := parseSeg(part)
			if err != nil {
				return nil, fmt.Errorf("path %s: %w", tmpl, err)
			}
			sp.segs = append(sp.segs, seg)
			sp.literal += len(seg.prefix) + len(seg.suffix)
		}
		for _, m := range httpMethods {
			rawOp, ok := item[m]
			if !ok {
				continue
			}
			var ro rawOperation
			if err := json.Unmarshal(rawOp, &ro); err != nil {
				return nil, fmt.Errorf("%s %s: %w", m, tmpl, err)
			}
			op := &operation{pathParams: map[string]*schema{}, queryParams: map[string]*schema{}}
			for _, p := range ro.Parameters {
				sch, err := r.resolve(p.Schema)
				if err != nil {
					return nil, fmt.Errorf("%s %s param %s: %w", m, tmpl, p.Name, err)
				}
				switch p.In {
				case "path":
					op.pathParams[p.Name] = sch
				case "query":
					op.queryParams[p.Name] = sch
					if p.Required {
						op.required = append(op.required, p.Name)
					}
				}
			}
			if ro.RequestBody != nil {
				for ct, c := range ro.RequestBody.Content {
					if ct != "application/x-www-form-urlencoded" {
						continue
					}
					sch, err := r.resolve(c.Schema)
					if err != nil {
						return nil, fmt.Errorf("%s %s body: %w", m, tmpl, err)
					}
					op.form = sch
				}
			}
			sp.methods[strings.ToUpper(m)] = op
		}
		s.ops = append(s.ops, sp)
	}
	return s, nil
}

func parseSeg(part string) (pathSeg, error) {
	open := strings.IndexByte(part, '{')
	if open < 0 {
		return pathSeg{prefix: part}, nil
	}
	closing := strings.IndexByte(part, '}')
	if closing < open || strings.IndexByte(part[closing+1:], '{') >= 0 {
		return pathSeg{}, fmt.Errorf("unsupported segment %q", part)
	}
	return pathSeg{prefix: part[:open], param: part[open+1 : closing], suffix: part[closing+1:]}, nil
}

// resolver follows $refs into components and compiles patterns, once per
// schema object.
type resolver struct {
	components map[string]*schema
}

func (r *resolver) resolve(s *schema) (*schema, error) {
	return r.resolveDepth(s, 0)
}

func (r *resolver) resolveDepth(s *schema, depth int) (*schema, error) {
	if s == nil {
		return nil, nil
	}
	if depth > 32 {
		return nil, fmt.Errorf("$ref nesting too deep")
	}
	if s.Ref != "" {
		name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
		if !ok {
			return nil, fmt.Errorf("unsupported $ref %q", s.Ref)
		}
		target, ok := r.components[name]
		if !ok {
			return nil, fmt.Errorf("dangling $ref %q", s.Ref)
		}
		return r.resolveDepth(target, depth+1)
	}
	if s.Pattern != "" && s.re == nil {
		re, err := regexp.Compile(s.Pattern)
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", s.Pattern, err)
		}
		s.re = re
	}
	var err error
	if s.Items, err = r.resolveDepth(s.Items, depth+1); err != nil {
		return nil, err
	}
	for name, p := range s.Properties {
		if s.Properties[name], err = r.resolveDepth(p, depth+1); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// mediaExtensions are the alternative representations Twilio serves for a
// Recording instance (GET …/Recordings/RE….mp3 or .wav). The OpenAPI
// description only lists the .json form, so these are checked against it.
var mediaExtensions = []string{".mp3", ".wav"}

// Validate checks a request (its body already read into body) against the
// spec and returns every violation found; none means it conforms.
func (s *Spec) Validate(r *http.Request, body []byte) []string {
	sp, pathVals := s.match(r.URL.Path)
	if sp == nil && r.Method == http.MethodGet {
		for _, ext := range mediaExtensions {
			if p, ok := strings.CutSuffix(r.URL.Path, ext); ok {
				sp, pathVals = s.match(p + ".json")
				break
			}
		}
	}
	if sp == nil {
		return []string{fmt.Sprintf("%s %s: no path in the spec matches", r.Method, r.URL.Path)}
	}
	op := sp.methods[r.Method]
	if op == nil {
		return []string{fmt.Sprintf("%s %s: method not in the spec for %s", r.Method, r.URL.Path, sp.template)}
	}
	where := r.Method + " " + sp.template
	var v []string
	for name, val := range pathVals {
		if sch := op.pathParams[name]; sch != nil {
			v = append(v, checkValue(where+" path "+name, sch, val)...)
		}
	}

	query := r.URL.Query()
	for name, vals := range query {
		sch, ok := op.queryParams[name]
		if !ok {
			v = append(v, fmt.Sprintf("%s: query parameter %q is not in the spec", where, name))
			continue
		}
		v = append(v, checkValues(where+" query "+name, sch, vals)...)
	}
	for _, name := range op.required {
		if _, ok := query[name]; !ok {
			v = append(v, fmt.Sprintf("%s: required query parameter %q missing", where, name))
		}
	}

	if op.form == nil {
		if len(body) > 0 {
			v = append(v, fmt.Sprintf("%s: takes no request body, got %d bytes", where, len(body)))
		}
		return v
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return append(v, fmt.Sprintf("%s: content type %q, want application/x-www-form-urlencoded", where, ct))
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return append(v, fmt.Sprintf("%s: body is not form-encoded: %v", where, err))
	}
	for name, vals := range form {
		sch, ok := op.form.Properties[name]
		if !ok {
			v = append(v, fmt.Sprintf("%s: field %q is not in the spec", where, name))
			continue
		}
		v = append(v, checkValues(where+" field "+name, sch, vals)...)
	}
	for _, name := range op.form.Required {
		if _, ok := form[name]; !ok {
			v = append(v, fmt.Sprintf("%s: required field %q missing", where, name))
		}
	}
	slices.Sort(v) // map order must not make failures flaky to compare
	return v
}

// match finds the most specific template matching p and its path values.
func (s *Spec) match(p string) (*specPath, map[string]string) {
	parts := strings.Split(p, "/")
	var best *specPath
	var bestVals map[string]string
	for _, sp := range s.ops {
		if len(sp.segs) != len(parts) {
			continue
		}
		vals := map[string]string{}
		ok := true
		for i, seg := range sp.segs {
			part := parts[i]
			if seg.param == "" {
				if part != seg.prefix {
					ok = false
					break
				}
				continue
			}
			if len(part) <= len(seg.prefix)+len(seg.suffix) ||
				!strings.HasPrefix(part, seg.prefix) || !strings.HasSuffix(part, seg.suffix) {
				ok = false
				break
			}
			vals[seg.param] = part[len(seg.prefix) : len(part)-len(seg.suffix)]
		}
		if ok && (best == nil || sp.literal > best.literal) {
			best, bestVals = sp, vals
		}
	}
	return best, bestVals
}

// checkValues checks every occurrence of a field: repeating one is only
// allowed for arrays (MediaUrl, StatusCallbackEvent, …).
func checkValues(where string, sch *schema, vals []string) []string {
	if sch.Type == "array" {
		if sch.Items == nil {
			return nil
		}
		var v []string
		for _, val := range vals {
			v = append(v, checkValue(where, sch.Items, val)...)
		}
		return v
	}
	if len(vals) > 1 {
		return []string{fmt.Sprintf("%s: given %d times but is not an array", where, len(vals))}
	}
	return checkValue(where, sch, vals[0])
}

func checkValue(where string, sch *schema, val string) []string {
	var v []string
	bad := func(format string, args ...any) {
		v = append(v, fmt.Sprintf("%s: %q ", where, val)+fmt.Sprintf(format, args...))
	}
	switch sch.Type {
	case "integer":
		if _, err := strconv.ParseInt(val, 10, 64); err != nil {
			bad("is not an integer")
		}
	case "number":
		if _, err := strconv.ParseFloat(val, 64); err != nil {
			bad("is not a number")
		}
	case "boolean":
		if !strings.EqualFold(val, "true") && !strings.EqualFold(val, "false") {
			bad("is not a boolean")
		}
	}
	n := utf8.RuneCountInString(val)
	if sch.MinLength != nil && n < *sch.MinLength {
		bad("is shorter than %d", *sch.MinLength)
	}
	if sch.MaxLength != nil && n > *sch.MaxLength {
		bad("is longer than %d", *sch.MaxLength)
	}
	if sch.re != nil && !sch.re.MatchString(val) {
		bad("does not match %s", sch.Pattern)
	}
	if len(sch.Enum) > 0 && !slices.ContainsFunc(sch.Enum, func(e any) bool { return fmt.Sprint(e) == val }) {
		bad("is not one of %v", sch.Enum)
	}
	if !sch.XTwilio.IgnoreFormat {
		switch sch.Format {
		case "uri":
			// Loosely: Twilio needs something it can fetch.
			u, err := url.Parse(val)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("is not an absolute http(s) URL")
			}
		case "date-time":
			if _, err := time.Parse(time.RFC3339, val); err != nil {
				bad("is not an RFC 3339 date-time")
			}
		case "phone-number", "endpoint":
			if strings.TrimSpace(val) == "" {
				bad("is empty")
			}
		}
	}
	return v
}
