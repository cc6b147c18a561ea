package pagerline

import (
	"strconv"
	"strings"
	"testing"
)

// holdCalls makes n missed calls from caller, one past the caller's limit
// for each beyond DefaultCallerLimit, and returns the window's digest job.
func (r *rig) holdCalls(t testing.TB, caller string, n int) string {
	t.Helper()
	start := r.clock.Now().UTC().Truncate(DefaultCallerWindow)
	for i := range n {
		r.drain(t, r.missedCall(t, "CA"+strconv.Itoa(i), caller))
	}
	return "callers-" + safeID(caller) + "-" + strconv.FormatInt(start.Unix(), 10)
}

// The digest of a caller's held calls whose answer was lost (Twilio took
// it, the answer timed out) is found on Twilio when the step runs again,
// not sent twice.
func TestCallerDigestLostAnswerNotSentTwice(t *testing.T) {
	r := newRig(t, rigOptions{})
	const caller = "+12125550123"
	digest := r.holdCalls(t, caller, DefaultCallerLimit+2)
	if n := len(r.tw.sentMessages()); n != DefaultCallerLimit {
		t.Fatalf("%d missed-call texts; want %d, the rest held", n, DefaultCallerLimit)
	}
	r.tw.loseNext()
	j := r.drain(t, digest)
	msgs := r.tw.sentMessages()[DefaultCallerLimit:]
	if len(msgs) != 1 || !strings.Contains(msgs[0].Message.Body, "2 more calls from "+caller) {
		t.Fatalf("digest texts %+v; want one:%s", msgs, steps(j))
	}
	if d := delivery(t, j, StepText); d.SID != msgs[0].SID {
		t.Fatalf("digest step recorded %+v; want the text Twilio took, %s", d, msgs[0].SID)
	}
}
