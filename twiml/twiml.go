package twiml

import (
	"strconv"
	"unicode/utf8"

	gotwiml "github.com/twilio/twilio-go/twiml"
)

// Verb is one TwiML instruction.
type Verb interface {
	element() gotwiml.Element
}

// Say speaks text with Twilio's text-to-speech.
type Say struct {
	Text     string
	Voice    string
	Language string
	Loop     int
}

// Play plays an audio file.
type Play struct {
	URL  string
	Loop int
}

// Pause waits silently.
type Pause struct{ Seconds int }

// Hangup ends the call.
type Hangup struct{}

// Redirect hands the call to another TwiML URL.
type Redirect struct{ URL string }

// Gather collects keypresses; Prompt is spoken while waiting.
type Gather struct {
	Action    string
	NumDigits int
	Timeout   int
	// ActionOnEmptyResult posts to Action even when nothing was pressed, so
	// the handler, not Twilio's fall-through, decides what happens next.
	ActionOnEmptyResult bool
	Prompt              []Verb
}

// Record records the caller.
type Record struct {
	Action                  string
	MaxLength               int
	Timeout                 int
	FinishOnKey             string
	PlayBeep                bool
	RecordingStatusCallback string
	// RecordingStatusCallbackEvent is space separated, e.g. "completed absent".
	RecordingStatusCallbackEvent string
}

func itoa(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

func (v Say) element() gotwiml.Element {
	return gotwiml.VoiceSay{Message: v.Text, Voice: v.Voice, Language: v.Language, Loop: itoa(v.Loop)}
}

func (v Play) element() gotwiml.Element { return gotwiml.VoicePlay{Url: v.URL, Loop: itoa(v.Loop)} }

func (v Pause) element() gotwiml.Element { return gotwiml.VoicePause{Length: itoa(v.Seconds)} }

func (Hangup) element() gotwiml.Element { return gotwiml.VoiceHangup{} }

func (v Redirect) element() gotwiml.Element {
	return gotwiml.VoiceRedirect{Url: v.URL, Method: "POST"}
}

func (v Gather) element() gotwiml.Element {
	g := gotwiml.VoiceGather{
		Input:     "dtmf",
		Action:    v.Action,
		Method:    "POST",
		NumDigits: itoa(v.NumDigits),
		Timeout:   itoa(v.Timeout),
	}
	if v.ActionOnEmptyResult {
		g.ActionOnEmptyResult = "true"
	}
	for _, p := range v.Prompt {
		g.InnerElements = append(g.InnerElements, p.element())
	}
	return g
}

func (v Record) element() gotwiml.Element {
	r := gotwiml.VoiceRecord{
		Action:                       v.Action,
		Method:                       "POST",
		MaxLength:                    itoa(v.MaxLength),
		Timeout:                      itoa(v.Timeout),
		FinishOnKey:                  v.FinishOnKey,
		RecordingStatusCallback:      v.RecordingStatusCallback,
		RecordingStatusCallbackEvent: v.RecordingStatusCallbackEvent,
		PlayBeep:                     strconv.FormatBool(v.PlayBeep),
	}
	if v.RecordingStatusCallback != "" {
		r.RecordingStatusCallbackMethod = "POST"
	}
	return r
}

// Voice renders a voice response.
func Voice(verbs ...Verb) string {
	return render(gotwiml.Voice, verbs)
}

// Messaging renders a messaging response; with no bodies it is the empty
// response that tells Twilio to send nothing (see AppendMessaging).
func Messaging(bodies ...string) string {
	return string(AppendMessaging(nil, bodies...))
}

func render(fn func([]gotwiml.Element) (string, error), verbs []Verb) string {
	els := make([]gotwiml.Element, 0, len(verbs))
	for _, v := range verbs {
		els = append(els, v.element())
	}
	s, err := fn(els)
	if err != nil {
		// etree only fails writing to a broken io.Writer; a strings.Builder never is.
		panic("twiml: render: " + err.Error())
	}
	return s
}

// MaxInline is the longest inline TwiML document Twilio takes on a call
// (characters as sent, escaping included; longer is error 32018).
const MaxInline = 4000

// FitVoice builds the longest document build makes from a prefix of text
// (whole runes, an ellipsis marking a cut) that is at most MaxInline
// characters long once escaped. Quote marks and ampersands grow fivefold
// when escaped, so the cut is made on the document, not on the text.
func FitVoice(text string, build func(text string) string) string {
	doc := build(text)
	if utf8.RuneCountInString(doc) <= MaxInline {
		return doc
	}
	r := []rune(text)
	lo, hi := 0, len(r) // the longest fitting prefix is in [lo, hi)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if utf8.RuneCountInString(build(string(r[:mid])+"...")) <= MaxInline {
			lo = mid
		} else {
			hi = mid
		}
	}
	return build(string(r[:lo]) + "...")
}
