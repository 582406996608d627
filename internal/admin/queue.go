package admin

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// QueueItem is one delivery of the outbound queue, without its data.
type QueueItem struct {
	store.Delivery
	List string // the list's address
}

// Queue returns the outbound queue's deliveries in states (all when
// empty), oldest first: of one list when list is set, else of every list
// the actor may manage.
func (s *Service) Queue(ctx context.Context, list string, states []store.DeliveryState, limit int) ([]QueueItem, error) {
	lists, err := s.scope(ctx, list)
	if err != nil {
		return nil, err
	}
	q := store.DeliveryQuery{States: states, Limit: min(max(limit, 1), 1000)}
	if list != "" || !s.actor.IsAdmin() {
		q.ListIDs = listIDs(lists)
	}
	ds, err := s.st.Queue(ctx, q)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, l := range lists {
		names[l.ID] = l.Address
	}
	out := make([]QueueItem, 0, len(ds))
	for _, d := range ds {
		out = append(out, QueueItem{Delivery: d, List: names[d.ListID]})
	}
	return out, nil
}

// QueueCounts returns how many deliveries are in each state, of the
// lists the actor may manage.
func (s *Service) QueueCounts(ctx context.Context) (map[store.DeliveryState]int, error) {
	if s.actor.IsAdmin() {
		return s.st.QueueCounts(ctx, nil)
	}
	lists, err := s.Lists(ctx)
	if err != nil {
		return nil, err
	}
	return s.st.QueueCounts(ctx, listIDs(lists))
}

// ListCounts returns the member and held-message counts of the lists
// the actor may manage, by address.
func (s *Service) ListCounts(ctx context.Context) (map[string]store.ListCounts, error) {
	lists, err := s.Lists(ctx)
	if err != nil {
		return nil, err
	}
	all, err := s.st.ListCounts(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]store.ListCounts, len(lists))
	for _, l := range lists {
		out[l.Address] = all[l.ID]
	}
	return out, nil
}

// scope returns the one list named, or every list the actor may manage.
func (s *Service) scope(ctx context.Context, list string) ([]store.List, error) {
	if list == "" {
		return s.Lists(ctx)
	}
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	return []store.List{*l}, nil
}

func listIDs(ls []store.List) []int64 {
	ids := make([]int64, 0, len(ls))
	for _, l := range ls {
		ids = append(ids, l.ID)
	}
	return ids
}

// delivery returns a delivery of a list the actor may manage.
func (s *Service) delivery(ctx context.Context, id int64) (*store.Delivery, *store.List, error) {
	d, err := s.st.Delivery(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, fmt.Errorf("%w: the queue has no delivery %d", ErrNotFound, id)
	} else if err != nil {
		return nil, nil, err
	}
	l, err := s.st.ListByID(ctx, d.ListID)
	if err != nil {
		return nil, nil, err
	}
	if role, err := s.roleOn(ctx, l); err != nil {
		return nil, nil, err
	} else if role != store.ListOwner {
		return nil, nil, forbiddenList(l.Address)
	}
	return d, l, nil
}

func deliveryTarget(id int64) string { return "delivery " + strconv.FormatInt(id, 10) }

// QueueDueNow makes every delivery that waits for a later attempt due
// now, on every list (after the relay came back, say), and returns how
// many. Failed deliveries stay failed: RetryDelivery retries one.
func (s *Service) QueueDueNow(ctx context.Context) (int64, error) {
	if err := s.requireAdmin("flush the queue of every list"); err != nil {
		return 0, err
	}
	n, err := s.st.DueNow(ctx, s.now())
	if err != nil || n == 0 {
		return n, err
	}
	return n, s.audit(ctx, "queue.flush", "", "the queue", fmt.Sprintf("%d waiting deliveries due now", n))
}

// RetryDelivery makes a waiting or failed delivery due now: one more
// attempt (a failed one that fails for good again stays failed). A
// failed delivery whose message was removed ([queue] failed_keep_days)
// cannot be retried.
func (s *Service) RetryDelivery(ctx context.Context, id int64) error {
	d, l, err := s.delivery(ctx, id)
	if err != nil {
		return err
	}
	if err := notRetryable(d); err != nil {
		return err
	}
	if err := s.st.RetryDelivery(ctx, id, s.now()); errors.Is(err, store.ErrNotFound) {
		// It changed meanwhile: sent, dropped or its message removed.
		if d, _, err = s.delivery(ctx, id); err != nil {
			return err
		}
		return cmp.Or(notRetryable(d), fmt.Errorf("%w: delivery %d cannot be retried now; try again", ErrInvalid, id))
	} else if err != nil {
		return err
	}
	return s.audit(ctx, "queue.retry", l.Address, deliveryTarget(id), "to "+d.To)
}

// notRetryable says why d cannot be retried, or returns nil.
func notRetryable(d *store.Delivery) error {
	switch {
	case d.State == store.Sent:
		return fmt.Errorf("%w: delivery %d was sent already", ErrInvalid, d.ID)
	case !d.Purged.IsZero():
		return fmt.Errorf("%w: delivery %d failed on %s and its message was removed on %s ([queue] failed_keep_days): "+
			"it cannot be sent again", ErrInvalid, d.ID, d.UpdatedAt.Format(time.DateOnly), d.Purged.Format(time.DateOnly))
	}
	return nil
}

// DropDelivery removes a delivery that was not sent: it will not be
// tried again.
func (s *Service) DropDelivery(ctx context.Context, id int64) error {
	d, l, err := s.delivery(ctx, id)
	if err != nil {
		return err
	}
	switch err := s.st.DropDelivery(ctx, id, s.now()); {
	case errors.Is(err, store.ErrBusy):
		return fmt.Errorf("%w: delivery %d is being attempted right now; try again in a minute", ErrInvalid, id)
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: delivery %d was sent already", ErrInvalid, id)
	case err != nil:
		return err
	}
	return s.audit(ctx, "queue.drop", l.Address, deliveryTarget(id), "to "+d.To)
}
