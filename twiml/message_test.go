package twiml

import (
	"bytes"
	"strings"
	"testing"

	gotwiml "github.com/twilio/twilio-go/twiml"
)

// The hand-written messaging reply must parse back, with the parser the
// suite uses, to exactly the bodies given, and agree with twilio-go's
// builder on every body it renders faithfully.
func TestAppendMessagingRoundTrip(t *testing.T) {
	bodies := []string{
		"On call: Ann (+15555550101).",
		`a&b <c> "d" 'e' &amp; ]]> <![CDATA[x]]>`,
		"line one\nline two\ttabbed",
		"héllo ✓ 😀 Grüße €",
		"carriage\rreturn",
		"",
	}
	for _, b := range bodies {
		doc := Messaging(b)
		got, err := Messages(doc)
		if err != nil {
			t.Fatalf("%q: %v\n%s", b, err, doc)
		}
		// Parse trims surrounding space, as it does for every reply.
		want := strings.TrimSpace(b)
		if len(got) != 1 || got[0] != want {
			t.Errorf("body %q came back as %q", b, got)
		}
		if b == "carriage\rreturn" {
			continue // twilio-go writes a raw CR, which a parser reads as LF
		}
		ref, err := gotwiml.Messages([]gotwiml.Element{gotwiml.MessagingMessage{Body: b}})
		if err != nil {
			t.Fatal(err)
		}
		refMsgs, _ := Messages(ref)
		if len(refMsgs) != 1 || refMsgs[0] != got[0] {
			t.Errorf("body %q: twilio-go gives %q, we give %q", b, refMsgs, got)
		}
	}
	several, err := Messages(Messaging("one", "two & three"))
	if err != nil || len(several) != 2 || several[1] != "two & three" {
		t.Errorf("two messages = %q, %v", several, err)
	}
	if nodes, err := Parse(Messaging()); err != nil || len(nodes) != 0 {
		t.Errorf("empty reply = %v, %v", nodes, err)
	}
}

// Characters XML cannot carry never make the reply unparseable.
func TestAppendMessagingInvalidCharacters(t *testing.T) {
	for _, b := range []string{"nul\x00x", "bell\x07", "bad \xff utf8", "\uFFFE\uFFFF", "esc\x1b[0m"} {
		msgs, err := Messages(Messaging(b))
		if err != nil || len(msgs) != 1 {
			t.Errorf("%q: %v %v", b, msgs, err)
			continue
		}
		if !strings.Contains(msgs[0], "\uFFFD") {
			t.Errorf("%q: want U+FFFD in its place, got %q", b, msgs[0])
		}
	}
}

func FuzzAppendMessaging(f *testing.F) {
	for _, s := range []string{"WHO", "a&b<c>", "\r\n\t", "\xff", "😀"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b string) {
		if _, err := Messages(Messaging(b)); err != nil {
			t.Fatalf("%q: %v", b, err)
		}
	})
}

func TestWriteMessaging(t *testing.T) {
	var w bytes.Buffer
	if err := WriteMessaging(&w, "x < y"); err != nil {
		t.Fatal(err)
	}
	if w.String() != Messaging("x < y") {
		t.Errorf("WriteMessaging = %q", w.String())
	}
	if n := testing.AllocsPerRun(100, func() { w.Reset(); _ = WriteMessaging(&w, "On call: Ann (+15555550101).") }); n > 1 {
		t.Errorf("WriteMessaging allocates %v times, want at most 1 (the pooled buffer's box under -race)", n)
	}
}
