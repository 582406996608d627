package web

import (
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/obs"
)

// errorView is what an error page shows.
type errorView struct {
	Status  int
	Heading string
	Text    string
	Ref     string // the reference the log has the details under
}

// refusal reports whether err is a use case refusing what a form asked,
// for a reason the person can act on: the form is shown again with it.
func refusal(err error) bool {
	return errors.Is(err, admin.ErrInvalid) || errors.Is(err, admin.ErrExists)
}

// fail shows the error page for err, as the REST API classifies it: the
// message of an admin error is written for the person who asked; any
// other error is logged with a reference and the page shows only that.
func (q *request) fail(err error) {
	v := errorView{Status: http.StatusInternalServerError, Heading: "Something went wrong"}
	var rl *auth.RateLimited
	switch {
	case errors.Is(err, errTooLarge):
		v = errorView{http.StatusRequestEntityTooLarge, "The upload is too large",
			"Sealpost takes files of up to 16 MiB here. A key or certificate is much smaller: check that you chose the right file.", ""}
	case errors.Is(err, auth.ErrCSRF):
		v = errorView{http.StatusForbidden, "Request refused", sentence(err.Error()), ""}
	case errors.Is(err, admin.ErrForbidden):
		v = errorView{Status: http.StatusForbidden, Heading: "Not allowed", Text: "You may not manage this list."}
		if q.list() == "" {
			v.Text = userMessage(err)
		}
	case errors.Is(err, admin.ErrNotFound):
		v = errorView{http.StatusNotFound, "Not found", userMessage(err), ""}
	case refusal(err):
		v = errorView{http.StatusUnprocessableEntity, "That did not work", userMessage(err), ""}
	case errors.As(err, &rl):
		v = errorView{http.StatusTooManyRequests, "Too many attempts", sentence(rl.Error()), ""}
	default:
		v.Ref = obs.Ref()
		v.Text = "Sealpost could not do this. The server log has the details under the reference below; " +
			"give it to your administrator."
		q.s.opt.Logger.Error("web request failed", "ref", v.Ref, "method", q.r.Method, "path", q.r.URL.Path, "err", err)
	}
	q.status = v.Status
	if rerr := q.render("error", v.Heading, "", v); rerr != nil {
		q.s.opt.Logger.Error("web: rendering the error page", "err", rerr)
		http.Error(q.w, v.Heading, v.Status)
	}
}

// userMessage is the message of an admin error for the person who asked,
// without the sentinel's prefix, as a sentence.
func userMessage(err error) string {
	msg := err.Error()
	for _, s := range []error{admin.ErrInvalid, admin.ErrExists, admin.ErrNotFound, admin.ErrForbidden} {
		if errors.Is(err, s) {
			if i := strings.Index(msg, s.Error()+": "); i >= 0 {
				msg = msg[i+len(s.Error())+2:]
			} else if msg == s.Error() {
				msg = map[error]string{admin.ErrInvalid: "that is not valid", admin.ErrExists: "that exists already",
					admin.ErrNotFound: "that was not found", admin.ErrForbidden: "you may not do this"}[s]
			}
			break
		}
	}
	return sentence(msg)
}

// sentence starts s with a capital letter and ends it with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "?") && !strings.HasSuffix(s, "!") {
		s += "."
	}
	return s
}
