package outbound_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
)

const senderPrefix = "outbound/senders/"

// guard is how long a test waits for something that must happen without
// waiting for time to pass; only a hang reaches it.
const guard = 30 * time.Second

func newLocal(t *testing.T) store.Store {
	t.Helper()
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// logLines keeps what was logged, for counting.
type logLines struct {
	mu    sync.Mutex
	lines []string // "LEVEL message key"
}

func (l *logLines) Enabled(context.Context, slog.Level) bool { return true }
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logLines) WithGroup(string) slog.Handler            { return l }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	key := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "key" {
			key = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, r.Level.String()+" "+r.Message+" "+key)
	l.mu.Unlock()
	return nil
}

// count is how many lines were logged at level for key.
func (l *logLines) count(level slog.Level, key string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, level.String()+" ") && strings.HasSuffix(s, " "+key) {
			n++
		}
	}
	return n
}

// renewingHolder is a store in which replica A holds every sender lease
// and has just renewed it, for another left, whenever it is read: A is
// sending a long burst. After stopAfter reads A stops and the lease is gone.
type renewingHolder struct {
	store.Store
	now       func() time.Time
	left      time.Duration
	stopAfter int

	mu    sync.Mutex
	reads int
}

func (h *renewingHolder) Get(ctx context.Context, key string) (store.Object, error) {
	if !strings.HasPrefix(key, senderPrefix) {
		return h.Store.Get(ctx, key)
	}
	h.mu.Lock()
	h.reads++
	n := h.reads
	h.mu.Unlock()
	if n > h.stopAfter {
		return h.Store.Get(ctx, key)
	}
	data, _ := json.Marshal(map[string]any{"owner": "replica-A", "until": h.now().Add(h.left).UTC()})
	return store.Object{Key: key, Data: data, ETag: fmt.Sprintf(`"a%d"`, n)}, nil
}

// A text job step on a replica whose number another replica keeps sending
// from gives its worker back (rescheduled for when that replica's lease
// ends) instead of waiting, round after round of renewals, for the burst to
// end: each wait for the lease is shorter than the longest a step may hold
// its worker, but together they are not.
func TestTextStepYieldsWhileAnotherReplicaKeepsSending(t *testing.T) {
	clk := testclock.New()
	st := newLocal(t)
	holder := &renewingHolder{Store: st, now: clk.Now, left: 600 * time.Millisecond, stopAfter: 20}
	tw := &sendLog{}
	o := outbound.New(outbound.Options{Twilio: tw, Rates: outbound.Rates{SMSPerSecond: 1, CallsPerSecond: 1},
		Store: holder, Owner: "replica-B", Now: clk.Now, Sleep: clk.Sleep})
	q := jobs.New(st, jobs.Options{Now: clk.Now})
	ctx := context.Background()
	if _, err := q.Enqueue(ctx, jobs.Job{ID: "text-1", Kind: outbound.KindText, Payload: []byte(`{}`), Steps: []jobs.Step{{Name: "send"}}}); err != nil {
		t.Fatal(err)
	}
	job, err := q.Get(ctx, "text-1")
	if err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	_, err = o.SendTextStep(ctx, q, &job, job.Step("send"), outbound.Text{From: "+15555550100", To: "+15551000001", Body: "db1 down"})
	held := clk.Now().Sub(start)
	if !errors.Is(err, outbound.ErrDeferred) {
		t.Fatalf("SendTextStep: %v after holding its worker %v; want ErrDeferred", err, held)
	}
	if held > time.Second {
		t.Fatalf("the step held its worker %v waiting for the other replica; at most the 1 s planning window", held)
	}
	if n := len(tw.at); n != 0 {
		t.Fatalf("%d texts sent while another replica held the number", n)
	}
	got, err := q.Get(ctx, "text-1")
	if err != nil {
		t.Fatal(err)
	}
	if at, want := got.Step("send").NextAt, clk.Now().Add(holder.left); !at.Equal(want) {
		t.Fatalf("step rescheduled for %v; want %v, when the other replica's lease ends", at, want)
	}
}

// stalledStore is a store whose sender-lease reads for the keys in stall
// never answer until released (or cut off by their context), and fail
// while failing is set.
type stalledStore struct {
	store.Store
	stall   map[string]bool // turn keys, e.g. "outbound/senders/sms-_15555550100.json"
	release chan struct{}
	entered chan string

	mu      sync.Mutex
	failing bool
	reads   map[string]int
}

func newStalled(t *testing.T, stall ...string) *stalledStore {
	s := &stalledStore{Store: newLocal(t), stall: map[string]bool{}, release: make(chan struct{}), entered: make(chan string, 100), reads: map[string]int{}}
	for _, k := range stall {
		s.stall[k] = true
	}
	return s
}

func (s *stalledStore) Get(ctx context.Context, key string) (store.Object, error) {
	if !strings.HasPrefix(key, senderPrefix) {
		return s.Store.Get(ctx, key)
	}
	s.mu.Lock()
	s.reads[key]++
	failing := s.failing
	s.mu.Unlock()
	if failing {
		return store.Object{}, errors.New("store: connection refused")
	}
	if s.stall[key] {
		s.entered <- key
		select {
		case <-s.release:
		case <-ctx.Done():
			return store.Object{}, ctx.Err()
		}
	}
	return s.Store.Get(ctx, key)
}

func (s *stalledStore) setFailing(f bool) {
	s.mu.Lock()
	s.failing = f
	s.mu.Unlock()
}

func (s *stalledStore) readsOf(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reads[key]
}

const (
	numberX, numberY = "+15555550100", "+15555550111"
	leaseX           = senderPrefix + "sms-_15555550100.json"
)

// sendAsync sends one text from from and reports the outcome on the
// channel returned.
func sendAsync(ctx context.Context, o *outbound.Outbound, from string) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := o.SendText(ctx, outbound.Text{From: from, To: "+15551000001", Body: "db1 down"})
		done <- err
	}()
	return done
}

func waitDone(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(guard):
		t.Fatalf("%s never returned", what)
	}
}

// A store slow to answer about one sender number holds back the texts of
// that number only: the others' leases are not queued behind its call.
func TestSlowLeaseOfOneNumberDoesNotHoldOthers(t *testing.T) {
	clk := testclock.New()
	st := newStalled(t, leaseX)
	tw := &sendLog{}
	o := outbound.New(outbound.Options{Twilio: tw, Rates: outbound.Rates{SMSPerSecond: 100, CallsPerSecond: 1},
		Store: st, Owner: "replica-B", Now: clk.Now, Sleep: clk.Sleep, SenderLease: time.Hour})
	ctx := context.Background()
	x := sendAsync(ctx, o, numberX)
	<-st.entered
	waitDone(t, sendAsync(ctx, o, numberY), "a text from another number while the store was slow about the first")
	select {
	case err := <-x:
		t.Fatalf("the text whose lease read was still stalled returned (%v)", err)
	default:
	}
	close(st.release)
	waitDone(t, x, "the text whose lease read was released")
}

// A store that does not answer does not hold a text back for ever: the
// exchange is cut off (the S3 client has no deadline of its own) and the
// text goes at this replica's rate. Texts queued behind that exchange take
// its outcome instead of each waiting out a deadline of their own.
func TestHungLeaseStoreDoesNotHoldTexts(t *testing.T) {
	clk := testclock.New()
	st := newStalled(t, leaseX)
	tw := &sendLog{}
	o := outbound.New(outbound.Options{Twilio: tw, Rates: outbound.Rates{SMSPerSecond: 100, CallsPerSecond: 1},
		Store: st, Owner: "replica-B", Now: clk.Now, Sleep: clk.Sleep, SenderLease: 2 * time.Second})
	ctx := context.Background()
	first := sendAsync(ctx, o, numberX)
	<-st.entered
	var queued []<-chan error
	for range 3 {
		queued = append(queued, sendAsync(ctx, o, numberX))
	}
	waitDone(t, first, "a text whose lease read never answered")
	for _, d := range queued {
		waitDone(t, d, "a text queued behind it")
	}
	if n := len(tw.at); n != 4 {
		t.Fatalf("%d texts sent; want all 4 (the store is unreachable, they go ahead)", n)
	}
	if n := st.readsOf(leaseX); n != 1 {
		t.Fatalf("the unanswering store was asked %d times for 4 texts queued together", n)
	}
}

// A store outage is logged once per sender number, not once per text, and
// its end once; the next outage is logged again.
func TestLeaseStoreOutageLoggedOncePerNumber(t *testing.T) {
	clk := testclock.New()
	st := newStalled(t)
	tw := &sendLog{}
	logs := &logLines{}
	const lease = 2 * time.Second
	o := outbound.New(outbound.Options{Twilio: tw, Rates: outbound.Rates{SMSPerSecond: 100, CallsPerSecond: 1},
		Store: st, Owner: "replica-B", Now: clk.Now, Sleep: clk.Sleep, SenderLease: lease, Logger: slog.New(logs)})
	ctx := context.Background()
	send := func(from string, n int) {
		t.Helper()
		for range n {
			if _, err := o.SendText(ctx, outbound.Text{From: from, To: "+15551000001", Body: "db1 down"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	keyX, keyY := "sms-"+numberX, "sms-"+numberY
	st.setFailing(true)
	send(numberX, 5)
	send(numberY, 3)
	if got := st.readsOf(leaseX); got != 5 {
		t.Fatalf("the failing store was asked %d times for 5 texts sent one after another; want each to try it", got)
	}
	if x, y := logs.count(slog.LevelWarn, keyX), logs.count(slog.LevelWarn, keyY); x != 1 || y != 1 {
		t.Fatalf("outage warnings: %d for %s, %d for %s; want one each\n%s", x, keyX, y, keyY, strings.Join(logs.lines, "\n"))
	}
	st.setFailing(false)
	send(numberX, 2)
	if n := logs.count(slog.LevelInfo, keyX); n != 1 {
		t.Fatalf("%d recovery lines for %s; want one\n%s", n, keyX, strings.Join(logs.lines, "\n"))
	}
	st.setFailing(true)
	clk.Advance(lease) // the lease needs renewing: the store is asked again
	send(numberX, 2)
	if n := logs.count(slog.LevelWarn, keyX); n != 2 {
		t.Fatalf("%d outage warnings for %s over two outages; want two\n%s", n, keyX, strings.Join(logs.lines, "\n"))
	}
	if n := len(tw.at); n != 12 {
		t.Fatalf("%d texts sent; want all 12", n)
	}
}
