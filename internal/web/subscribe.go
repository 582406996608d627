package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/auth"
)

// The public subscription page: anyone asks to join a list that takes
// subscriptions (with their key) or to leave any list, and confirms with
// the code the list sent them. Every answer to a request is the same
// whoever asks, for a list or address that exists or not, and takes no
// less than selfServiceFloor, so the page tells no one who is a member
// of what (admin.OfferSubscription).

// subscribeAnswer is the one answer to a request to join or leave.
var subscribeAnswer = map[string]string{
	"join": "If the list takes subscriptions and that address is not a member yet, a message to it is on its way, " +
		"encrypted to the key you gave. It holds a confirmation code: open its link or enter the code below.",
	"leave": "If that address is a member of the list, a message to it is on its way, encrypted to the key the list " +
		"holds for it. It holds a confirmation code: open its link or enter the code below.",
}

type subscribeData struct {
	List *admin.PublicList
	// Sent is the request just sent ("join" or "leave"), "" for none.
	Sent string
	// Code is the code to confirm, from the link; Done what confirming
	// it did.
	Code string
	Done *admin.Confirmation
}

// subscribeTitle is the title of the subscription pages.
const subscribeTitle = "Join or leave a list"

// subscribePage shows the forms, with what anyone may see of the list
// named by ?list= when it takes subscriptions: its key, to post to it.
func subscribePage(q *request) error {
	d := subscribeData{}
	if addr := strings.TrimSpace(q.r.URL.Query().Get("list")); addr != "" {
		l, err := q.svc.PublicListInfo(q.r.Context(), addr)
		if err != nil {
			return err
		}
		d.List = l
		q.form = map[string][]string{"list": {addr}}
	}
	return q.render("subscribe", subscribeTitle, "", d)
}

// subscribeKey sends the armored key of a list that takes subscriptions.
func subscribeKey(q *request) error {
	l, err := q.svc.PublicListInfo(q.r.Context(), q.r.URL.Query().Get("list"))
	if err != nil {
		return err
	}
	if l == nil {
		return notFound(q)
	}
	return q.download("application/pgp-keys", l.Address+".asc", l.PublicKey)
}

// subscribe takes a request to join (with the person's key, as a file
// or pasted) or to leave. Every request counts against the client's
// address and against the list and address it names.
func subscribe(q *request) error {
	start := time.Now()
	list, email, limited, err := q.listRequest(q.s.subIP, q.s.subAddr, q.subscribeLimited)
	if limited || err != nil {
		return err
	}
	defer q.cleanup()
	action := q.r.PostForm.Get("action")
	if action != "leave" {
		action = "join"
	}
	if list == "" || email == "" {
		return q.subscribeRefused("Give the list's address and your own email address.")
	}
	if action == "join" {
		var key []byte
		if key, err = q.keyInput(); err != nil {
			return q.subscribeRefused(userMessage(err))
		}
		err = q.svc.OfferSubscription(q.r.Context(), list, email, key)
	} else {
		err = q.svc.OfferUnsubscription(q.r.Context(), list, email)
	}
	if refused := q.alike(err, "subscription request", start); refused != "" {
		return q.subscribeRefused(refused)
	}
	q.flash = &flash{Text: subscribeAnswer[action]}
	return q.render("subscribe", subscribeTitle, "", subscribeData{Sent: action})
}

// confirmPage shows the code of a link, to confirm with a button: a GET
// changes nothing, so that a mail program or scanner opening the link
// does not confirm for the person.
func confirmPage(q *request) error {
	return q.render("subscribe", subscribeTitle, "", subscribeData{Code: strings.TrimSpace(q.r.URL.Query().Get("code"))})
}

// confirm answers a challenge with its code.
func confirm(q *request) error {
	if err := q.publicForm(); err != nil {
		return err
	}
	defer q.cleanup()
	ctx := q.r.Context()
	if limited, err := q.count(ctx, q.s.confirmIP, auth.ClientIP(q.r), q.subscribeLimited); limited || err != nil {
		return err
	}
	code := strings.TrimSpace(q.r.PostForm.Get("code"))
	if code == "" {
		return q.subscribeRefused("Enter the confirmation code from the message the list sent you.")
	}
	c, err := q.svc.ConfirmSubscription(ctx, code)
	if errors.Is(err, admin.ErrNotFound) || errors.Is(err, admin.ErrInvalid) {
		q.status, q.flash = http.StatusNotFound, &flash{Error: true, Text: userMessage(err)}
		return q.render("subscribe", subscribeTitle, "", subscribeData{Code: code})
	} else if err != nil {
		return err
	}
	q.notify()
	q.flash = &flash{Text: confirmedText(c)}
	return q.render("subscribe", subscribeTitle, "", subscribeData{Done: c})
}

func confirmedText(c *admin.Confirmation) string {
	switch {
	case c.Action == "unsubscribe":
		return c.Email + " has left " + c.List + "."
	case c.Awaiting:
		return "Thank you: your request to join " + c.List + " now waits for the list's owners. You will hear from the list when they have decided."
	}
	return "Welcome: " + c.Email + " is now a member of " + c.List + ". A welcome message with the list's key is on its way."
}

func (q *request) subscribeRefused(msg string) error {
	q.status, q.flash, q.form = http.StatusUnprocessableEntity, &flash{Error: true, Text: msg}, q.r.PostForm
	return q.render("subscribe", subscribeTitle, "", subscribeData{})
}

func (q *request) subscribeLimited(after time.Duration) error {
	q.tooMany(after, "That is more requests than Sealpost takes in an hour. Please try again in "+auth.Wait(after)+".")
	return q.render("subscribe", subscribeTitle, "", subscribeData{})
}
