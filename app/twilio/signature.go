package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// Sign computes the X-Twilio-Signature Twilio sends with a webhook request
// to fullURL carrying the form params.
//
// The algorithm, as documented at
// https://www.twilio.com/docs/usage/webhooks/webhooks-security and as
// implemented by Twilio's own helper libraries: start from the full URL
// exactly as Twilio requested it (scheme, host, port if any, path, query
// string, unmodified); sort the POST parameter names (byte order, so
// case-sensitive); append each name immediately followed by its value, no
// separators; HMAC-SHA1 the result keyed with the auth token; base64.
//
// The docs do not describe repeated names. twilio-python
// (RequestValidator.compute_signature) and twilio-node
// (getExpectedTwilioSignature) both append name+value once per distinct
// value, values sorted, and twilio-python's test suite pins that with a
// vector (Digits=5678&Digits=1234 → "IK+Dwps556ElfBT0I3Rgjkr1wJU=") that
// this implementation reproduces. twilio-go's RequestValidator instead keeps
// only the first value of each name, which is why it is not used here.
func Sign(authToken, fullURL string, params url.Values) string {
	sc := &scratch{}
	sc.writeParams(params)
	var sum [sha1.Size]byte
	mac := hmac.New(sha1.New, []byte(authToken))
	sc.sum(mac, fullURL, sum[:0])
	return base64.StdEncoding.EncodeToString(sum[:])
}

// Param is one form field as a request's body lists it.
type Param struct{ Name, Value string }

// scratch is one request's working memory, pooled: the names being sorted,
// the values of a repeated name, and the bytes to hash after the URL.
type scratch struct {
	keys   []string
	values []string
	// names holds the field names of the last ordered form (ValidParams)
	// in request order, end to end, when they were distinct, and ends
	// where each stops; order is the indexes that sort that form. One
	// buffer, so checking a form against it touches little memory.
	names []byte
	ends  []int
	order []int
	buf   []byte
	// got holds a computed HMAC: on the stack it would escape through
	// hash.Hash.Sum and cost an allocation per request.
	got [sha1.Size]byte
	// macs are a Validator's keyed HMACs, one per token.
	macs []hash.Hash
}

// writeParams lays out the signed form: names in byte order, each followed
// by its value, once per distinct value in byte order. A name's single
// value (Twilio's every field) is written without copying its list.
func (sc *scratch) writeParams(params url.Values) {
	// Twilio posts the same field set to a route every time, so the names
	// sorted for the previous request on this scratch usually fit this one:
	// one lookup per name tells, and fetches the values on the way, where
	// sorting again would cost more than the whole lookup pass.
	if len(sc.keys) == len(params) && sc.writeSorted(params) {
		return
	}
	sc.keys = sc.keys[:0]
	for k := range params {
		sc.keys = append(sc.keys, strings.Clone(k)) // not pinning the body
	}
	slices.Sort(sc.keys)
	sc.writeSorted(params)
}

// writeSorted writes params in the order of sc.keys; false if a name is
// missing from params (sc.buf is then garbage).
func (sc *scratch) writeSorted(params url.Values) bool {
	sc.buf = sc.buf[:0]
	defer clear(sc.values) // let the request's strings go while pooled
	for _, k := range sc.keys {
		vs, ok := params[k]
		if !ok {
			return false
		}
		if len(vs) > 1 {
			sc.values = append(sc.values[:0], vs...)
			slices.Sort(sc.values)
			vs = slices.Compact(sc.values)
		}
		for _, v := range vs {
			sc.buf = append(sc.buf, k...)
			sc.buf = append(sc.buf, v...)
		}
	}
	return true
}

// writeOrdered lays out a form given in request order, as writeParams
// does. Twilio lists a route's fields in the same order every time, so
// the order that sorted the last form usually sorts this one: one name
// comparison per field tells.
func (sc *scratch) writeOrdered(params []Param) {
	if !sc.sameNames(params) {
		sc.sortParams(params)
	}
	sc.buf = sc.buf[:0]
	for _, i := range sc.order {
		sc.buf = append(sc.buf, params[i].Name...)
		sc.buf = append(sc.buf, params[i].Value...)
	}
}

func (sc *scratch) sameNames(params []Param) bool {
	if len(sc.ends) != len(params) || len(params) == 0 {
		return false
	}
	start := 0
	for i := range params {
		end := sc.ends[i]
		if string(sc.names[start:end]) != params[i].Name {
			return false
		}
		start = end
	}
	return true
}

// sortParams orders params by name, then value, each name and value pair
// once: Twilio's order, the same as writeParams's. The order is kept for
// the next form with the same names, unless a name repeats (its values,
// not only its name, decide the order then).
func (sc *scratch) sortParams(params []Param) {
	sc.order = sc.order[:0]
	for i := range params {
		sc.order = append(sc.order, i)
	}
	slices.SortFunc(sc.order, func(a, b int) int {
		if c := strings.Compare(params[a].Name, params[b].Name); c != 0 {
			return c
		}
		return strings.Compare(params[a].Value, params[b].Value)
	})
	distinct := true
	out := sc.order[:0]
	for _, i := range sc.order {
		if n := len(out); n > 0 && params[out[n-1]].Name == params[i].Name {
			distinct = false
			if params[out[n-1]].Value == params[i].Value {
				continue
			}
		}
		out = append(out, i)
	}
	sc.order = out
	sc.names, sc.ends = sc.names[:0], sc.ends[:0]
	if distinct {
		for _, p := range params {
			sc.names = append(sc.names, p.Name...)
			sc.ends = append(sc.ends, len(sc.names))
		}
	}
}

// sum appends HMAC(fullURL + params) to out; mac must be freshly reset.
func (sc *scratch) sum(mac hash.Hash, fullURL string, out []byte) []byte {
	// The URL goes through the buffer's spare capacity so it is hashed
	// without a conversion to []byte per request.
	n := len(sc.buf)
	sc.buf = append(sc.buf, fullURL...)
	mac.Write(sc.buf[n:])
	mac.Write(sc.buf[:n])
	sc.buf = sc.buf[:n]
	return mac.Sum(out)
}

// Validator checks webhook signatures against one or more auth tokens, so a
// token can be rotated without a window in which Twilio's requests fail:
// configure the new token beside the old, promote it in Twilio's console,
// then drop the old one.
//
// Each of its pooled scratches holds a keyed HMAC per token: hmac.New
// runs the key schedule (two SHA-1 blocks of padded key) that Reset then
// restores from its saved state, so a request costs the hashing of its own
// bytes and one pool round trip. A scratch serves one request at a time.
type Validator struct {
	tokens  int
	scratch sync.Pool // *scratch with macs
}

// NewValidator returns a Validator accepting signatures made with any of
// tokens. Empty tokens are ignored; with none left it is disabled and
// rejects everything.
func NewValidator(tokens ...string) *Validator {
	var keys [][]byte
	for _, t := range tokens {
		if t != "" {
			keys = append(keys, []byte(t))
		}
	}
	v := &Validator{tokens: len(keys)}
	v.scratch.New = func() any {
		sc := &scratch{buf: make([]byte, 0, 2048)}
		for _, k := range keys {
			sc.macs = append(sc.macs, hmac.New(sha1.New, k))
		}
		return sc
	}
	return v
}

// Enabled reports whether the Validator has a token to check against.
func (v *Validator) Enabled() bool { return v != nil && v.tokens > 0 }

// Valid reports whether signature is what Twilio would send for a request
// to fullURL with the form params, under any configured token.
//
// Twilio is not consistent about the port in the URL it signs, so, like its
// helper libraries, Valid also accepts the signature of the URL with the
// scheme's default port added (when it has none) or with its port removed
// (when it has one). The URL as configured is tried first and the other
// form only when that fails, so a well-configured pager computes one
// signature per token. The URL is otherwise used byte for byte: re-encoding
// it would change what was signed.
func (v *Validator) Valid(fullURL string, params url.Values, signature string) bool {
	var want [sha1.Size + 2]byte
	if !v.decode(signature, &want) {
		return false
	}
	sc := v.scratch.Get().(*scratch)
	defer v.scratch.Put(sc)
	sc.writeParams(params)
	return v.check(sc, fullURL, want[:sha1.Size])
}

// ValidParams is Valid for a form given as the fields its body lists, in
// that order (a name may repeat): a webhook's form as parsed, without the
// map lookups sorting a url.Values takes.
func (v *Validator) ValidParams(fullURL string, params []Param, signature string) bool {
	var want [sha1.Size + 2]byte
	if !v.decode(signature, &want) {
		return false
	}
	sc := v.scratch.Get().(*scratch)
	defer v.scratch.Put(sc)
	sc.writeOrdered(params)
	return v.check(sc, fullURL, want[:sha1.Size])
}

// decode reads a signature into want; false if there is nothing to check
// it against or it is not one (28 base64 characters).
func (v *Validator) decode(signature string, want *[sha1.Size + 2]byte) bool {
	if !v.Enabled() || signature == "" || base64.StdEncoding.DecodedLen(len(signature)) > len(want) {
		return false
	}
	n, err := base64.StdEncoding.Decode(want[:], []byte(signature))
	return err == nil && n == sha1.Size
}

// check matches the laid-out form under fullURL, then under its other
// form (see Valid).
func (v *Validator) check(sc *scratch, fullURL string, want []byte) bool {
	if v.match(sc, fullURL, want) {
		return true
	}
	if other, ok := otherURLForm(fullURL); ok {
		return v.match(sc, other, want)
	}
	return false
}

// match tries every token, comparing in constant time, and does not stop
// at the first match so timing does not tell which token matched.
func (v *Validator) match(sc *scratch, fullURL string, want []byte) bool {
	ok := 0
	for _, mac := range sc.macs {
		mac.Reset()
		got := sc.sum(mac, fullURL, sc.got[:0])
		ok |= subtle.ConstantTimeCompare(got, want)
	}
	return ok == 1
}

// ValidBody checks a request whose raw body is at hand. For Twilio's JSON
// webhooks the URL carries a bodySHA256 query parameter: the signature
// covers the URL alone (no params) and the body must hash to that value.
// Without bodySHA256 the body is taken as the form and checked as by Valid.
func (v *Validator) ValidBody(fullURL string, body []byte, signature string) bool {
	u, err := url.Parse(fullURL)
	if err != nil {
		return false
	}
	want := u.Query().Get("bodySHA256")
	if want == "" {
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return false
		}
		return v.Valid(fullURL, form, signature)
	}
	sum := sha256.Sum256(body)
	bodyOK := subtle.ConstantTimeCompare([]byte(hex.EncodeToString(sum[:])), []byte(strings.ToLower(want))) == 1
	sigOK := v.Valid(fullURL, nil, signature)
	return bodyOK && sigOK
}

// otherURLForm returns raw with the default port added (no port given) or
// with its port removed (a port given); ok is false when raw has no scheme
// to take a default port from. It edits the text rather than round-tripping
// through url.URL, which may re-escape the path or query.
func otherURLForm(raw string) (string, bool) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return "", false
	}
	scheme := strings.ToLower(raw[:i])
	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	prefix := raw[:i+3]
	hostport := authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		prefix += authority[:at+1]
		hostport = authority[at+1:]
	}
	host, port := splitHostPort(hostport)
	switch {
	case port != "":
		return prefix + host + tail, true
	case scheme == "https":
		return prefix + host + ":443" + tail, true
	case scheme == "http":
		return prefix + host + ":80" + tail, true
	}
	return "", false
}

// splitHostPort splits "host:port" or "[v6]:port"; port is "" when absent.
func splitHostPort(hp string) (host, port string) {
	j := strings.LastIndex(hp, ":")
	if j < 0 || strings.Contains(hp[j:], "]") {
		return hp, ""
	}
	if !strings.HasPrefix(hp, "[") && strings.Contains(hp[:j], ":") {
		return hp, "" // a bare IPv6 address, no port
	}
	p := hp[j+1:]
	if p == "" {
		return hp, ""
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return hp, ""
		}
	}
	return hp[:j], p
}
