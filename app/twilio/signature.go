package twilio

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
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
	mac := hmac.New(sha1.New, []byte(authToken))
	mac.Write([]byte(fullURL))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		values := slices.Clone(params[k])
		slices.Sort(values)
		for _, v := range slices.Compact(values) {
			mac.Write([]byte(k))
			mac.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Validator checks webhook signatures against one or more auth tokens, so a
// token can be rotated without a window in which Twilio's requests fail:
// configure the new token beside the old, promote it in Twilio's console,
// then drop the old one.
type Validator struct {
	tokens []string
}

// NewValidator returns a Validator accepting signatures made with any of
// tokens. Empty tokens are ignored; with none left it is disabled and
// rejects everything.
func NewValidator(tokens ...string) *Validator {
	v := &Validator{}
	for _, t := range tokens {
		if t != "" {
			v.tokens = append(v.tokens, t)
		}
	}
	return v
}

// Enabled reports whether the Validator has a token to check against.
func (v *Validator) Enabled() bool { return v != nil && len(v.tokens) > 0 }

// Valid reports whether signature is what Twilio would send for a request
// to fullURL with the form params, under any configured token.
//
// Twilio is not consistent about the port in the URL it signs, so, like its
// helper libraries, Valid also accepts the signature of the URL with the
// scheme's default port added (when it has none) or with its port removed
// (when it has one). The URL is otherwise used byte for byte: re-encoding it
// would change what was signed.
func (v *Validator) Valid(fullURL string, params url.Values, signature string) bool {
	if !v.Enabled() || signature == "" {
		return false
	}
	ok := 0
	// Every candidate is computed and compared, so timing does not tell
	// which token or URL form matched.
	for _, u := range urlVariants(fullURL) {
		for _, t := range v.tokens {
			ok |= subtle.ConstantTimeCompare([]byte(Sign(t, u, params)), []byte(signature))
		}
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

// urlVariants returns raw, plus raw with the default port added (no port
// given) or with its port removed (a port given). It edits the text rather
// than round-tripping through url.URL, which may re-escape the path or query.
func urlVariants(raw string) []string {
	out := []string{raw}
	i := strings.Index(raw, "://")
	if i < 0 {
		return out
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
		out = append(out, prefix+host+tail)
	case scheme == "https":
		out = append(out, prefix+host+":443"+tail)
	case scheme == "http":
		out = append(out, prefix+host+":80"+tail)
	}
	return out
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
