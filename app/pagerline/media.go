package pagerline

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/oncall/pager/app/jobs"
	"github.com/oncall/pager/store"
)

// MediaTTL is how long a voicemail link works. Twilio fetches MMS media and
// call audio within minutes; the engineer may open a texted link hours later.
const MediaTTL = 24 * time.Hour

// signingKeyKey holds the random key for media links, in the store so every
// replica signs and checks the same links.
const signingKeyKey = "secrets/media-url-key"

// Signer makes and checks short-lived media links.
type Signer struct {
	st  store.Store
	now func() time.Time

	mu  sync.Mutex
	key []byte
}

// NewSigner returns a signer whose key lives in st.
func NewSigner(st store.Store, now func() time.Time) *Signer {
	return &Signer{st: st, now: now}
}

func (s *Signer) signingKey(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.key != nil {
		return s.key, nil
	}
	obj, err := s.st.Get(ctx, signingKeyKey)
	if errors.Is(err, store.ErrNotFound) {
		k := make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		_, perr := s.st.Put(ctx, signingKeyKey, []byte(hex.EncodeToString(k)), store.Cond{IfNoneMatch: true})
		if perr != nil && !errors.Is(perr, store.ErrPrecondition) {
			return nil, fmt.Errorf("pagerline: media key: %w", perr)
		}
		// Another replica may have won the create: read back what is stored.
		obj, err = s.st.Get(ctx, signingKeyKey)
	}
	if err != nil {
		return nil, fmt.Errorf("pagerline: media key: %w", err)
	}
	k, err := hex.DecodeString(strings.TrimSpace(string(obj.Data)))
	if err != nil || len(k) < 16 {
		return nil, fmt.Errorf("pagerline: media key at %s is malformed", signingKeyKey)
	}
	s.key = k
	return k, nil
}

func mac(key []byte, name string, exp int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\n%d", name, exp)
	return hex.EncodeToString(m.Sum(nil))
}

// URL returns a link to /media/<name> valid for MediaTTL.
func (s *Signer) URL(ctx context.Context, base, name string) (string, error) {
	return s.URLAt(ctx, base, name, s.now().Add(MediaTTL))
}

// URLAt returns a link to /media/<name> valid until exp (whole seconds):
// the same arguments give the same link, whenever it is made.
func (s *Signer) URLAt(ctx context.Context, base, name string, exp time.Time) (string, error) {
	key, err := s.signingKey(ctx)
	if err != nil {
		return "", err
	}
	e := exp.Unix()
	return fmt.Sprintf("%s/media/%s?exp=%d&sig=%s", base, name, e, mac(key, name, e)), nil
}

// Why a link is refused: fixed phrases, so the refusal trace never holds
// what a stranger put in the URL.
var (
	errLinkMalformed = errors.New("malformed media link")
	errLinkExpired   = errors.New("media link expired")
	errLinkForged    = errors.New("bad media link signature")
)

// Check verifies a link's expiry and signature: one of the errLink errors
// for a link to refuse, any other for a key that could not be read.
func (s *Signer) Check(ctx context.Context, name, expStr, sig string) error {
	exp, err := strconv.ParseInt(expStr, 10, 64)
	if err != nil {
		return errLinkMalformed
	}
	if s.now().Unix() > exp {
		return errLinkExpired
	}
	key, err := s.signingKey(ctx)
	if err != nil {
		return err
	}
	if !hmac.Equal([]byte(mac(key, name, exp)), []byte(sig)) {
		return errLinkForged
	}
	return nil
}

// ServeMedia is GET /media/:name: the voicemail audio behind a signed link.
// It serves the stored copy, or fetches from Twilio while the store step has
// not finished, so a page never waits for S3.
func (h *Handler) ServeMedia(c echo.Context) error {
	name := c.Param("name")
	ctx := c.Request().Context()
	switch err := h.signer.Check(ctx, name, c.QueryParam("exp"), c.QueryParam("sig")); {
	case errors.Is(err, errLinkMalformed), errors.Is(err, errLinkExpired), errors.Is(err, errLinkForged):
		// The route is public: a line per refusal would let anyone fill
		// the log (refuse keeps a bounded trace).
		h.refuse(c, err.Error())
		return echo.NewHTTPError(http.StatusForbidden, "invalid or expired link")
	case err != nil:
		h.log.ErrorContext(ctx, "pagerline: media link not checked", "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "recording not available yet")
	}
	id := strings.TrimSuffix(name, ".mp3")
	data, err := h.audio(ctx, id)
	if errors.Is(err, jobs.ErrNotFound) || errors.Is(err, jobs.ErrInvalidJob) {
		h.log.Debug("pagerline: media for an unknown voicemail", "job", id)
		return echo.NewHTTPError(http.StatusNotFound, "unknown recording")
	}
	if err != nil {
		h.log.ErrorContext(ctx, "pagerline: media not available", "job", id, "err", err)
		return echo.NewHTTPError(http.StatusServiceUnavailable, "recording not available yet")
	}
	c.Response().Header().Set("Cache-Control", "private, max-age=3600")
	return c.Blob(http.StatusOK, "audio/mpeg", data)
}
