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
	if err := auth.CheckOrigin(q.r); err != nil {
		return err
	}
	ctx := q.r.Context()
	if limited, err := q.count(ctx, q.s.selfIP, auth.ClientIP(q.r), q.selfServiceLimited); limited || err != nil {
		return err
	}
	if err := q.readForm(); err != nil {
		return err
	}
	defer q.cleanup()
	f := q.r.PostForm
	list, email := strings.TrimSpace(f.Get("list")), strings.TrimSpace(f.Get("email"))
	addrKey := strings.ToLower(list) + "\x00" + strings.ToLower(email)
	if limited, err := q.count(ctx, q.s.selfAddr, addrKey, q.selfServiceLimited); limited || err != nil {
		return err
	}
	key, err := q.uploaded("key")
	if err != nil {
		return err
	}
	if list == "" || email == "" || len(key) == 0 {
		return q.selfServiceRefused("Give the list's address, your own email address and your new key file.")
	}
	err = q.svc.OfferOwnKey(ctx, list, email, key)
	switch {
	case errors.Is(err, admin.ErrInvalid):
		return q.selfServiceRefused(userMessage(err))
	case err != nil:
		// The same answer as for anyone: an error here would tell that
		// the address is a member. The log has it.
		q.s.opt.Logger.Error("web: member self-service", "ref", obs.Ref(), "err", err)
	default:
		q.notify()
	}
	// A member's offer does more work (a challenge is made, encrypted and
	// queued) than anyone else's: answer no sooner than the floor, so that
	// the time taken does not tell either.
	time.Sleep(time.Until(start.Add(selfServiceFloor)))
	q.flash = &flash{Text: selfServiceAnswer}
	return q.render("self-service", "Update your key", "", selfServiceData{Sent: true})
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
