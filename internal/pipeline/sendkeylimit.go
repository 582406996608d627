package pipeline

import (
	"cmp"
	"context"
	"time"

	"github.com/sealpost/sealpost/internal/store"
)

// LIST-sendkey answers anyone with the list's key, in clear, at the
// envelope sender, which anyone can forge: without limits it would mail
// the key to any address as often as asked, a backscatter generator. So
// the answers are limited per recipient address (over all lists), per list
// and in all, within a sliding window.
//
// The count is of the answers queued in the store, so the limits hold
// across restarts and across processes (under an MTA's pipe, `sealpost
// process` runs once per message, where a count in memory would do
// nothing). The count and the commit of an answer are not one
// transaction: requests processed at the same moment may each pass a
// limit by one.
//
// Past a limit the request is taken (250, exit 0) and dropped with a log
// line. Refusing it would not help: the sender's MTA would bounce the
// refusal to the forged address.

// SendKeyLimits bound the answers to LIST-sendkey within Window. A zero
// field takes its default.
type SendKeyLimits struct {
	Window    time.Duration // default 1 hour
	PerSender int           // answers to one address, over all lists; default 3
	PerList   int           // answers of one list; default 200
	Total     int           // answers of all lists together; default 500
}

func (l SendKeyLimits) withDefaults() SendKeyLimits {
	return SendKeyLimits{
		Window:    cmp.Or(l.Window, time.Hour),
		PerSender: cmp.Or(l.PerSender, 3),
		PerList:   cmp.Or(l.PerList, 200),
		Total:     cmp.Or(l.Total, 500),
	}
}

// sendKeyLimit returns the limit that an answer to to would pass, or ""
// when it may be sent.
func (p *Pipeline) sendKeyLimit(ctx context.Context, list *store.List, to string) (string, error) {
	lim := p.opt.SendKey.withDefaults()
	total, onList, toRcpt, err := p.store.CountDeliveries(ctx, store.KindSendKey, list.ID, to, p.opt.Now().Add(-lim.Window))
	if err != nil {
		return "", err
	}
	switch {
	case toRcpt >= lim.PerSender:
		return "per sender", nil
	case onList >= lim.PerList:
		return "per list", nil
	case total >= lim.Total:
		return "in all", nil
	}
	return "", nil
}
