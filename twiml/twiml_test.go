package twiml

import (
	"strings"
	"testing"
)

func TestVoiceRoundTrip(t *testing.T) {
	doc := Voice(
		Gather{Action: "https://x.test/public/keypress", NumDigits: 1, Timeout: 10, Prompt: []Verb{Say{Text: "Press 1 & wait <now>"}}},
		Record{Action: "/a", MaxLength: 300, RecordingStatusCallback: "/cb?x=1&y=2", RecordingStatusCallbackEvent: "completed absent", PlayBeep: true},
		Hangup{},
	)
	nodes, err := Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 3 || nodes[0].Name != "Gather" || nodes[1].Name != "Record" || nodes[2].Name != "Hangup" {
		t.Fatalf("verbs = %+v", nodes)
	}
	g := nodes[0]
	if g.Attr["numDigits"] != "1" || g.Attr["action"] != "https://x.test/public/keypress" || g.Attr["timeout"] != "10" {
		t.Errorf("gather attrs = %v", g.Attr)
	}
	if say, ok := Find(nodes, "Say"); !ok || say.Text != "Press 1 & wait <now>" {
		t.Errorf("say = %+v (escaping must round-trip)", say)
	}
	r := nodes[1]
	if r.Attr["recordingStatusCallback"] != "/cb?x=1&y=2" || r.Attr["recordingStatusCallbackEvent"] != "completed absent" || r.Attr["maxLength"] != "300" {
		t.Errorf("record attrs = %v", r.Attr)
	}
}

func TestMessagingEmptyAndBodies(t *testing.T) {
	empty := Messaging()
	if !strings.Contains(empty, "<Response") {
		t.Fatalf("empty = %q", empty)
	}
	if msgs, _ := Messages(empty); len(msgs) != 0 {
		t.Errorf("empty reply has messages %v", msgs)
	}
	msgs, err := Messages(Messaging("héllo ✓", "two"))
	if err != nil || len(msgs) != 2 || msgs[0] != "héllo ✓" {
		t.Errorf("msgs = %v, %v", msgs, err)
	}
}

func TestParseRejectsGarbage(t *testing.T) {
	if _, err := Parse("<nope/>"); err == nil {
		t.Error("want error for non-Response root")
	}
}
