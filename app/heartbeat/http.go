package heartbeat

import (
	"cmp"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/intake"
	"github.com/oncall/pager/app/team"
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
	key := c.QueryParam("api_key")
	if key == "" {
		key = form.Get("api_key")
	}
	if auth := req.Header.Get("Authorization"); auth != "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(auth), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return c.JSON(http.StatusBadRequest, answer{Message: `Authorization: want "Bearer <api key>"`})
		}
		key = strings.TrimSpace(token)
	}
	cfg, keyName, kerr := s.keys.CheckKey(key)
	if cfg == nil {
		return c.JSON(http.StatusServiceUnavailable, answer{Message: "the pager has no configuration loaded yet; retry shortly"})
	}
	if errors.Is(kerr, team.ErrExampleKey) {
		s.keys.Refuse(c, "the README's example API key on a public listener")
		return c.JSON(http.StatusForbidden, answer{Message: team.ExampleKeyRefused})
	}
	if kerr != nil {
		s.keys.Refuse(c, "unknown or missing API key")
		return c.JSON(http.StatusForbidden, answer{Message: "missing or unknown API key"})
	}
	name := c.Param("name")
	hb, ok := cfg.Heartbeat(name)
	if !ok {
		return c.JSON(http.StatusNotFound, answer{Message: "no heartbeat of that name in the config"})
	}
	if hb.APIKey != "" && hb.APIKey != keyName {
		return c.JSON(http.StatusForbidden, answer{Message: "this API key may not beat this heartbeat"})
	}
	if ok, retry := s.keys.Allow(cfg, keyName); !ok {
		s.keys.Refuse(c, "over the API key's rate limit")
		intake.SetRetryAfter(c, retry)
		return c.JSON(http.StatusTooManyRequests, answer{Message: "too many requests for this key; retry after the Retry-After delay"})
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
