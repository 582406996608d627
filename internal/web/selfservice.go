package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
	"github.com/sealpost/sealpost/internal/obs"
)

// selfServiceAnswer is the one answer to a key offered by a member, for
// any address: the page tells no one who is a member of which list.
const selfServiceAnswer = "If that address is a member of the list, a message to it is on its way. Answer it from your mail " +
	"program, signed with the new key, and the key takes effect."

// selfServiceFloor is the least time an answer to an offered key takes.
const selfServiceFloor = 500 * time.Millisecond

type selfServiceData struct {
	Sent bool
}

func selfServicePage(q *request) error {
	return q.render("self-service", "Update your key", "", selfServiceData{})
}

// selfService takes a member's new key: a challenge encrypted to it goes
// to their address (admin.OfferOwnKey). Every request counts against the
// client's address and against the list and address it names.
func selfService(q *request) error {
	start := time.Now()
	list, email, limited, err := q.listRequest(q.s.selfIP, q.s.selfAddr, q.selfServiceLimited)
	if limited || err != nil {
		return err
	}
	defer q.cleanup()
	key, err := q.uploaded("key")
	if err != nil {
		return err
	}
	if list == "" || email == "" || len(key) == 0 {
		return q.selfServiceRefused("Give the list's address, your own email address and your new key file.")
	}
	if refused := q.alike(q.svc.OfferOwnKey(q.r.Context(), list, email, key), "member self-service", start); refused != "" {
		return q.selfServiceRefused(refused)
	}
	q.flash = &flash{Text: selfServiceAnswer}
	return q.render("self-service", "Update your key", "", selfServiceData{Sent: true})
}

// listRequest starts a public form about one address on one list (key
// self-service, joining or leaving): the same-origin check, the limit of
// the client (perIP), the form, then the limit of the list and address
// it names (perAddr). Every request counts, whatever it asks. When a
// limit is reached it has answered with refuse and reports limited.
// Unless it returns an error, the caller defers q.cleanup().
func (q *request) listRequest(perIP, perAddr *auth.Limiter, refuse func(after time.Duration) error) (list, email string, limited bool, err error) {
	if err := auth.CheckOrigin(q.r); err != nil {
		return "", "", false, err
	}
	ctx := q.r.Context()
	if limited, err := q.count(ctx, perIP, auth.ClientIP(q.r), refuse); limited || err != nil {
		return "", "", limited, err
	}
	if err := q.readForm(); err != nil {
		return "", "", false, err
	}
	list, email = strings.TrimSpace(q.r.PostForm.Get("list")), strings.TrimSpace(q.r.PostForm.Get("email"))
	addrKey := strings.ToLower(list) + "\x00" + strings.ToLower(email)
	limited, err = q.count(ctx, perAddr, addrKey, refuse)
	if limited || err != nil {
		q.cleanup()
	}
	return list, email, limited, err
}

// alike takes the outcome err of a public request that must be answered
// the same whoever asks: it returns the text to refuse the request with
// when the input itself was wrong (admin.ErrInvalid, which tells nothing
// about anyone), else "" after logging any other error (which might tell
// that an address is a member) and waiting out the floor from start
// (the work done for a member must not tell either).
func (q *request) alike(err error, what string, start time.Time) (refused string) {
	switch {
	case errors.Is(err, admin.ErrInvalid):
		return userMessage(err)
	case err != nil:
		q.s.opt.Logger.Error("web: "+what, "ref", obs.Ref(), "err", err)
	default:
		q.notify()
	}
	time.Sleep(time.Until(start.Add(selfServiceFloor)))
	return ""
}

// count counts a request of key against lim. When key is over the limit
// it answers the request itself with refuse (given when to try again)
// and reports limited; err is the answer's error, or the store's.
func (q *request) count(ctx context.Context, lim *auth.Limiter, key string, refuse func(after time.Duration) error) (limited bool, err error) {
	ok, after, err := lim.Allow(ctx, key)
	if err != nil {
		return false, err
	}
	if !ok {
		return true, refuse(after)
	}
	return false, lim.Fail(ctx, key)
}

func (q *request) selfServiceRefused(msg string) error {
	q.status, q.flash, q.form = http.StatusUnprocessableEntity, &flash{Error: true, Text: msg}, q.r.PostForm
	return q.render("self-service", "Update your key", "", selfServiceData{})
}

func (q *request) selfServiceLimited(after time.Duration) error {
	q.tooMany(after, "That is more key updates than Sealpost takes in an hour. Please try again in "+auth.Wait(after)+".")
	return q.render("self-service", "Update your key", "", selfServiceData{})
}

// tooMany answers a public form refused by its rate limit: 429, when to
// try again (Retry-After), and text for the person.
func (q *request) tooMany(after time.Duration, text string) {
	q.w.Header().Set("Retry-After", fmt.Sprint(int(after.Seconds())+1))
	q.status, q.flash = http.StatusTooManyRequests, &flash{Error: true, Text: text}
}
