package calendar

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/schedule"
	"github.com/oncall/pager/app/team"
)

// The feed covers shifts from a week ago to Ahead from now.
const (
	Behind = 7 * 24 * time.Hour
	Ahead  = 90 * 24 * time.Hour
	// maxEvents bounds one feed, whatever the schedule.
	maxEvents = 2000
)

// Config is the part of the team manager the feed reads.
type Config interface {
	Current() *team.Config
}

// Handler serves the feed.
type Handler struct {
	cfg Config
	now func() time.Time
}

// New returns a feed handler.
func New(cfg Config, now func() time.Time) *Handler {
	if now == nil {
		now = time.Now
	}
	return &Handler{cfg: cfg, now: now}
}

// Serve is GET /calendar/:file. A token that is wrong, or a config without
// a schedule, is 404 with nothing else said: the route is public.
func (h *Handler) Serve(c echo.Context) error {
	token, ok := strings.CutSuffix(c.Param("file"), ".ics")
	cfg := h.cfg.Current()
	_, tok, found := cfg.CheckCalendarToken(token)
	sched, scheduled := cfg.OnCallSchedule()
	if !ok || !found || !scheduled {
		return c.String(http.StatusNotFound, "not found\n")
	}
	body := Feed(cfg, sched, tok.User, h.now())
	c.Response().Header().Set("Cache-Control", "private, max-age=300")
	return c.Blob(http.StatusOK, "text/calendar; charset=utf-8", []byte(body))
}

// Feed writes the shifts (member's only when member is set) from Behind
// before now to Ahead after it. Times are UTC, which every calendar app
// shows in its own zone, so no VTIMEZONE is needed.
func Feed(cfg *team.Config, sched *schedule.Schedule, member string, now time.Time) string {
	from, until := now.Add(-Behind), now.Add(Ahead)
	shifts := sched.Shifts(from, maxEvents, until)
	var b strings.Builder
	w := func(line string) { writeLine(&b, line) }
	w("BEGIN:VCALENDAR")
	w("VERSION:2.0")
	w("PRODID:-//oncall-pager//schedule//EN")
	w("CALSCALE:GREGORIAN")
	w("METHOD:PUBLISH")
	name := "On call"
	if member != "" {
		name = "On call: " + userName(cfg, member)
	}
	w("X-WR-CALNAME:" + escape(name))
	w("REFRESH-INTERVAL;VALUE=DURATION:PT1H")
	stamp := now.UTC().Format(utcLayout)
	for i, sh := range shifts {
		if sh.Member == "" || member != "" && sh.Member != member {
			continue
		}
		// The first shift is cut at the window's start, and it is long over
		// unless it is still running.
		if i == 0 && !sh.End.IsZero() && sh.End.Before(now) {
			continue
		}
		end := sh.End
		if end.IsZero() {
			end = until
		}
		uid := strconv.FormatInt(sh.Start.Unix(), 10)
		if i == 0 {
			// The cut moves with now, and a calendar takes an event whose
			// UID changed for a new one: the UID keeps the real start, the
			// one the event had before the cut. Without an earlier change
			// the member has been on since before every part of the
			// schedule, and "0" stands for that start.
			uid = "0"
			if b, ok := sched.ShiftStart(sh.Start); ok {
				uid = strconv.FormatInt(b.Unix(), 10)
			}
		}
		w("BEGIN:VEVENT")
		w("UID:" + sh.Member + "-" + uid + "@oncall-pager")
		w("DTSTAMP:" + stamp)
		w("DTSTART:" + sh.Start.UTC().Format(utcLayout))
		w("DTEND:" + end.UTC().Format(utcLayout))
		w("SUMMARY:" + escape("On call: "+userName(cfg, sh.Member)))
		w("DESCRIPTION:" + escape(fmt.Sprintf("%s is on call (%s).", userName(cfg, sh.Member), sh.Source.Kind)))
		w("TRANSP:TRANSPARENT")
		w("END:VEVENT")
	}
	w("END:VCALENDAR")
	return b.String()
}

const utcLayout = "20060102T150405Z"

func userName(cfg *team.Config, id string) string {
	if u, ok := cfg.UserByID(id); ok {
		return u.Name
	}
	return id
}

// escape is RFC 5545's TEXT escaping.
func escape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`)
	return r.Replace(s)
}

// writeLine folds at 75 octets (RFC 5545 3.1), never inside a UTF-8
// sequence, and ends with CRLF.
func writeLine(b *strings.Builder, line string) {
	const limit = 75
	first := true
	for len(line) > 0 {
		n := limit
		if !first {
			n = limit - 1 // the leading space counts
		}
		if len(line) <= n {
			n = len(line)
		} else {
			for n > 0 && line[n]&0xC0 == 0x80 {
				n--
			}
		}
		if !first {
			b.WriteByte(' ')
		}
		b.WriteString(line[:n])
		b.WriteString("\r\n")
		line = line[n:]
		first = false
	}
}
