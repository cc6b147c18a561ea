package api

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/store/storetest"
)

// GET /notification/:id with a key that may not read the report is
// answered from the notification's record: the recipients' jobs are not
// read for it, so a stranger's key cannot make the pager read a large
// notification's jobs again and again. The creator and a can_read key
// still get the report.
func TestReportRefusalReadsOnlyTheRecord(t *testing.T) {
	cfg, err := team.Parse(teamtest.Default(
		teamtest.WithAPIKey("owner", team.HashAPIKey("OWNER"), false),
		teamtest.WithAPIKey("other", team.HashAPIKey("OTHER"), false),
		teamtest.WithAPIKey("reader", team.HashAPIKey("READER"), true),
	).JSON())
	if err != nil {
		t.Fatal(err)
	}
	fs := storetest.Faulty(storetest.NewMem())
	q := jobs.New(fs, jobs.Options{})
	out := outbound.New(outbound.Options{Config: fixedConfig{cfg}, Rates: outbound.Rates{SMSPerSecond: 1000, CallsPerSecond: 1000}})
	ntf := notification.New(out, notification.Options{Store: fs, Config: fixedConfig{cfg}})
	h := New(Options{Config: fixedConfig{cfg}, Jobs: q, Notifications: ntf, Now: time.Now})
	e := echo.New()
	e.GET("/notification/:id", h.ServeNotification)

	const recipients = 50
	n := notification.Notification{ID: notification.NewID(), Source: "group:everyone", Message: "db1 down", APIKey: "owner"}
	for i := range recipients {
		n.Recipients = append(n.Recipients, notification.Recipient{UserID: fmt.Sprintf("u%03d", i),
			Routes: []notification.Route{{Medium: team.MediumSMS, Address: fmt.Sprintf("+1555%07d", 1000000+i)}}})
	}
	if err := ntf.Notify(context.Background(), q, n); err != nil {
		t.Fatal(err)
	}
	get := func(key string) int {
		t.Helper()
		fs.ResetRequests()
		r := httptest.NewRequest(http.MethodGet, "/notification/"+n.ID, nil)
		r.Header.Set("Authorization", "Bearer "+key)
		w := httptest.NewRecorder()
		e.ServeHTTP(w, r)
		return w.Code
	}
	if code := get("OTHER"); code != http.StatusNotFound {
		t.Fatalf("another key: HTTP %d, want 404", code)
	}
	if got := fs.Requests(); fs.Total() > 2 || got["List"] != 0 {
		t.Fatalf("refused report made store calls %v, want at most the record's", got)
	}
	for _, key := range []string{"OWNER", "READER"} {
		if code := get(key); code != http.StatusOK {
			t.Fatalf("%s: HTTP %d, want 200", key, code)
		}
		if got := fs.Requests(); got["List"] == 0 {
			t.Fatalf("%s: report read %v, want the recipients' jobs listed", key, got)
		}
	}
}
