package console

import (
	"errors"
	"net/http"
	"strings"

	"github.com/oncall/pager/app/audit"
	"github.com/oncall/pager/app/signin"
	"github.com/oncall/pager/app/team"
)

type signInData struct {
	Phone   string
	Sent    bool
	Problem string
	Minutes int
}

func (c *Console) serveSignIn(w http.ResponseWriter, r *http.Request) {
	if _, err := c.viewer(r); err == nil {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	c.render(w, r, "signin", http.StatusOK, page{Title: "Sign in", Data: signInData{Minutes: int(signin.CodeTTL.Minutes())}})
}

// serveSignInRequest sends a code. The answer is the same whether or not
// the number is a member's.
func (c *Console) serveSignInRequest(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	w.Header().Set("Cache-Control", "no-store")
	phone := strings.TrimSpace(r.PostFormValue("phone"))
	d := signInData{Phone: phone, Minutes: int(signin.CodeTTL.Minutes())}
	norm := team.NormalizePhone(phone)
	if !team.ValidPhone(norm) {
		d.Problem = "Enter your phone number as in the team config, with its country code (for example +1 919 555 1001)."
		c.render(w, r, "signin", http.StatusBadRequest, page{Title: "Sign in", Data: d})
		return
	}
	err := c.o.SignIn.Request(r.Context(), norm, c.o.ClientIP(r))
	switch {
	case errors.Is(err, signin.ErrLimited):
		d.Problem = "Too many codes asked for: wait a few minutes, then try again."
		c.render(w, r, "signin", http.StatusTooManyRequests, page{Title: "Sign in", Data: d})
		return
	case err != nil:
		c.o.Logger.Error("console: sign-in code not sent", "err", err)
		d.Problem = "The code could not be sent right now; try again in a minute."
		c.render(w, r, "signin", http.StatusServiceUnavailable, page{Title: "Sign in", Data: d})
		return
	}
	d.Phone, d.Sent = norm, true
	c.render(w, r, "signin", http.StatusOK, page{Title: "Enter your code", Data: d})
}

func (c *Console) serveSignInVerify(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	w.Header().Set("Cache-Control", "no-store")
	phone := team.NormalizePhone(strings.TrimSpace(r.PostFormValue("phone")))
	code := strings.ReplaceAll(strings.TrimSpace(r.PostFormValue("code")), " ", "")
	d := signInData{Phone: phone, Sent: true, Minutes: int(signin.CodeTTL.Minutes())}
	sess, cookie, err := c.o.SignIn.Verify(r.Context(), phone, code, c.o.ClientIP(r))
	switch {
	case errors.Is(err, signin.ErrLimited):
		d.Problem = "Too many attempts: wait a few minutes, then ask for a new code."
		c.render(w, r, "signin", http.StatusTooManyRequests, page{Title: "Enter your code", Data: d})
		return
	case errors.Is(err, signin.ErrBadCode):
		d.Problem = "That code is wrong, used or expired. Check the text, or ask for a new code."
		c.render(w, r, "signin", http.StatusUnauthorized, page{Title: "Enter your code", Data: d})
		return
	case err != nil:
		c.o.Logger.Error("console: sign-in failed", "err", err)
		d.Problem = "Signing in failed (storage unavailable); try again in a minute."
		c.render(w, r, "signin", http.StatusServiceUnavailable, page{Title: "Enter your code", Data: d})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: Prefix, Expires: sess.Expires,
		HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
	_ = c.o.Audit.Record(r.Context(), audit.Entry{Actor: sess.UserID, Action: audit.ActionSignIn, Source: "console " + c.o.ClientIP(r)})
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (c *Console) serveSignOut(w http.ResponseWriter, r *http.Request, v viewer) {
	if err := c.o.SignIn.SignOut(r.Context(), v.Session); err != nil {
		c.o.Logger.Error("console: sign-out failed", "user", v.User.ID, "err", err)
		http.Error(w, "signing out failed (storage unavailable); try again", http.StatusServiceUnavailable)
		return
	}
	c.record(r.Context(), v, r, audit.ActionSignOut, "", nil, nil)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: c.secure, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, Prefix+"signin", http.StatusSeeOther)
}
