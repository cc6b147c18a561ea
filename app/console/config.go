package console

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/jsondoc"
	"github.com/oncall/pager/app/linediff"
	"github.com/oncall/pager/app/schedule/handover"
	"github.com/oncall/pager/app/team"
)

type keyView struct {
	Name    string
	Prefix  string
	Enabled bool
	CanRead bool
}

type configData struct {
	Text     string
	ETag     string
	Problems []team.Problem
	Warnings []team.Problem
	Diff     []linediff.Hunk
	Checked  bool
	Saved    bool
	Conflict bool
	Problem  string
	Keys     []keyView
	// NewKey is a key (or calendar token) just minted, shown once.
	NewKey        string
	NewKeyName    string
	NewIsCalendar bool
	// Calendar tokens: only when a schedule is configured.
	HasSchedule bool
	Tokens      []tokenView
	Members     []team.User
}

type tokenView struct {
	Name   string
	Prefix string
	User   string
}

func (c *Console) keys() []keyView {
	cfg := c.o.Team.Current()
	var out []keyView
	for name, k := range cfg.APIKeys {
		out = append(out, keyView{Name: name, Prefix: k.SHA256[:min(8, len(k.SHA256))], Enabled: k.IsEnabled(), CanRead: k.CanRead})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// tokens lists the calendar feeds and the members a feed may be for.
func (c *Console) tokens(d *configData) {
	cfg := c.o.Team.Current()
	if cfg.Schedule == nil {
		return
	}
	d.HasSchedule = true
	for name, t := range cfg.Schedule.CalendarTokens {
		d.Tokens = append(d.Tokens, tokenView{Name: name, Prefix: t.SHA256[:min(8, len(t.SHA256))], User: t.User})
	}
	sort.Slice(d.Tokens, func(i, j int) bool { return d.Tokens[i].Name < d.Tokens[j].Name })
	for _, id := range cfg.UserIDs() {
		if u, ok := cfg.UserByID(id); ok {
			d.Members = append(d.Members, u)
		}
	}
}

func (c *Console) serveConfig(w http.ResponseWriter, r *http.Request, v viewer) {
	data, etag, err := c.o.Team.Raw(r.Context())
	d := configData{Keys: c.keys()}
	if err != nil {
		c.o.Logger.Error("console: config not read", "err", err)
		d.Problem = "The stored config cannot be read right now."
	}
	d.Text, d.ETag = string(data), etag
	c.tokens(&d)
	c.render(w, r, "config", http.StatusOK, page{Title: "Config", Nav: "config", Viewer: &v, Data: d})
}

// serveConfigSave checks the edited document (every problem at its JSON
// path), shows its diff against what is stored and, for "save", writes it
// only if the stored config is still the version the edit started from.
func (c *Console) serveConfigSave(w http.ResponseWriter, r *http.Request, v viewer) {
	text := strings.ReplaceAll(r.PostFormValue("config"), "\r\n", "\n")
	etag := r.PostFormValue("etag")
	save := r.PostFormValue("op") == "save"
	d := configData{Text: text, ETag: etag, Keys: c.keys(), Checked: true}
	stored, storedTag, err := c.o.Team.Raw(r.Context())
	if err != nil {
		c.o.Logger.Error("console: config not read", "err", err)
		d.Problem = "The stored config cannot be read right now; nothing was saved."
		c.render(w, r, "config", http.StatusServiceUnavailable, page{Title: "Config", Nav: "config", Viewer: &v, Data: d})
		return
	}
	d.Diff = linediff.Diff(string(stored), text)
	cfg, perr := team.Parse([]byte(text))
	var ve *team.ValidationError
	switch {
	case errors.As(perr, &ve):
		d.Problems, d.Warnings = ve.Problems, ve.Warnings
	case perr != nil:
		d.Problems = []team.Problem{{Message: perr.Error()}}
	default:
		d.Warnings = append(team.Warnings(cfg), team.ScheduleWarnings(cfg, c.o.Now())...)
	}
	c.tokens(&d)
	status := http.StatusOK
	switch {
	case len(d.Problems) > 0:
		status = http.StatusUnprocessableEntity
		if save {
			d.Problem = "Not saved: fix the problems below first."
			_ = c.o.Audit.Record(r.Context(), audit.Entry{Actor: v.User.ID, Action: audit.ActionConfigRejected,
				Source: "console " + c.o.ClientIP(r), Detail: fmt.Sprintf("%d problems", len(d.Problems))})
		}
	case !save:
	case storedTag != etag:
		// Someone changed it since this edit began: show what, keep the
		// edit, and let the member save again over the new version.
		d.Conflict, d.ETag = true, storedTag
		d.Problem = "Not saved: the stored config changed since you opened it (a TAKE, an upload or another editor). " +
			"The differences below are between the stored config now and your text; check them, then save again."
		status = http.StatusConflict
	default:
		saved, newTag, err := c.o.Team.Replace(r.Context(), v.User.ID, []byte(text), etag)
		switch {
		case errors.Is(err, team.ErrConflict):
			// Changed between the read above and the write: the diff and
			// the version to save over are the new ones, or a second save
			// would undo a change the member never saw.
			d.Conflict, d.ETag, d.Diff = true, "", nil
			if now, t, err := c.o.Team.Raw(r.Context()); err == nil {
				d.ETag, d.Diff = t, linediff.Diff(string(now), text)
			}
			d.Problem = "Not saved: the stored config changed a moment ago. Check the differences, then save again."
			status = http.StatusConflict
		case err != nil:
			c.o.Logger.Error("console: config not saved", "err", err)
			d.Problem = "Not saved: " + err.Error()
			status = http.StatusServiceUnavailable
		default:
			d.Saved, d.ETag, d.Diff = true, newTag, nil
			d.Keys = c.keys()
			c.record(r.Context(), v, r, audit.ActionConfigChange, "whole config saved in the console",
				map[string]string{"etag": etag}, map[string]string{"etag": newTag})
			// Replace wrote over the version read above (its ETag matched),
			// so that is who was on call; one that did not parse names nobody.
			before, _ := team.Parse(stored)
			if _, err := handover.ConfigWritten(r.Context(), c.o.Texter, before, saved, etag, newTag, c.o.Now()); err != nil {
				c.o.Logger.Error("console: hand-over texts not queued", "err", err)
				d.Problem = "Saved, but the texts telling the old and new on-call were not queued: tell them yourself."
			}
		}
	}
	c.render(w, r, "config", status, page{Title: "Config", Nav: "config", Viewer: &v, Data: d})
}

func (c *Console) serveAPIKeyMint(w http.ResponseWriter, r *http.Request, v viewer) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	canRead := r.PostFormValue("can_read") != ""
	if !team.ValidKeyName(name) {
		c.redirect(w, r, Prefix+"config", "Not minted: "+team.KeyNameRule+".")
		return
	}
	key, err := team.NewAPIKey()
	if err != nil {
		c.redirect(w, r, Prefix+"config", "Not minted: "+err.Error())
		return
	}
	errExists := errors.New("exists")
	_, err = c.o.Team.Update(r.Context(), v.User.ID, func(cfg *team.Config, doc *jsondoc.Doc) error {
		if _, ok := cfg.APIKeys[name]; ok {
			return errExists
		}
		return doc.Set([]string{"api_keys", name}, map[string]any{"sha256": team.HashAPIKey(key), "can_read": canRead})
	})
	switch {
	case errors.Is(err, errExists):
		c.redirect(w, r, Prefix+"config", "Not minted: there is already a key named "+name+"; revoke it or choose another name.")
		return
	case err != nil:
		c.o.Logger.Error("console: key not minted", "err", err)
		c.redirect(w, r, Prefix+"config", "Not minted: "+err.Error())
		return
	}
	c.record(r.Context(), v, r, audit.ActionAPIKeyMint, "api key "+name, nil, map[string]any{"name": name, "can_read": canRead})
	// Shown once, in this answer only (never in a cookie or a URL).
	data, etag, _ := c.o.Team.Raw(r.Context())
	d := configData{Text: string(data), ETag: etag, Keys: c.keys(), NewKey: key, NewKeyName: name}
	c.tokens(&d)
	c.render(w, r, "config", http.StatusOK, page{Title: "Config", Nav: "config", Viewer: &v, Data: d})
}

func (c *Console) serveCalendarMint(w http.ResponseWriter, r *http.Request, v viewer) {
	name := strings.TrimSpace(r.PostFormValue("name"))
	user := strings.TrimSpace(r.PostFormValue("user"))
	if !team.ValidKeyName(name) {
		c.redirect(w, r, Prefix+"config", "Not minted: "+team.KeyNameRule+".")
		return
	}
	token, err := team.NewCalendarToken()
	if err != nil {
		c.redirect(w, r, Prefix+"config", "Not minted: "+err.Error())
		return
	}
	_, err = c.o.Team.Update(r.Context(), v.User.ID, func(cfg *team.Config, doc *jsondoc.Doc) error {
		return team.AddCalendarToken(cfg, doc, name, user, token)
	})
	if err != nil {
		c.redirect(w, r, Prefix+"config", "Not minted: "+err.Error())
		return
	}
	c.record(r.Context(), v, r, audit.ActionCalendarMint, "calendar token "+name, nil, map[string]any{"name": name, "user": user})
	data, etag, _ := c.o.Team.Raw(r.Context())
	d := configData{Text: string(data), ETag: etag, Keys: c.keys(), NewKey: token, NewKeyName: name, NewIsCalendar: true}
	c.tokens(&d)
	c.render(w, r, "config", http.StatusOK, page{Title: "Config", Nav: "config", Viewer: &v, Data: d})
}

// serveCalendarRevoke removes the token: calendar tokens have no enabled
// flag, and a feed URL once shared is best forgotten.
func (c *Console) serveCalendarRevoke(w http.ResponseWriter, r *http.Request, v viewer) {
	name := r.PathValue("name")
	_, err := c.o.Team.Update(r.Context(), v.User.ID, func(cfg *team.Config, doc *jsondoc.Doc) error {
		if cfg.Schedule == nil {
			return errors.New("there is no schedule")
		}
		if _, ok := cfg.Schedule.CalendarTokens[name]; !ok {
			return fmt.Errorf("there is no calendar token named %s", name)
		}
		doc.Delete([]string{"schedule", "calendar_tokens", name})
		return nil
	})
	if err != nil {
		c.redirect(w, r, Prefix+"config", "Not revoked: "+err.Error())
		return
	}
	c.record(r.Context(), v, r, audit.ActionCalendarRevoke, "calendar token "+name, map[string]any{"name": name}, nil)
	c.redirect(w, r, Prefix+"config", "Calendar token "+name+" revoked: its feed answers 404 from now on.")
}

func (c *Console) serveAPIKeyRevoke(w http.ResponseWriter, r *http.Request, v viewer) {
	name := r.PathValue("name")
	_, err := c.o.Team.Update(r.Context(), v.User.ID, func(cfg *team.Config, doc *jsondoc.Doc) error {
		if _, ok := cfg.APIKeys[name]; !ok {
			return fmt.Errorf("there is no key named %s", name)
		}
		return doc.Set([]string{"api_keys", name, "enabled"}, false)
	})
	if err != nil {
		c.redirect(w, r, Prefix+"config", "Not revoked: "+err.Error())
		return
	}
	c.record(r.Context(), v, r, audit.ActionAPIKeyRevoke, "api key "+name, nil, map[string]any{"name": name, "enabled": false})
	c.redirect(w, r, Prefix+"config", "Key "+name+" revoked: it is refused from now on.")
}
