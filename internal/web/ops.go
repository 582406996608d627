package web

import (
	"fmt"
	stdmime "mime"
	"net/url"
	"strconv"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/store"
)

// holdRow is a held message in the moderation table.
type holdRow struct {
	ID      int64
	At      time.Time
	Sender  string
	Size    int
	Reason  string
	From    string // the outer From, as claimed, unverified
	Subject string // the outer Subject, as claimed, unverified
}

type holdsData struct {
	L     *store.List
	Holds []holdRow
	Days  int
}

func holdsPage(q *request) error {
	ctx := q.r.Context()
	l, _, err := q.svc.ListAccess(ctx, q.list()) // a moderator's too
	if err != nil {
		return err
	}
	hs, err := q.svc.Holds(ctx, l.Address)
	if err != nil {
		return err
	}
	d := holdsData{L: l, Days: l.Settings.HoldDays}
	if d.Days <= 0 {
		d.Days = store.DefaultHoldDays
	}
	for i := range hs {
		h := &hs[i]
		hd := admin.HoldHeaders(h)
		d.Holds = append(d.Holds, holdRow{ID: h.ID, At: h.CreatedAt, Sender: h.EnvelopeFrom, Size: len(h.Raw), Reason: h.Reason,
			From: decodeHeader(hd["From"]), Subject: decodeHeader(hd["Subject"])})
	}
	return q.render("holds", "Held messages · "+l.Address, "lists", d)
}

// decodeHeader undoes RFC 2047 encoded words for display; a header it
// cannot decode is shown as it came.
func decodeHeader(v string) string {
	dec := new(stdmime.WordDecoder)
	if s, err := dec.DecodeHeader(v); err == nil {
		return s
	}
	return v
}

// pathID reads a numeric path wildcard.
func (q *request) pathID(name string) (int64, error) {
	n, err := strconv.ParseInt(q.r.PathValue(name), 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%w: %s %q is not a number", admin.ErrNotFound, name, q.r.PathValue(name))
	}
	return n, nil
}

// holdAction releases, rejects or discards a held message; action ""
// takes it from the form's "action" field.
func holdAction(action string) actionFunc {
	return func(q *request) (*done, error) {
		id, err := q.pathID("id")
		if err != nil {
			return nil, err
		}
		a := action
		if a == "" {
			a = q.r.PostFormValue("action")
		}
		ctx, list := q.r.Context(), q.list()
		var msg string
		switch a {
		case "release":
			err = q.svc.ReleaseHold(ctx, list, id)
			msg = fmt.Sprintf("Released held message %d: it goes out now.", id)
		case "reject":
			err = q.svc.RejectHold(ctx, list, id, q.r.PostFormValue("reason"))
			msg = fmt.Sprintf("Rejected held message %d; its sender is told, without any of its content.", id)
		case "discard":
			err = q.svc.DiscardHold(ctx, list, id)
			msg = fmt.Sprintf("Discarded held message %d; no one is told.", id)
		default:
			return nil, fmt.Errorf("%w: %q is not release, reject or discard", admin.ErrInvalid, a)
		}
		if err != nil {
			return nil, err
		}
		q.notify()
		return &done{listPath(list, "holds"), msg}, nil
	}
}

// queueData is the outbound queue page.
type queueData struct {
	Items       []admin.QueueItem
	Lists       []string
	List, State string
	Limit       int
}

// queueLimit is how many deliveries the queue page shows.
const queueLimit = 500

func queuePage(q *request) error {
	ctx := q.r.Context()
	qs := q.r.URL.Query()
	d := queueData{List: qs.Get("list"), State: qs.Get("state"), Limit: queueLimit}
	if q.form != nil && q.form.Has("state") { // a refused action keeps its filters
		d.List, d.State = q.form.Get("list"), q.form.Get("state")
	}
	states := []store.DeliveryState{store.Pending, store.Failed}
	switch d.State {
	case "":
	case string(store.Pending), string(store.Failed):
		states = []store.DeliveryState{store.DeliveryState(d.State)}
	default:
		return fmt.Errorf("%w: state %q is not pending or failed", admin.ErrInvalid, d.State)
	}
	items, err := q.svc.Queue(ctx, d.List, states, queueLimit)
	if err != nil {
		return err
	}
	d.Items = items
	ls, err := q.svc.Lists(ctx)
	if err != nil {
		return err
	}
	for _, l := range ls {
		d.Lists = append(d.Lists, l.Address)
	}
	return q.render("queue", "Outbound queue", "queue", d)
}

// queueReturn is the queue page with the filters the form carried.
func queueReturn(q *request) string {
	v := url.Values{}
	for _, k := range []string{"list", "state"} {
		if s := q.r.PostFormValue(k); s != "" {
			v.Set(k, s)
		}
	}
	if len(v) == 0 {
		return "/queue"
	}
	return "/queue?" + v.Encode()
}

func retryDelivery(q *request) (*done, error) {
	id, err := q.pathID("id")
	if err != nil {
		return nil, err
	}
	if err := q.svc.RetryDelivery(q.r.Context(), id); err != nil {
		return nil, err
	}
	q.notify()
	return &done{queueReturn(q), fmt.Sprintf("Delivery %d is due now: it is tried again in a moment.", id)}, nil
}

func dropDelivery(q *request) (*done, error) {
	id, err := q.pathID("id")
	if err != nil {
		return nil, err
	}
	if err := q.svc.DropDelivery(q.r.Context(), id); err != nil {
		return nil, err
	}
	return &done{queueReturn(q), fmt.Sprintf("Dropped delivery %d: it will not be tried again.", id)}, nil
}

// auditData is the audit log page.
type auditData struct {
	Entries []store.AuditEntry
	Lists   []string
	List    string
	Older   int64 // the before= of the next page, 0 when there is none
	Newest  bool
}

// auditPageSize is how many entries the audit page shows at once.
const auditPageSize = 100

func auditPage(q *request) error {
	ctx := q.r.Context()
	qs := q.r.URL.Query()
	d := auditData{List: qs.Get("list")}
	var before int64
	if b := qs.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("%w: before=%q is not an entry number", admin.ErrInvalid, b)
		}
		before = n
	}
	d.Newest = before == 0
	es, err := q.svc.Audit(ctx, d.List, before, auditPageSize)
	if err != nil {
		return err
	}
	d.Entries = es
	if len(es) == auditPageSize {
		d.Older = es[len(es)-1].ID
	}
	ls, err := q.svc.Lists(ctx)
	if err != nil {
		return err
	}
	for _, l := range ls {
		d.Lists = append(d.Lists, l.Address)
	}
	return q.render("audit", "Audit log", "audit", d)
}
