package twilio_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/oncall/pager/app/twilio"
)

// The worked example of Twilio's webhook security documentation
// (https://www.twilio.com/docs/usage/webhooks/webhooks-security): auth token
// "12345", a POST to this URL with these Gather parameters is signed
// "GvWf1cFY/Q7PnoempGyD5oXAezc=". Older copies of the same page, and
// twilio-python's tests/unit/test_request_validator.py, use the caller
// +14158675309 and "RSOYDt4T1cUTdK1PDd93/VVr8B8="; both are checked.
const (
	docToken = "12345"
	docURL   = "https://mycompany.com/myapp.php?foo=1&bar=2"
)

func docParams(caller string) url.Values {
	return url.Values{
		"CallSid": {"CA1234567890ABCDE"},
		"Caller":  {caller},
		"Digits":  {"1234"},
		"From":    {caller},
		"To":      {"+18005551212"},
	}
}

func TestSignPublishedVectors(t *testing.T) {
	cases := []struct {
		name   string
		url    string
		params url.Values
		want   string
	}{
		{"docs example", docURL, docParams("+14158675310"), "GvWf1cFY/Q7PnoempGyD5oXAezc="},
		{"twilio-python example", docURL, docParams("+14158675309"), "RSOYDt4T1cUTdK1PDd93/VVr8B8="},
		// twilio-python test_validation_adds_port_on_https / _on_http and
		// test_validation_removes_port_on_http: the same request signed with
		// an explicit port.
		{"https with :443", "https://mycompany.com:443/myapp.php?foo=1&bar=2", docParams("+14158675309"), "kvajT1Ptam85bY51eRf/AJRuM3w="},
		{"http with :80", "http://mycompany.com:80/myapp.php?foo=1&bar=2", docParams("+14158675309"), "0ZXoZLH/DfblKGATFgpif+LLRf4="},
		{"http with :1234", "http://mycompany.com:1234/myapp.php?foo=1&bar=2", docParams("+14158675309"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="},
		// twilio-python test_compute_signature_duplicate_multi_dict: a
		// repeated name contributes each value, values sorted.
		{"repeated name", docURL, url.Values{"Sid": {"CA123"}, "SidAccount": {"AC123"}, "Digits": {"5678", "1234"}}, "IK+Dwps556ElfBT0I3Rgjkr1wJU="},
		// twilio-go client/request_validator_test.go: the JSON-body form,
		// signed over the URL (with bodySHA256) alone.
		{"bodySHA256 URL", docURL + "&bodySHA256=0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620", nil, "a9nBmqA0ju/hNViExpshrM61xv4="},
	}
	for _, tc := range cases {
		if got := twilio.Sign(docToken, tc.url, tc.params); got != tc.want {
			t.Errorf("%s: Sign = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestValidatorAcceptsAndRejects(t *testing.T) {
	v := twilio.NewValidator(docToken)
	const sig = "GvWf1cFY/Q7PnoempGyD5oXAezc="
	if !v.Enabled() || !v.Valid(docURL, docParams("+14158675310"), sig) {
		t.Fatal("published example rejected")
	}
	tampered := docParams("+14158675310")
	tampered.Set("Digits", "9999")
	added := docParams("+14158675310")
	added.Set("CallerName", "Mallory")
	missing := docParams("+14158675310")
	missing.Del("Digits")
	repeated := docParams("+14158675310")
	repeated.Add("Digits", "9999")
	for name, c := range map[string]struct {
		url    string
		params url.Values
		sig    string
	}{
		"tampered param":  {docURL, tampered, sig},
		"added param":     {docURL, added, sig},
		"dropped param":   {docURL, missing, sig},
		"repeated param":  {docURL, repeated, sig},
		"other path":      {"https://mycompany.com/other.php?foo=1&bar=2", docParams("+14158675310"), sig},
		"other query":     {"https://mycompany.com/myapp.php?foo=2&bar=2", docParams("+14158675310"), sig},
		"http not https":  {"http://mycompany.com/myapp.php?foo=1&bar=2", docParams("+14158675310"), sig},
		"empty signature": {docURL, docParams("+14158675310"), ""},
		"truncated":       {docURL, docParams("+14158675310"), sig[:len(sig)-1]},
	} {
		if v.Valid(c.url, c.params, c.sig) {
			t.Errorf("%s: accepted", name)
		}
	}
	if twilio.NewValidator("54321").Valid(docURL, docParams("+14158675310"), sig) {
		t.Error("wrong token accepted")
	}
}

func TestValidatorRotation(t *testing.T) {
	oldTok, newTok := "0ld0ld0ld0ld0ld0ld0ld0ld0ld0ld00", "new0new0new0new0new0new0new0new0"
	params := url.Values{"From": {"+15005550006"}, "Body": {"take"}}
	const u = "https://pager.example.com/msgcontrol/entry"
	both := twilio.NewValidator(newTok, "", oldTok)
	for name, tok := range map[string]string{"old": oldTok, "new": newTok} {
		if !both.Valid(u, params, twilio.Sign(tok, u, params)) {
			t.Errorf("signature with the %s token rejected during rotation", name)
		}
	}
	if twilio.NewValidator(newTok).Valid(u, params, twilio.Sign(oldTok, u, params)) {
		t.Error("old token still accepted after it was dropped")
	}
	if twilio.NewValidator("", "").Enabled() || twilio.NewValidator("", "").Valid(u, params, twilio.Sign("", u, params)) {
		t.Error("a validator without tokens must be disabled and reject everything")
	}
	var nilV *twilio.Validator
	if nilV.Enabled() {
		t.Error("nil validator enabled")
	}
}

// Twilio may sign the URL with or without the port; accept either, as its
// helper libraries do.
func TestValidatorPortVariants(t *testing.T) {
	v := twilio.NewValidator(docToken)
	p := docParams("+14158675309")
	cases := []struct {
		name, requestURL, signedURL string
	}{
		{"signed with :443, seen without", docURL, "https://mycompany.com:443/myapp.php?foo=1&bar=2"},
		{"signed without, seen with :443", "https://mycompany.com:443/myapp.php?foo=1&bar=2", docURL},
		{"http signed with :80", "http://mycompany.com/myapp.php?foo=1&bar=2", "http://mycompany.com:80/myapp.php?foo=1&bar=2"},
		{"non-default port signed without", "https://mycompany.com:1234/myapp.php?foo=1&bar=2", docURL},
		{"user info kept", "https://u:p@mycompany.com/x", "https://u:p@mycompany.com:443/x"},
		{"IPv6 literal", "http://[::1]:8080/x?y=1", "http://[::1]/x?y=1"},
	}
	for _, tc := range cases {
		if !v.Valid(tc.requestURL, p, twilio.Sign(docToken, tc.signedURL, p)) {
			t.Errorf("%s: rejected", tc.name)
		}
	}
	if v.Valid(docURL, p, twilio.Sign(docToken, "https://mycompany.com:444/myapp.php?foo=1&bar=2", p)) {
		t.Error("a signature for another port was accepted on a port-less URL")
	}
}

// The URL is used exactly as given: escaping matters to the signature.
func TestSignDoesNotReencodeURL(t *testing.T) {
	a := twilio.Sign(docToken, "https://x.example/p?name=Jane%20Doe", nil)
	b := twilio.Sign(docToken, "https://x.example/p?name=Jane+Doe", nil)
	if a == b {
		t.Fatal("differently escaped URLs signed alike")
	}
	v := twilio.NewValidator(docToken)
	if !v.Valid("https://x.example/p?name=Jane%20Doe", nil, a) || v.Valid("https://x.example/p?name=Jane%20Doe", nil, b) {
		t.Error("validator re-encoded the URL")
	}
}

func TestValidBody(t *testing.T) {
	v := twilio.NewValidator(docToken)
	body := []byte(`{"property": "value", "boolean": true}`)
	sum := sha256.Sum256(body)
	u := docURL + "&bodySHA256=" + hex.EncodeToString(sum[:])
	const sig = "a9nBmqA0ju/hNViExpshrM61xv4=" // twilio-go's vector for this body and URL
	if !v.ValidBody(u, body, sig) {
		t.Fatal("JSON body with matching hash rejected")
	}
	if v.ValidBody(u, []byte(`{"property": "other", "boolean": true}`), sig) {
		t.Error("altered JSON body accepted")
	}
	if twilio.NewValidator("nope").ValidBody(u, body, sig) {
		t.Error("wrong token accepted")
	}
	// Without bodySHA256 the body is a form, checked like Valid.
	form := docParams("+14158675310")
	if !v.ValidBody(docURL, []byte(form.Encode()), "GvWf1cFY/Q7PnoempGyD5oXAezc=") {
		t.Error("form body rejected")
	}
	form.Set("Digits", "0")
	if v.ValidBody(docURL, []byte(form.Encode()), "GvWf1cFY/Q7PnoempGyD5oXAezc=") {
		t.Error("tampered form body accepted")
	}
}

// twilioForm is an inbound SMS webhook's full field set.
func twilioForm() url.Values {
	return url.Values{
		"AccountSid": {"AC0123"}, "ApiVersion": {"2010-04-01"}, "Body": {"WHO"}, "From": {"+15555550101"},
		"FromCity": {"SAN FRANCISCO"}, "FromCountry": {"US"}, "FromState": {"CA"}, "FromZip": {"94105"},
		"MessageSid": {"SM0123"}, "MessagingServiceSid": {"MG0123"}, "NumMedia": {"0"}, "NumSegments": {"1"},
		"SmsMessageSid": {"SM0123"}, "SmsSid": {"SM0123"}, "SmsStatus": {"received"}, "To": {"+15555550100"},
		"ToCity": {"NEW YORK"}, "ToCountry": {"US"}, "ToState": {"NY"}, "ToZip": {"10001"},
	}
}

// The pooled, keyed HMACs are shared by concurrent requests under both
// tokens of a rotation; every answer must still be exact (run with -race).
func TestValidatorConcurrent(t *testing.T) {
	const oldTok, newTok = "old-token-0123456789", "new-token-9876543210"
	v := twilio.NewValidator(newTok, oldTok)
	u := "https://pager.example.test/msgcontrol/entry"
	p := twilioForm()
	sigs := map[string]bool{
		twilio.Sign(oldTok, u, p): true,
		twilio.Sign(newTok, u, p): true,
		twilio.Sign(newTok, "https://pager.example.test:443/msgcontrol/entry", p): true,
		twilio.Sign("other", u, p):       false,
		twilio.Sign(newTok, u+"?x=1", p): false,
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			for i := 0; i < 200 && err == nil; i++ {
				for sig, want := range sigs {
					if got := v.Valid(u, p, sig); got != want {
						err = fmt.Errorf("Valid(%s) = %v, want %v", sig, got, want)
					}
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// A valid request costs no key schedule and no copies of the form: the
// check allocates nothing once its pools are warm. Malformed signatures
// are refused before any hashing.
func TestValidatorAllocations(t *testing.T) {
	v := twilio.NewValidator("tok-a", "tok-b")
	u := "https://pager.example.test/msgcontrol/entry"
	p := twilioForm()
	sig := twilio.Sign("tok-b", u, p)
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	if n := testing.AllocsPerRun(100, func() {
		if !v.Valid(u, p, sig) {
			t.Fatal("valid signature refused")
		}
	}); n > 0 {
		t.Errorf("Valid allocates %v times per request, want 0", n)
	}
	for _, bad := range []string{"not base64!", sig + sig, sig[:20], "AAAA"} {
		if v.Valid(u, p, bad) {
			t.Errorf("Valid accepted %q", bad)
		}
	}
}

func BenchmarkValid(b *testing.B) {
	v := twilio.NewValidator("tok-a", "tok-b")
	u := "https://pager.example.test/msgcontrol/entry"
	p := twilioForm()
	sig := twilio.Sign("tok-a", u, p)
	b.ReportAllocs()
	for b.Loop() {
		if !v.Valid(u, p, sig) {
			b.Fatal("refused")
		}
	}
}

// The name order remembered from one request must not leak into the next
// with other names (same count, different names; fewer; more).
func TestValidatorChangingFieldSets(t *testing.T) {
	v := twilio.NewValidator("tok")
	u := "https://pager.example.test/hook"
	forms := []url.Values{
		twilioForm(),
		{"A": {"1"}, "B": {"2"}},
		{"A": {"1"}, "C": {"2"}},
		{"B": {"1"}, "A": {"2"}, "Z": {"3", "0"}},
		docParams("+14158675310"),
	}
	again := twilioForm()
	again.Set("Body", "TAKE")
	forms = append(forms, again)
	for round := 0; round < 3; round++ {
		for i, f := range forms {
			if !v.Valid(u, f, twilio.Sign("tok", u, f)) {
				t.Fatalf("round %d form %d: own signature refused", round, i)
			}
			other := forms[(i+1)%len(forms)]
			if v.Valid(u, f, twilio.Sign("tok", u, other)) {
				t.Fatalf("round %d form %d: another form's signature accepted", round, i)
			}
		}
	}
}

// HeaderValue reads the map directly, so the names must be canonical.
func TestHeaderNamesAreCanonical(t *testing.T) {
	for _, name := range []string{twilio.SignatureHeader, twilio.IdempotencyHeader} {
		if c := http.CanonicalHeaderKey(name); c != name {
			t.Errorf("%q is not canonical (%q)", name, c)
		}
		h := http.Header{}
		h.Set(name, "v")
		if got := twilio.HeaderValue(h, name); got != "v" {
			t.Errorf("HeaderValue(%s) = %q", name, got)
		}
	}
}

// fieldsOf lists a form's fields the way a body would, in the order given
// by names (then each name's values as listed).
func fieldsOf(form url.Values, names ...string) []twilio.Param {
	var out []twilio.Param
	for _, n := range names {
		for _, v := range form[n] {
			out = append(out, twilio.Param{Name: n, Value: v})
		}
	}
	return out
}

// ValidParams agrees with Valid on every form, in any field order, with
// repeated names and values, and across changing field sets on one
// scratch (the remembered order must not leak into another form).
func TestValidParamsAgreesWithValid(t *testing.T) {
	v := twilio.NewValidator("tok")
	u := "https://pager.example.test/hook"
	tw := twilioForm()
	var twNames []string
	for n := range tw {
		twNames = append(twNames, n)
	}
	slices.Sort(twNames)
	reversed := slices.Clone(twNames)
	slices.Reverse(reversed)
	again := twilioForm()
	again.Set("Body", "TAKE")
	cases := []struct {
		form  url.Values
		names []string
	}{
		{tw, twNames},
		{tw, reversed},
		{again, twNames},
		{url.Values{"A": {"1"}, "B": {"2"}}, []string{"B", "A"}},
		{url.Values{"A": {"1"}, "C": {"2"}}, []string{"A", "C"}},
		{url.Values{"B": {"1"}, "A": {"2"}, "Z": {"3", "0", "3"}}, []string{"Z", "A", "B"}},
		{url.Values{"Digits": {"5678", "1234"}}, []string{"Digits"}},
		{url.Values{"Digits": {"1234", "5678"}}, []string{"Digits"}},
		{docParams("+14158675310"), []string{"Digits", "To", "From", "Caller", "CallSid"}},
		{url.Values{}, nil},
	}
	for round := range 3 {
		for i, tc := range cases {
			fields := fieldsOf(tc.form, tc.names...)
			if !v.ValidParams(u, fields, twilio.Sign("tok", u, tc.form)) {
				t.Fatalf("round %d case %d: own signature refused", round, i)
			}
			other := cases[(i+1)%len(cases)].form
			if v.ValidParams(u, fields, twilio.Sign("tok", u, other)) != v.Valid(u, tc.form, twilio.Sign("tok", u, other)) {
				t.Fatalf("round %d case %d: ValidParams and Valid disagree on another form's signature", round, i)
			}
		}
	}
	// The published vector, as a body lists it.
	doc := twilio.NewValidator(docToken)
	if !doc.ValidParams(docURL, fieldsOf(docParams("+14158675310"), "To", "From", "Digits", "Caller", "CallSid"), "GvWf1cFY/Q7PnoempGyD5oXAezc=") {
		t.Fatal("the documentation's example refused")
	}
	if raceEnabled {
		return // allocation counts are meaningless under -race
	}
	fields := fieldsOf(tw, reversed...)
	sig := twilio.Sign("tok", u, tw)
	if n := testing.AllocsPerRun(100, func() { v.ValidParams(u, fields, sig) }); n != 0 {
		t.Errorf("ValidParams allocates %v times per request, want 0", n)
	}
}
