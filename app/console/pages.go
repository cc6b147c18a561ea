package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/oncall/pager/app/alerts"
	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/app/notification"
	"github.com/oncall/pager/app/schedule"
	"github.com/oncall/pager/app/team"
)

type nowData struct {
	OnCall      team.User
	HasOnCall   bool
	IsMe        bool
	Since       time.Time
	SinceBy     string
	Pending     time.Time
	MyRoutes    []notification.Route
	PagerPhone  string
	HasSchedule bool
	// Until is when the current shift ends (schedule only; zero when
	// nothing changes within the horizon); Next are the shifts after it.
	Until time.Time
	Next  []shiftView
}

type shiftView struct {
	Name       string
	Start, End time.Time
	Override   bool
}

// shiftHorizon is how far ahead the Now page looks for shifts.
const shiftHorizon = 60 * 24 * time.Hour

func (c *Console) serveNow(w http.ResponseWriter, r *http.Request, v viewer) {
	cfg := c.o.Team.Current()
	oc, ok := cfg.OnCall()
	d := nowData{OnCall: oc, HasOnCall: ok, IsMe: ok && oc.ID == v.User.ID, SinceBy: cfg.CurrentConfig.LastModifiedUserID,
		MyRoutes: notification.Routes(cfg, v.User, nil), PagerPhone: cfg.CurrentConfig.PagerPhone}
	if t := cfg.CurrentConfig.LastModifiedTime; t > 0 {
		d.Since = time.Unix(t, 0)
	}
	if sched, ok := cfg.OnCallSchedule(); ok {
		d.HasSchedule = true
		now := c.o.Now()
		shifts := sched.Shifts(now, 6, now.Add(shiftHorizon))
		if len(shifts) > 0 {
			d.Until = shifts[0].End
		}
		for i, sh := range shifts {
			if i == 0 {
				continue
			}
			name := sh.Member
			if u, ok := cfg.UserByID(sh.Member); ok {
				name = u.Name
			}
			d.Next = append(d.Next, shiftView{Name: name, Start: sh.Start, End: sh.End, Override: sh.Source.Kind == schedule.ByOverride})
		}
	}
	pending, err := c.o.OnCall.Pending(r.Context(), v.User)
	if err != nil {
		c.o.Logger.Warn("console: pending TAKE not read", "user", v.User.ID, "err", err)
	}
	d.Pending = pending
	c.render(w, r, "now", http.StatusOK, page{Title: "Now", Nav: "now", Viewer: &v, Data: d})
}

func (c *Console) serveTake(w http.ResponseWriter, r *http.Request, v viewer) {
	c.redirect(w, r, Prefix, c.o.OnCall.Take(r.Context(), v.User))
}

func (c *Console) serveTakeConfirm(w http.ResponseWriter, r *http.Request, v viewer) {
	c.redirect(w, r, Prefix, c.o.OnCall.Confirm(r.Context(), v.User))
}

func (c *Console) serveTakeCancel(w http.ResponseWriter, r *http.Request, v viewer) {
	c.redirect(w, r, Prefix, c.o.OnCall.Cancel(r.Context(), v.User))
}

func (c *Console) serveTestPage(w http.ResponseWriter, r *http.Request, v viewer) {
	id, err := c.o.Notifications.TestPage(r.Context(), v.User)
	if err != nil {
		c.o.Logger.Warn("console: test page not sent", "user", v.User.ID, "err", err)
		c.redirect(w, r, Prefix, "The test page could not be sent: "+err.Error())
		return
	}
	c.record(r.Context(), v, r, audit.ActionTestPage, "notification "+id, nil, nil)
	c.redirect(w, r, Prefix+"notifications?id="+id, "Test page sent to each of your channels; this report shows what became of it.")
}

type alertsData struct {
	Alerts []alerts.Alert
	State  string
	Source string
	Before string
	Next   string
	// Version fingerprints the open alerts; the page polls for a change.
	Version string
	States  []string
	Problem string
	// PollMillis is how often the page asks whether a new alert arrived.
	PollMillis int
}

const alertsPerPage = 25

func (c *Console) serveAlerts(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	d := alertsData{State: q.Get("state"), Source: strings.TrimSpace(q.Get("source")), Before: q.Get("before"),
		States: []string{"", "open", "triggered", "acknowledged", "closed"}, PollMillis: int(c.o.PollInterval.Milliseconds())}
	if !slices.Contains(d.States, d.State) {
		d.State = ""
	}
	p, err := c.o.Alerts.List(r.Context(), alerts.Query{State: d.State, Source: d.Source, Before: d.Before, Limit: alertsPerPage})
	if err != nil {
		c.o.Logger.Error("console: alerts not listed", "err", err)
		d.Problem = "The alerts cannot be read right now (storage unavailable)."
	}
	d.Alerts, d.Next = p.Alerts, p.Next
	if d.Before == "" {
		d.Version, _ = c.o.Alerts.OpenFingerprint(r.Context())
	}
	c.render(w, r, "alerts", http.StatusOK, page{Title: "Alerts", Nav: "alerts", Viewer: &v, Data: d})
}

// serveAlertsChanges is what the alerts page polls: the open alerts'
// fingerprint: one key listing, besides the session read every signed-in
// request makes.
func (c *Console) serveAlertsChanges(w http.ResponseWriter, r *http.Request, v viewer) {
	id, err := c.o.Alerts.OpenFingerprint(r.Context())
	if err != nil {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"version": id})
}

type alertData struct {
	Alert alerts.Alert
	Names map[string]string
}

func (c *Console) serveAlert(w http.ResponseWriter, r *http.Request, v viewer) {
	a, err := c.o.Alerts.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, alerts.ErrNotFound) {
		c.render(w, r, "error", http.StatusNotFound, page{Title: "No such alert", Viewer: &v, Data: "There is no alert " + r.PathValue("id") + "."})
		return
	}
	if err != nil {
		c.o.Logger.Error("console: alert not read", "err", err)
		c.render(w, r, "error", http.StatusServiceUnavailable, page{Title: "Alert", Viewer: &v, Data: "The alert cannot be read right now."})
		return
	}
	names := map[string]string{}
	cfg := c.o.Team.Current()
	for _, id := range cfg.UserIDs() {
		u, _ := cfg.UserByID(id)
		names[id] = u.Name
	}
	c.render(w, r, "alert", http.StatusOK, page{Title: a.Summary, Nav: "alerts", Viewer: &v, Data: alertData{Alert: a, Names: names}})
}

func (c *Console) serveAlertAction(w http.ResponseWriter, r *http.Request, v viewer) {
	id, action := r.PathValue("id"), r.PathValue("action")
	ctx := r.Context()
	back := Prefix + "alerts/" + id
	var (
		msg string
		err error
	)
	switch action {
	case "ack", "close":
		var t alerts.Transition
		act := audit.ActionAlertAck
		if action == "ack" {
			t, err = c.o.Alerts.Ack(ctx, id, v.User.ID)
		} else {
			act = audit.ActionAlertClose
			t, err = c.o.Alerts.Close(ctx, id, v.User.ID)
		}
		if err == nil {
			msg = outcomeText(t, action)
			if t.Changed() {
				c.record(ctx, v, r, act, "alert "+t.Alert.ID+" ["+t.Alert.Code+"] "+t.Alert.Summary, nil, map[string]any{"state": t.Alert.State})
			}
		}
	case "reopen":
		var n alerts.Alert
		var created bool
		n, created, err = c.o.Alerts.Reopen(ctx, id, v.User.ID)
		if err == nil {
			back = Prefix + "alerts/" + n.ID
			msg = fmt.Sprintf("Reopened as alert %s (code %s): the team is paged again.", n.ID, n.Code)
			if !created {
				msg = fmt.Sprintf("Already reopened as alert %s (code %s).", n.ID, n.Code)
			}
			c.record(ctx, v, r, audit.ActionAlertReopen, "alert "+id+" reopened as "+n.ID, nil, nil)
		}
	default:
		http.NotFound(w, r)
		return
	}
	switch {
	case errors.Is(err, alerts.ErrNotFound):
		msg = "There is no such alert."
	case errors.Is(err, alerts.ErrInvalid):
		msg = "Not done: " + err.Error()
	case err != nil:
		c.o.Logger.Error("console: alert action failed", "alert", id, "action", action, "err", err)
		msg = "Not done: the pager cannot reach its storage right now. Try again in a minute."
	}
	c.redirect(w, r, back, msg)
}

func outcomeText(t alerts.Transition, action string) string {
	switch t.Outcome {
	case alerts.OutcomeChanged:
		if action == "ack" {
			if len(t.Told) == 0 {
				return "Acknowledged: escalation stopped."
			}
			return fmt.Sprintf("Acknowledged: escalation stopped; the %d other people paged are told.", len(t.Told))
		}
		return "Closed."
	case alerts.OutcomeAlreadyAcknowledged:
		return "Already acknowledged by " + t.Alert.AckedBy + "."
	case alerts.OutcomeAlreadyClosed:
		return "Already closed by " + t.Alert.ClosedBy + "."
	}
	return string(t.Outcome)
}

func (c *Console) serveVoicemails(w http.ResponseWriter, r *http.Request, v viewer) {
	before := r.URL.Query().Get("before")
	p, err := c.o.Voicemails.Voicemails(r.Context(), before, 20)
	problem := ""
	if err != nil {
		c.o.Logger.Error("console: voicemails not listed", "err", err)
		problem = "The voicemails cannot be read right now (storage unavailable)."
	}
	c.render(w, r, "voicemails", http.StatusOK, page{Title: "Voicemails", Nav: "voicemails", Viewer: &v,
		Data: map[string]any{"Page": p, "Problem": problem, "Before": before}})
}

// serveVoicemailAudio streams a voicemail to a signed-in member: the signed
// media links are for Twilio and texts, and name the public URL.
func (c *Console) serveVoicemailAudio(w http.ResponseWriter, r *http.Request, v viewer) {
	name := r.PathValue("name")
	data, err := c.o.Voicemails.Audio(r.Context(), name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "audio/mpeg")
	w.Header().Set("Cache-Control", "private, max-age=3600")
	if r.URL.Query().Get("download") != "" {
		w.Header().Set("Content-Disposition", `attachment; filename="voicemail-`+name+`.mp3"`)
	}
	http.ServeContent(w, r, name+".mp3", time.Time{}, bytes.NewReader(data))
}

func (c *Console) serveNotifications(w http.ResponseWriter, r *http.Request, v viewer) {
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	d := map[string]any{"ID": id}
	status := http.StatusOK
	if id != "" {
		rep, err := c.o.Notifications.Report(r.Context(), id)
		switch {
		case err == nil:
			d["Report"] = rep
		case errors.Is(err, jobs.ErrNotFound):
			d["Problem"] = "There is no notification " + id + "."
			status = http.StatusNotFound
		default:
			c.o.Logger.Error("console: report not read", "id", id, "err", err)
			d["Problem"] = "The report cannot be read right now."
			status = http.StatusServiceUnavailable
		}
	}
	c.render(w, r, "notifications", status, page{Title: "Notifications", Nav: "notifications", Viewer: &v, Data: d})
}

func (c *Console) serveAudit(w http.ResponseWriter, r *http.Request, v viewer) {
	q := r.URL.Query()
	aq := audit.Query{Actor: strings.TrimSpace(q.Get("actor")), Action: audit.Action(strings.TrimSpace(q.Get("action"))), Before: q.Get("before"), Limit: 50}
	p, err := c.o.Audit.Page(r.Context(), aq)
	problem := ""
	if err != nil {
		c.o.Logger.Error("console: audit not listed", "err", err)
		problem = "The audit log cannot be read right now (storage unavailable)."
	}
	c.render(w, r, "audit", http.StatusOK, page{Title: "Audit", Nav: "audit", Viewer: &v,
		Data: map[string]any{"Page": p, "Query": aq, "Problem": problem}})
}
