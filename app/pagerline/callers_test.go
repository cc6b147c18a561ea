package pagerline

import (
	"strconv"
	"strings"
	"testing"
	"time"
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

// A call past the caller's limit that asks only after its window's digest
// was sent (its job queued or run late) pages the on-call itself: held, it
// would be in no text at all.
func TestHeldCallAfterDigestSentIsPaged(t *testing.T) {
	r := newRig(t, rigOptions{})
	const caller = "+12125550123"
	start := r.clock.Now()
	digest := r.holdCalls(t, caller, DefaultCallerLimit+1)
	lateCall := start.Add(DefaultCallerWindow - time.Second)
	j := r.drain(t, digest)
	if !r.clock.Now().After(lateCall) {
		t.Fatalf("digest sent at %v, before the window's last call at %v", r.clock.Now(), lateCall)
	}
	msgs := r.tw.sentMessages()
	if len(msgs) != DefaultCallerLimit+1 || !strings.Contains(msgs[DefaultCallerLimit].Message.Body, "1 more calls from "+caller) {
		t.Fatalf("texts %+v; want the missed calls and the digest:%s", msgs, steps(j))
	}

	j = r.drain(t, r.missedCallAt(t, "CA-late", caller, lateCall))
	msgs = r.tw.sentMessages()
	if len(msgs) != DefaultCallerLimit+2 || !strings.Contains(msgs[len(msgs)-1].Message.Body, "Missed call on the pager line from "+caller) {
		t.Fatalf("late call: texts %+v; want it paged:%s", msgs[DefaultCallerLimit+1:], steps(j))
	}
	if d := delivery(t, j, StepText); d.SID != msgs[len(msgs)-1].SID {
		t.Fatalf("late call recorded %+v", d)
	}
}

// The digest is sent a little after its window ends, so a call held at the
// window's last moment (by a replica whose clock is behind) is in it.
func TestDigestWaitsOutTheGrace(t *testing.T) {
	r := newRig(t, rigOptions{})
	const caller = "+12125550123"
	end := r.clock.Now().Add(DefaultCallerWindow)
	digest := r.holdCalls(t, caller, DefaultCallerLimit+1)
	r.clock.Set(end)
	if err := r.q.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := len(r.tw.sentMessages()); n != DefaultCallerLimit {
		t.Fatalf("%d texts at the window's end; want the digest to wait %v", n, DigestGrace)
	}
	// Held at the last moment, as a replica a little behind would.
	r.clock.Set(end.Add(-time.Millisecond))
	r.drain(t, r.missedCall(t, "CA-last", caller))
	r.clock.Set(end)
	r.drain(t, digest)
	msgs := r.tw.sentMessages()
	if len(msgs) != DefaultCallerLimit+1 || !strings.Contains(msgs[DefaultCallerLimit].Message.Body, "2 more calls from "+caller) {
		t.Fatalf("texts %+v; want the digest of both held calls", msgs[DefaultCallerLimit:])
	}
}
