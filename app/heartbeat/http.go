package heartbeat

import (
	"cmp"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/keygate"
)

// answer is the reply to a beat.
type answer struct {
	Message   string    `json:"message"`
	Heartbeat string    `json:"heartbeat,omitempty"`
	LastBeat  time.Time `json:"last_beat,omitzero"`
	// Due is when the heartbeat is late without another beat.
	Due time.Time `json:"due,omitzero"`
	// Recovered: this beat ended a silence; its alert is being closed.
	Recovered bool `json:"recovered,omitempty"`
}

// ServeBeat is GET or POST /heartbeat/<name>, with an API key as
// Authorization: Bearer, ?api_key= or a form field api_key. A status text
// may come as ?status=, a form field status, a JSON body's "status" (so
// Alertmanager's webhook works as is) or a plain-text body's first line.
func (s *Service) ServeBeat(c echo.Context) error {
	req := c.Request()
	body, err := intake.ReadBody(c)
	if errors.Is(err, intake.ErrTooLarge) {
		return c.JSON(http.StatusRequestEntityTooLarge, answer{Message: "request body too large"})
	}
	if err != nil {
		return c.JSON(http.StatusBadRequest, answer{Message: "could not read the request body"})
	}
	form, status := parseBody(req.Header.Get("Content-Type"), body)
	key, err := keygate.KeyFrom(req, cmp.Or(c.QueryParam("api_key"), form.Get("api_key")))
	if err != nil {
		return c.JSON(http.StatusBadRequest, answer{Message: err.Error()})
	}
	// The heartbeat's name and the key's permission come before the key's
	// budget: a beat nobody may record spends none.
	v := s.keys.Authenticate(c, keygate.ViaWebhook, key)
	if !v.OK() {
		return refused(c, v)
	}
	cfg, keyName := v.Config, v.Name
	name := c.Param("name")
	hb, ok := cfg.Heartbeat(name)
	if !ok {
		return c.JSON(http.StatusNotFound, answer{Message: "no heartbeat of that name in the config"})
	}
	if hb.APIKey != "" && hb.APIKey != keyName {
		return c.JSON(http.StatusForbidden, answer{Message: "this API key may not beat this heartbeat"})
	}
	if v = s.keys.Limit(c, v); !v.OK() {
		return refused(c, v)
	}
	// The query wins over a form field, which wins over the body's text.
	if st := cmp.Or(c.QueryParam("status"), form.Get("status")); st != "" {
		status = st
	}
	rec, err := s.Beat(req.Context(), name, Source{Key: keyName, Addr: c.RealIP()}, status)
	if errors.Is(err, ErrUnknown) {
		return c.JSON(http.StatusNotFound, answer{Message: "no heartbeat of that name in the config"})
	}
	if err != nil {
		s.log.Error("heartbeat: beat not recorded", "heartbeat", name, "err", err)
		return c.JSON(http.StatusServiceUnavailable, answer{Message: "beat not recorded; retry"})
	}
	return c.JSON(http.StatusOK, answer{Message: "ok", Heartbeat: name, LastBeat: rec.Last,
		Due: rec.Last.Add(hb.Deadline()), Recovered: rec.recovered})
}

// refused answers a request the key gate refused.
func refused(c echo.Context, v keygate.Verdict) error {
	msg := v.Message()
	switch v.Refused {
	case keygate.NoConfig:
		msg = "the pager has no configuration loaded yet; retry shortly"
	case keygate.UnknownKey:
		msg = "missing or unknown API key"
	}
	return c.JSON(v.Status(), answer{Message: msg})
}

// parseBody reads a form (its fields) or a status text from a JSON object
// or plain text. Anything else is ignored: a beat needs no body.
func parseBody(contentType string, body []byte) (url.Values, string) {
	if len(body) == 0 {
		return url.Values{}, ""
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	switch mt {
	case "application/x-www-form-urlencoded":
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return url.Values{}, ""
		}
		return form, ""
	case "application/json":
		var v struct {
			Status any `json:"status"`
		}
		if json.Unmarshal(body, &v) == nil {
			if st, ok := v.Status.(string); ok {
				return url.Values{}, st
			}
		}
	case "text/plain":
		return url.Values{}, string(body)
	}
	return url.Values{}, ""
}
