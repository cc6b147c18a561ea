package alerts_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/store"
)

// heldCodeStore holds the first conditional rewrite of an open alert (the
// write that gives a new alert its reply code, just after its escalation
// was queued) until release is closed.
type heldCodeStore struct {
	store.Store
	once    sync.Once
	held    chan struct{} // closed when the write is being held
	release chan struct{}
	written chan struct{} // closed once the held write is done
}

func (s *heldCodeStore) Put(ctx context.Context, key string, data []byte, c store.Cond) (string, error) {
	hold := false
	if strings.HasPrefix(key, "alerts/open/") && c.IfMatch != "" {
		s.once.Do(func() { hold = true })
	}
	if !hold {
		return s.Store.Put(ctx, key, data, c)
	}
	close(s.held)
	<-s.release
	defer close(s.written)
	return s.Store.Put(ctx, key, data, c)
}

// pollingStore lets the held code write through at the third read of an
// open alert, and waits until it is stored: a page step that keeps reading
// the alert until it has its code then finds it.
type pollingStore struct {
	store.Store
	held  *heldCodeStore
	mu    sync.Mutex
	reads int
}

func (s *pollingStore) Get(ctx context.Context, key string) (store.Object, error) {
	if strings.HasPrefix(key, "alerts/open/") {
		s.mu.Lock()
		s.reads++
		n := s.reads
		s.mu.Unlock()
		if n == 3 {
			close(s.held.release)
			<-s.held.written
		}
	}
	return s.Store.Get(ctx, key)
}

// A new alert's escalation is queued a moment before its reply code is
// written; another replica's page step running in between waits for the
// code instead of paging without one (a page nobody can answer by code).
func TestPageWaitsForTheAlertsCode(t *testing.T) {
	clk := newClock()
	st := newLocal(t, t.TempDir())
	rec := &recorder{clk: clk}
	held := &heldCodeStore{Store: st, held: make(chan struct{}), release: make(chan struct{}), written: make(chan struct{})}
	a := newEnv(t, held, "a", clk, rec, testSettings(0))
	b := newEnv(t, &pollingStore{Store: st, held: held}, "b", clk, rec, testSettings(0))

	triggered := make(chan error, 1)
	go func() {
		_, _, err := a.svc.Trigger(context.Background(), alerts.Event{Action: alerts.EventTrigger, DedupKey: "db1", Summary: "db1 down", Source: "test"})
		triggered <- err
	}()
	<-held.held
	b.run(t)
	select {
	case <-held.release:
	default:
		close(held.release) // the page went out without waiting
	}
	if err := <-triggered; err != nil {
		t.Fatal(err)
	}
	pages := rec.pages()
	if len(pages) != 1 || pages[0].Code == "" {
		t.Fatalf("pages %+v; want one, with the alert's reply code", pages)
	}
}
