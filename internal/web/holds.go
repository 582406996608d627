package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/obs"
	"github.com/sealpost/sealpost/internal/store"
)

// holdRoutes registers the moderation pages and actions: the held
// messages, one read, and the decisions on one or several.
func (s *server) holdRoutes(mux *http.ServeMux) {
	s.page(mux, "GET /lists/{list}/holds", holdsPage)
	s.action(mux, "POST /lists/{list}/holds", decideHolds, holdsPage)
	s.page(mux, "GET /lists/{list}/holds/{id}", holdPage)
	s.action(mux, "POST /lists/{list}/holds/{id}", holdAction(""), holdPage)
	for _, a := range []string{"release", "reject", "discard"} {
		s.action(mux, "POST /lists/{list}/holds/{id}/"+a, holdAction(a), holdPage)
	}
}

// holdData is the page of one held message, read.
type holdData struct {
	L    *store.List
	Post *admin.HeldPost
}

// holdPage shows a held message decrypted for the signed-in account, for
// this page only; the reading is in the audit log. Its texts are shown as
// text, escaped by the template, never as HTML; its attachments are
// named, not offered.
func holdPage(q *request) error {
	ctx := q.r.Context()
	id, err := q.pathID("id")
	if err != nil {
		return err
	}
	l, _, err := q.svc.ListAccess(ctx, q.list()) // a moderator's too
	if err != nil {
		return err
	}
	p, err := q.svc.ReadHold(ctx, l.Address, id)
	if err != nil {
		return err
	}
	return q.render("hold", fmt.Sprintf("Held message %d · %s", id, l.Address), "lists", holdData{L: l, Post: p})
}

// decideHolds releases, rejects or discards the held messages ticked on
// the holds page, each on its own.
func decideHolds(q *request) (*done, error) {
	var ids []int64
	for _, v := range q.r.PostForm["id"] {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, fmt.Errorf("%w: %q is not a held message", admin.ErrInvalid, v)
		}
		ids = append(ids, id)
	}
	list, action := q.list(), q.r.PostFormValue("action")
	rs, err := q.svc.DecideHolds(q.r.Context(), list, action, ids, q.r.PostFormValue("reason"))
	if err != nil {
		return nil, err
	}
	var did []string
	var failed []string
	for _, r := range rs {
		if r.Err != nil {
			failed = append(failed, fmt.Sprintf("#%d: %s", r.ID, q.holdError(r.ID, r.Err)))
			continue
		}
		did = append(did, "#"+strconv.FormatInt(r.ID, 10))
	}
	if len(did) > 0 {
		q.notify()
	}
	verb := map[string]string{admin.HoldRelease: "Released", admin.HoldReject: "Rejected", admin.HoldDiscard: "Discarded"}[action]
	msg := verb + " " + strings.Join(did, ", ") + "."
	if len(did) == 0 {
		msg = "Nothing was done."
	}
	if len(failed) > 0 {
		msg += " Not done: " + strings.Join(failed, "; ") + "."
	}
	return &done{listPath(list, "holds"), msg}, nil
}

// holdError is what the page says of a held message a decision could not
// be carried out on: the use case's reason, or for an unexpected error a
// reference that the log has with the cause.
func (q *request) holdError(id int64, err error) string {
	if refusal(err) || errors.Is(err, admin.ErrNotFound) || errors.Is(err, admin.ErrForbidden) {
		return strings.TrimSuffix(userMessage(err), ".")
	}
	ref := obs.Ref()
	q.s.opt.Logger.Error("web: held message decision", "ref", ref, "hold", id, "err", err)
	return "it could not be done; the server log has the details under reference " + ref
}
