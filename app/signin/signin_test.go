package signin_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oncall/pager/app/signin"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/testclock"
	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/storetest"
)

const cfgJSON = `{
  "available_users": {"users": {
    "alice": {"id": "alice", "name": "Alice", "phone": "+15555550101", "admin": true},
    "bob":   {"id": "bob",   "name": "Bob",   "phone": "+15555550102", "enabled": false}
  }},
  "current_config": {"from_phone": "+15555550100", "pager_phone": "+15555550199",
    "oncall_user": {"id": "alice", "name": "Alice", "phone": "+15555550101"},
    "mail_settings": {"from_email": "a@example.com", "to_email": "b@example.com", "mail_server": "localhost", "mail_port": 25}}
}`

type fixedConfig struct{ c *team.Config }

func (f fixedConfig) Current() *team.Config { return f.c }

type sender struct {
	mu    sync.Mutex
	codes map[string]string
}

func (s *sender) SendCode(_ context.Context, u team.User, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[u.ID] = code
	return nil
}

func (s *sender) code(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.codes[id]
}

func setup(t *testing.T) (*signin.Service, *signin.Service, *sender, *testclock.Clock) {
	t.Helper()
	cfg, err := team.Parse([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	st := storetest.NewMem()
	snd := &sender{codes: map[string]string{}}
	clk := testclock.New()
	mk := func() *signin.Service {
		return signin.New(signin.Options{Store: st, Config: fixedConfig{cfg}, Sender: snd, Now: clk.Now})
	}
	return mk(), mk(), snd, clk
}

func wrong(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}

func TestCodeSignsInOnceAndSessionEndsEverywhere(t *testing.T) {
	ctx := context.Background()
	a, b, snd, _ := setup(t)
	if err := a.Request(ctx, "+1 555 555 0101", "10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	code := snd.code("alice")
	if len(code) != 6 {
		t.Fatalf("code %q", code)
	}
	if _, _, err := a.Verify(ctx, "+15555550101", wrong(code), "10.0.0.1"); !errors.Is(err, signin.ErrBadCode) {
		t.Fatalf("wrong code: %v", err)
	}
	sess, cookie, err := a.Verify(ctx, "+15555550101", code, "10.0.0.1")
	if err != nil || sess.UserID != "alice" || sess.CSRF == "" {
		t.Fatalf("verify: %v %+v", err, sess)
	}
	if _, _, err := b.Verify(ctx, "+15555550101", code, "10.0.0.2"); !errors.Is(err, signin.ErrBadCode) {
		t.Fatalf("code used twice: %v", err)
	}
	// The other replica honours the cookie and its sign-out.
	got, err := b.Check(ctx, cookie)
	if err != nil || got.ID != sess.ID {
		t.Fatalf("replica check: %v", err)
	}
	if _, err := b.Check(ctx, cookie+"x"); !errors.Is(err, signin.ErrNoSession) {
		t.Fatalf("tampered cookie: %v", err)
	}
	if err := b.SignOut(ctx, got); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Check(ctx, cookie); !errors.Is(err, signin.ErrNoSession) {
		t.Fatalf("after sign-out on the other replica: %v", err)
	}
	if !sess.ValidCSRF(sess.CSRF) || sess.ValidCSRF("") || sess.ValidCSRF(sess.CSRF+"x") {
		t.Fatal("CSRF check")
	}
}

func TestCodeExpiresAndWrongGuessesVoidIt(t *testing.T) {
	ctx := context.Background()
	a, _, snd, clk := setup(t)
	if err := a.Request(ctx, "+15555550101", "c1"); err != nil {
		t.Fatal(err)
	}
	clk.Advance(signin.CodeTTL + time.Second)
	if _, _, err := a.Verify(ctx, "+15555550101", snd.code("alice"), "c1"); !errors.Is(err, signin.ErrBadCode) {
		t.Fatalf("expired code: %v", err)
	}
	if err := a.Request(ctx, "+15555550101", "c1"); err != nil {
		t.Fatal(err)
	}
	code := snd.code("alice")
	for range signin.MaxWrongCodes {
		if _, _, err := a.Verify(ctx, "+15555550101", wrong(code), "c1"); !errors.Is(err, signin.ErrBadCode) {
			t.Fatal(err)
		}
	}
	if _, _, err := a.Verify(ctx, "+15555550101", code, "c1"); !errors.Is(err, signin.ErrBadCode) {
		t.Fatalf("code still works after %d wrong guesses: %v", signin.MaxWrongCodes, err)
	}
}

func TestLimitsPerNumberAndPerClient(t *testing.T) {
	ctx := context.Background()
	a, _, snd, clk := setup(t)
	for i := range signin.CodesPerNumber {
		if err := a.Request(ctx, "+15555550101", "c"+string(rune('a'+i))); err != nil {
			t.Fatal(err)
		}
	}
	// Over the per-number limit: nothing is sent, and the answer is the
	// one a stranger's number gets, so the form tells nobody who is a
	// member.
	delete(snd.codes, "alice")
	if err := a.Request(ctx, "+15555550101", "other"); err != nil || snd.code("alice") != "" {
		t.Fatalf("per-number limit: %v, code %q sent", err, snd.code("alice"))
	}
	clk.Advance(signin.LimitWindow)
	if err := a.Request(ctx, "+15555550101", "other"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	// Unknown and disabled numbers: same answer, nothing sent.
	delete(snd.codes, "bob")
	if err := a.Request(ctx, "+15555550102", "c9"); err != nil || snd.code("bob") != "" {
		t.Fatalf("disabled member: %v code %q", err, snd.code("bob"))
	}
	if err := a.Request(ctx, "+15555550177", "c9"); err != nil {
		t.Fatalf("stranger: %v", err)
	}
	n := 0
	for a.Request(ctx, "+15555550177", "flood") == nil {
		n++
		if n > 100 {
			t.Fatal("no per-client limit")
		}
	}
	if n != signin.RequestsPerClient {
		t.Fatalf("client allowed %d requests, want %d", n, signin.RequestsPerClient)
	}
}

func TestRotatedKeyKeepsSessionsAndReplicasAgree(t *testing.T) {
	ctx := context.Background()
	a, b, snd, clk := setup(t)
	if err := a.Request(ctx, "+15555550101", "c"); err != nil {
		t.Fatal(err)
	}
	_, cookie, err := a.Verify(ctx, "+15555550101", snd.code("alice"), "c")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Check(ctx, cookie); err != nil {
		t.Fatalf("session lost by one rotation: %v", err)
	}
	clk.Advance(signin.LimitWindow)
	if err := a.Request(ctx, "+15555550101", "c"); err != nil {
		t.Fatal(err)
	}
	_, fresh, err := a.Verify(ctx, "+15555550101", snd.code("alice"), "c")
	if err != nil {
		t.Fatal(err)
	}
	// Signed on a with the rotated key, checked on b.
	if _, err := b.Check(ctx, fresh); err != nil {
		t.Fatalf("replica rejects a cookie signed with the new key: %v", err)
	}
	if err := b.RotateKey(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Minute)
	if _, err := a.Check(ctx, cookie); !errors.Is(err, signin.ErrNoSession) {
		t.Fatalf("cookie signed two keys ago still accepted: %v", err)
	}
	clk.Advance(signin.SessionTTL)
	if _, err := a.Check(ctx, fresh); !errors.Is(err, signin.ErrNoSession) {
		t.Fatalf("expired session accepted: %v", err)
	}
}

// stallingStore holds every read of a code record until n reads are
// waiting, so n guesses all see the same record.
type stallingStore struct {
	store.Store
	n       int
	mu      sync.Mutex
	waiting int
	release chan struct{}
}

func (s *stallingStore) Get(ctx context.Context, key string) (store.Object, error) {
	obj, err := s.Store.Get(ctx, key)
	if !strings.HasPrefix(key, "console/codes/") {
		return obj, err
	}
	s.mu.Lock()
	s.waiting++
	release := s.release
	if s.waiting == s.n {
		close(release)
	}
	s.mu.Unlock()
	select {
	case <-release:
	case <-time.After(2 * time.Second): // the late re-reads of losers
	}
	return obj, err
}

// Wrong guesses sent at once are each counted: after them the right code
// no longer works, however many arrived together.
func TestParallelWrongGuessesAllCount(t *testing.T) {
	ctx := context.Background()
	cfg, err := team.Parse([]byte(cfgJSON))
	if err != nil {
		t.Fatal(err)
	}
	const guesses = 20
	opened := make(chan struct{})
	close(opened)
	st := &stallingStore{Store: storetest.NewMem(), n: guesses, release: opened}
	snd := &sender{codes: map[string]string{}}
	clk := testclock.New()
	svc := signin.New(signin.Options{Store: st, Config: fixedConfig{cfg}, Sender: snd, Now: clk.Now})
	if err := svc.Request(ctx, "+15555550101", "c0"); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.release, st.waiting = make(chan struct{}), 0 // from here, reads wait
	st.mu.Unlock()
	code := snd.code("alice")
	var wg sync.WaitGroup
	for i := range guesses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, _, err := svc.Verify(ctx, "+15555550101", wrong(code), fmt.Sprint("g", i)); err == nil {
				t.Error("a wrong code signed in")
			}
		}()
	}
	wg.Wait()
	if _, _, err := svc.Verify(ctx, "+15555550101", code, "c1"); !errors.Is(err, signin.ErrBadCode) {
		t.Fatalf("the code still works after %d wrong guesses at once: %v", guesses, err)
	}
}

// One IPv6 host holds a whole /64: its addresses share one count, so it
// cannot spread attempts over them (nor fill the table of clients).
func TestIPv6ClientsCountedBySlash64(t *testing.T) {
	ctx := context.Background()
	a, _, _, _ := setup(t)
	for i := range signin.RequestsPerClient {
		if err := a.Request(ctx, "+15555550177", fmt.Sprintf("2001:db8:1:2::%x", i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Request(ctx, "+15555550177", "2001:db8:1:2:ffff::1"); !errors.Is(err, signin.ErrLimited) {
		t.Fatalf("another address of the same /64: %v", err)
	}
	if err := a.Request(ctx, "+15555550177", "2001:db8:1:3::1"); err != nil {
		t.Fatalf("another /64: %v", err)
	}
}
