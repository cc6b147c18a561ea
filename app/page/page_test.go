package page

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/oncall/pager/twiml"
)

// One page text for alerts and the voicemail page, reply codes first, in
// GSM-7 (a dash, not an em dash, so a page stays one 160-character segment
// instead of 70-character UCS-2 ones).
func TestText(t *testing.T) {
	cases := []struct{ code, what, want string }{
		{"4", "disk full on db1", "[4a/4c] disk full on db1 - reply 4a to acknowledge, 4c to close"},
		{"", "disk full on db1", "ALERT disk full on db1 - reply ACK to acknowledge, CLOSE to close"},
		{"12", "On-call voicemail (1 second) from +12125550123. Listen: https://p.example/m/x",
			"[12a/12c] On-call voicemail (1 second) from +12125550123. Listen: https://p.example/m/x - reply 12a to acknowledge, 12c to close"},
	}
	for _, c := range cases {
		got := Text(c.code, c.what)
		if got != c.want {
			t.Errorf("Text(%q, %q) =\n %q\nwant\n %q", c.code, c.what, got, c.want)
		}
		for _, r := range got {
			if r > 0x7e {
				t.Errorf("Text(%q, ...) has %q, not in GSM-7's basic ASCII part", c.code, r)
			}
		}
	}
}

// A page call reads the summary; quote marks and ampersands in it must not
// push the escaped document past Twilio's 4,000 characters.
func TestCallTwiMLFitsTwilioLimit(t *testing.T) {
	p := New(nil, nil, "https://pager.example.test", nil)
	doc := p.CallTwiML("a1", "alice", strings.Repeat(`"&`, 1000))
	if n := utf8.RuneCountInString(doc); n > twiml.MaxInline {
		t.Fatalf("page call TwiML of %d characters", n)
	}
	if !strings.Contains(doc, PageKeysPrompt) {
		t.Fatalf("keys not offered: %s", doc)
	}
}
