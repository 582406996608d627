package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
)

// Password reset by mail: public pages, like the member self-service.
// Asking for a link (admin.RequestPasswordReset) gets one answer for any
// address, no sooner than selfServiceFloor; the asking is limited per
// client and per address. The link's page sets the new password
// (admin.ResetPassword).

// resetAnswer is the one answer to a request for a reset link.
const resetAnswer = "If an account has that address, a message with a link is on its way; the link works for one hour."

// Reset link limits: requests per client address and per account
// address, each request counting, within selfServiceWindow.
const (
	resetPerIP   = 10
	resetPerAddr = 3
)

type resetData struct {
	Sent bool
}

// resetSetData is the page of a reset link.
type resetSetData struct {
	Works     bool   // the link works
	Action    string // where the form posts: the link's own path
	MinLength int
}

func resetPage(q *request) error {
	return q.render("login-reset", "Forgot your password?", "", resetData{})
}

// requestReset sends a password reset link to the account of the address
// given, if there is one.
func requestReset(q *request) error {
	start := time.Now()
	if err := q.publicForm(); err != nil {
		return err
	}
	defer q.cleanup()
	ctx := q.r.Context()
	if limited, err := q.count(ctx, q.s.resetIP, auth.ClientIP(q.r), q.resetLimited); limited || err != nil {
		return err
	}
	email := strings.TrimSpace(q.r.PostForm.Get("email"))
	if limited, err := q.count(ctx, q.s.resetAddr, strings.ToLower(email), q.resetLimited); limited || err != nil {
		return err
	}
	// The same answer for anyone, no sooner than the floor (alike): an
	// account's request does more work than anyone else's.
	if refused := q.alike(q.svc.RequestPasswordReset(ctx, email), "password reset by mail", start); refused != "" {
		q.status, q.flash, q.form = http.StatusUnprocessableEntity, &flash{Error: true, Text: refused}, q.r.PostForm
		return q.render("login-reset", "Forgot your password?", "", resetData{})
	}
	q.flash = &flash{Text: resetAnswer}
	return q.render("login-reset", "Forgot your password?", "", resetData{Sent: true})
}

func (q *request) resetLimited(after time.Duration) error {
	q.tooMany(after, "That is more requests for a new password than Sealpost takes in an hour. Please try again in "+auth.Wait(after)+".")
	return q.render("login-reset", "Forgot your password?", "", resetData{})
}

// resetLinkPage is the page a reset link opens: the form for the new
// password, or why the link does not work.
func resetLinkPage(q *request) error {
	err := q.svc.CheckPasswordReset(q.r.Context(), q.r.PathValue("token"))
	if errors.Is(err, admin.ErrResetLink) {
		return q.resetLinkRefused(http.StatusNotFound, err)
	} else if err != nil {
		return err
	}
	return q.render("login-reset-set", "Choose a new password", "", q.resetSetData(true))
}

// resetPassword sets the new password of a reset link, and sends the
// browser to sign in with it.
func resetPassword(q *request) error {
	if err := q.publicForm(); err != nil {
		return err
	}
	defer q.cleanup()
	f := q.r.PostForm
	pw := f.Get("password")
	if pw != f.Get("password2") {
		return q.resetLinkRefused(http.StatusUnprocessableEntity,
			fmt.Errorf("%w: the two passwords differ; type the same new password twice", admin.ErrInvalid))
	}
	err := q.svc.ResetPassword(q.r.Context(), q.r.PathValue("token"), pw)
	switch {
	case errors.Is(err, admin.ErrResetLink):
		return q.resetLinkRefused(http.StatusNotFound, err)
	case refusal(err):
		return q.resetLinkRefused(http.StatusUnprocessableEntity, err)
	case err != nil:
		return err
	}
	q.redirect("/login", "Your new password is set, and every sign-in with the old one has ended. Sign in with the new one.")
	return nil
}

// resetLinkRefused shows the link's page again with why; the form stays
// when the link still works.
func (q *request) resetLinkRefused(status int, err error) error {
	q.status, q.flash = status, &flash{Error: true, Text: sentence(userMessage(err))}
	return q.render("login-reset-set", "Choose a new password", "", q.resetSetData(!errors.Is(err, admin.ErrResetLink)))
}

func (q *request) resetSetData(works bool) resetSetData {
	return resetSetData{Works: works, Action: "/login/reset/" + url.PathEscape(q.r.PathValue("token")), MinLength: admin.MinPasswordLength}
}
