package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/keygate"
	"github.com/oncall/pager/app/notification"
)

// The RedFlash dialect (see docs/api.openapi.yaml):
//
//	POST /contact/<slug>/  api_key, message[, subject]
//	POST /group/<slug>/    api_key, message[, subject]
//	POST /event/<slug>/    api_key, any fields for the event's template
//	GET  /contact/<slug>/?api_key=…   {"name","slug"}
//	GET  /group/<slug>/?api_key=…     {"name","slug","short_contacts"}
//
// rfclient posts form-encoded with a trailing slash and reads only the
// status: 201 all recipients accepted, 202 some, 403 bad key, 404 unknown
// or disabled slug. Where RedFlash answered 500 (empty message) we answer
// 400, and 422 when nobody can be reached, which RedFlash answered 201.

// ServeContact is POST /contact/:slug/.
func (h *Handler) ServeContact(c echo.Context) error {
	cl, ok, err := h.authenticate(c)
	if !ok {
		return err
	}
	slug := c.Param("slug")
	rc, rerr := notification.ResolveContact(cl.cfg, slug)
	if rerr != nil {
		return h.unknown(c, cl, "contact", slug, rerr)
	}
	msg, subject, ok := message(cl.req)
	if !ok {
		return h.emptyMessage(c, cl, "contact:"+slug)
	}
	return h.accept(c, cl, alert{source: "contact:" + slug, subject: subject, message: msg,
		recipients: []notification.Recipient{rc}})
}

// ServeGroup is POST /group/:slug/: every enabled member, by their own
// routes.
func (h *Handler) ServeGroup(c echo.Context) error {
	cl, ok, err := h.authenticate(c)
	if !ok {
		return err
	}
	slug := c.Param("slug")
	_, rcs, rerr := notification.ResolveGroup(cl.cfg, slug)
	if rerr != nil {
		return h.unknown(c, cl, "group", slug, rerr)
	}
	msg, subject, ok := message(cl.req)
	if !ok {
		return h.emptyMessage(c, cl, "group:"+slug)
	}
	return h.accept(c, cl, alert{source: "group:" + slug, subject: subject, message: msg, recipients: rcs})
}

// ServeEvent is POST /event/:slug/: the event's message template filled
// from the request's fields. Fields the template names but the request
// lacks render empty and are listed in the answer's missing_fields.
func (h *Handler) ServeEvent(c echo.Context) error {
	cl, ok, err := h.authenticate(c)
	if !ok {
		return err
	}
	slug := c.Param("slug")
	ev, rcs, rerr := notification.ResolveEvent(cl.cfg, slug)
	if rerr != nil {
		return h.unknown(c, cl, "event", slug, rerr)
	}
	msg, missing := notification.Fill(ev.Message, cl.req.Fields)
	subject, subMissing := notification.Fill(ev.Subject, cl.req.Fields)
	for _, m := range subMissing {
		if !slices.Contains(missing, m) {
			missing = append(missing, m)
		}
	}
	if strings.TrimSpace(msg) == "" {
		return h.emptyMessage(c, cl, "event:"+slug)
	}
	if ev.Page {
		return h.pageEvent(c, cl, slug, strings.TrimSpace(msg), missing)
	}
	return h.accept(c, cl, alert{source: "event:" + slug, subject: strings.TrimSpace(subject), message: strings.TrimSpace(msg),
		fromPhone: ev.FromPhone, recipients: rcs, missing: missing})
}

// contactInfo is GET /contact/:slug/'s answer: nothing that reaches the
// person (no phone, no address).
type contactInfo struct {
	Name string `json:"name"`
	Slug string `json:"slug"`
}

type groupInfo struct {
	Name          string   `json:"name"`
	Slug          string   `json:"slug"`
	ShortContacts []string `json:"short_contacts"`
}

// ServeContactInfo is GET /contact/:slug/, for keys that may read.
func (h *Handler) ServeContactInfo(c echo.Context) error {
	cl, ok, err := h.authenticate(c)
	if !ok {
		return err
	}
	if !cl.key.CanRead {
		return h.noRead(c, cl)
	}
	slug := c.Param("slug")
	u, found := cl.cfg.UserByID(slug)
	if !found || !u.IsEnabled() {
		return h.unknown(c, cl, "contact", slug, notification.ErrUnknown)
	}
	name := u.Name
	if name == "" {
		name = slug
	}
	return c.JSON(http.StatusOK, contactInfo{Name: name, Slug: slug})
}

// ServeGroupInfo is GET /group/:slug/, for keys that may read: the
// members' slugs (user ids), never how to reach them.
func (h *Handler) ServeGroupInfo(c echo.Context) error {
	cl, ok, err := h.authenticate(c)
	if !ok {
		return err
	}
	if !cl.key.CanRead {
		return h.noRead(c, cl)
	}
	slug := c.Param("slug")
	g, rcs, rerr := notification.ResolveGroup(cl.cfg, slug)
	if rerr != nil {
		return h.unknown(c, cl, "group", slug, rerr)
	}
	ids := make([]string, 0, len(rcs))
	for _, rc := range rcs {
		ids = append(ids, rc.UserID)
	}
	return c.JSON(http.StatusOK, groupInfo{Name: g.Name, Slug: slug, ShortContacts: ids})
}

func (h *Handler) noRead(c echo.Context, cl caller) error {
	h.log.WarnContext(c.Request().Context(), "api: request refused: key may not read", "path", c.Request().URL.Path, "key", cl.keyName, "remote", c.RealIP())
	return reply(c, http.StatusForbidden, answer{Message: keygate.MsgInvalidKey})
}

func (h *Handler) unknown(c echo.Context, cl caller, kind, slug string, err error) error {
	if !errors.Is(err, notification.ErrUnknown) {
		h.log.ErrorContext(c.Request().Context(), "api: lookup failed", "kind", kind, "slug", slug, "err", err)
	}
	h.log.InfoContext(c.Request().Context(), "api: unknown or disabled "+kind, "slug", slug, "key", cl.keyName)
	return reply(c, http.StatusNotFound, answer{Message: "Unknown or disabled " + kind + " " + slug})
}

func (h *Handler) emptyMessage(c echo.Context, cl caller, source string) error {
	h.log.WarnContext(c.Request().Context(), "api: empty message; nothing queued", "source", source, "key", cl.keyName)
	return reply(c, http.StatusBadRequest, answer{Message: "Empty message: give a non-empty \"message\" field"})
}

// message is the request's message and optional subject.
func message(r Request) (msg, subject string, ok bool) {
	msg = strings.TrimSpace(r.Fields["message"])
	return msg, strings.TrimSpace(r.Fields["subject"]), msg != ""
}
