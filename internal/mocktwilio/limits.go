package mocktwilio

// MaxInlineTwiml is the longest Twiml parameter Twilio accepts on a call
// (characters of the document as sent, escaping included); a longer one is
// refused with error 32018.
const MaxInlineTwiml = 4000
