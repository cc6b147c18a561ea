package control_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/control"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/outbound"
	"github.com/oncall/pager/app/server"
	"github.com/oncall/pager/app/team"
	"github.com/oncall/pager/internal/teamtest"
	"github.com/oncall/pager/store/local"
)

// fixedConfig is a team manager that never changes.
type fixedConfig struct{ cfg *team.Config }

func (f fixedConfig) Current() *team.Config { return f.cfg }
func (f fixedConfig) Update(context.Context, string, func(*team.Config, *jsondoc.Doc) error) (*team.Config, error) {
	return f.cfg, nil
}

// The help text is sent on every unknown text: it stays within two GSM-7
// segments for a name of up to 29 characters.
func TestHelpFitsTwoSegments(t *testing.T) {
	name := strings.Repeat("N", 29)
	cfg, err := team.Parse(teamtest.Default(teamtest.WithUsers(teamtest.User("long", name, "+15555550177"))).JSON())
	if err != nil {
		t.Fatal(err)
	}
	h := control.New(control.Options{Config: fixedConfig{cfg}})
	for _, body := range []string{"HALP", "what?"} {
		r := h.Handle(context.Background(), "+15555550177", body, "SM1")
		if len(r) != 1 || !strings.Contains(r[0], "Text WHO") {
			t.Fatalf("%q: reply %q", body, r)
		}
		if n, enc := outbound.SegmentsOf(r[0]); n > 2 || enc != outbound.GSM7 {
			t.Errorf("%q: %d segments (%v) for %d characters: %s", body, n, enc, len(r[0]), r[0])
		}
	}
}

// A text from a stranger or a disabled member gets no reply and no audit
// object of its own: it goes to OnRefuse (which bounds what it leaves),
// named by the sender, and on the access line as before.
func TestRefusedSenderGoesToOnRefuse(t *testing.T) {
	cfg, err := team.Parse(teamtest.Default(teamtest.Set("available_users.users.bob.enabled", false)).JSON())
	if err != nil {
		t.Fatal(err)
	}
	st, err := local.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	type refusal struct{ source, reason string }
	var refused []refusal
	h := control.New(control.Options{Config: fixedConfig{cfg}, Audit: audit.New(st, nil, nil),
		OnRefuse: func(c echo.Context, source, reason string) {
			if c.Request().URL.Path != "/msgcontrol/entry" {
				t.Errorf("OnRefuse given the context of %s", c.Request().URL.Path)
			}
			refused = append(refused, refusal{source, reason})
		}})
	var logs bytes.Buffer
	e := echo.New()
	e.Use(server.WrapRequestLog(slog.New(slog.NewTextHandler(&logs, nil))))
	e.POST("/msgcontrol/entry", h.ServeEntry)
	text := func(from, body string) string {
		form := url.Values{"From": {from}, "Body": {body}, "MessageSid": {"SM1"}}
		req := httptest.NewRequest(http.MethodPost, "/msgcontrol/entry", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "<Message>") {
			t.Fatalf("text from %s: HTTP %d %s, want an empty answer", from, rec.Code, rec.Body)
		}
		return logs.String()
	}
	const stranger = "+15555550999"
	if line := text(stranger, "TAKE"); !strings.Contains(line, "outcome=unknown_sender ref="+stranger) {
		t.Errorf("access line %q", line)
	}
	logs.Reset()
	if line := text(teamtest.Bob, "WHO"); !strings.Contains(line, "outcome=disabled_sender ref="+teamtest.Bob) {
		t.Errorf("access line %q", line)
	}
	if len(refused) != 2 || refused[0].source != stranger || !strings.Contains(refused[0].reason, "not in available_users") ||
		refused[1].source != teamtest.Bob || !strings.Contains(refused[1].reason, "disabled member") {
		t.Errorf("refusals %+v, want the stranger's then bob's, with why", refused)
	}
	if objs, err := st.List(context.Background(), audit.Prefix); err != nil || len(objs) != 0 {
		t.Errorf("%d audit objects written for two refused texts (%v), want none: OnRefuse bounds them", len(objs), err)
	}
}

// WHO during a maintenance window names its end in the team's time zone
// from the location the config loaded once: loading it again on every WHO
// read and parsed the zone database each time.
func TestWhoDuringMaintenanceUsesTheLoadedZone(t *testing.T) {
	now := time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)
	cfg, err := team.Parse(teamtest.Default(
		teamtest.Set("current_config.timezone", "America/New_York"),
		teamtest.Set("maintenance_windows.db-upgrade", map[string]any{
			"start": now.Add(-time.Hour).Format(time.RFC3339), "end": now.Add(time.Hour).Format(time.RFC3339),
			"scope": map[string]any{"dedup_prefixes": []any{"db-"}},
		}),
	).JSON())
	if err != nil {
		t.Fatal(err)
	}
	h := control.New(control.Options{Config: fixedConfig{cfg}, Now: func() time.Time { return now }})
	who := func() string {
		r := h.Handle(context.Background(), teamtest.Alice, "WHO", "SM1")
		if len(r) != 1 {
			t.Fatalf("WHO: %q", r)
		}
		return r[0]
	}
	if r := who(); !strings.Contains(r, "db-upgrade until 2026-12-01 11:00 EST") {
		t.Fatalf("WHO %q does not name the window's end in New York time", r)
	}
	if raceEnabled {
		return // the race detector allocates on its own account
	}
	if n := testing.AllocsPerRun(50, func() { who() }); n > 16 {
		t.Errorf("%v allocations per WHO during a window, want at most 16 (25 when the zone was loaded per WHO)", n)
	}
}
