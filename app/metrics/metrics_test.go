package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/oncall/pager/store"
	"github.com/oncall/pager/store/local"
	"github.com/oncall/pager/store/storetest"
)

// A store outage counts as an error of its operation; the contract's
// answers (not found, a lost conditional write) do not.
func TestStoreErrorsAreOutagesOnly(t *testing.T) {
	m := New()
	base, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	faulty := storetest.Faulty(base)
	st := m.Store(faulty)
	ctx := context.Background()
	if _, err := st.Get(ctx, "absent"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "k", []byte("1"), store.Cond{}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "k", []byte("2"), store.Cond{IfNoneMatch: true}); !errors.Is(err, store.ErrPrecondition) {
		t.Fatal(err)
	}
	faulty.Down()
	if _, err := st.List(ctx, ""); err == nil {
		t.Fatal("list with the store down succeeded")
	}
	for op, want := range map[string][2]float64{"get": {1, 0}, "put": {1, 0}, "put_conditional": {1, 0}, "list": {1, 1}} {
		calls, errs := testutil.ToFloat64(m.storeCalls.WithLabelValues(op)), testutil.ToFloat64(m.storeErrors.WithLabelValues(op))
		if calls != want[0] || errs != want[1] {
			t.Errorf("%s: %v calls, %v errors; want %v", op, calls, errs, want)
		}
	}
}

// Twilio's API calls are counted by resource from a fixed list, whatever
// the SIDs in the path; error statuses count as errors.
func TestTwilioTransportBoundsResources(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	m := New()
	c := &http.Client{Transport: m.Twilio(nil)}
	for _, req := range []struct{ method, path string }{
		{http.MethodPost, "/2010-04-01/Accounts/AC1/Messages.json"},
		{http.MethodPost, "/2010-04-01/Accounts/AC2/Messages.json"},
		{http.MethodPost, "/2010-04-01/Accounts/AC1/Calls.json"},
		{http.MethodDelete, "/2010-04-01/Accounts/AC1/Recordings/RE123.json"},
		{http.MethodGet, "/2010-04-01/Accounts/AC1/SomethingNew/XY.json"},
	} {
		r, _ := http.NewRequest(req.method, srv.URL+req.path, nil)
		res, err := c.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if got := testutil.ToFloat64(m.twilioCalls.WithLabelValues("Messages", "POST", "201")); got != 2 {
		t.Errorf("Messages: %v", got)
	}
	if got := testutil.ToFloat64(m.twilioErrors.WithLabelValues("Recordings")); got != 1 {
		t.Errorf("Recordings errors: %v", got)
	}
	if got := testutil.ToFloat64(m.twilioCalls.WithLabelValues("other", "GET", "201")); got != 1 {
		t.Errorf("unknown resource not folded into other: %v", got)
	}
	if n := testutil.CollectAndCount(m.twilioCalls); n != 4 {
		t.Errorf("%d series of twilio_api_requests_total; want 4", n)
	}
}

// Labels a caller controls cannot mint series.
func TestLabelsAreBounded(t *testing.T) {
	for in, want := range map[string]string{"sms": "sms", "pushover": "pushover", "SMS": "other", "a b": "other",
		"averyveryverylongchannelname": "other", "": "other"} {
		if got := channelLabel(in); got != want {
			t.Errorf("channelLabel(%q) = %q", in, got)
		}
	}
	if got := methodLabel("BREW"); got != "other" {
		t.Errorf("methodLabel(BREW) = %q", got)
	}
	if got := routeLabel(""); got != "unmatched" {
		t.Errorf("routeLabel(\"\") = %q", got)
	}
}
