package admin

import (
	"context"

	"github.com/sealpost/sealpost/internal/store"
)

// welcome writes the welcome message to m, who was just added to l, as
// opt and the list's welcome option say. It returns the deliveries for
// the caller to commit (none when no welcome is due or it could not be
// written) and what happened, for the audit entry.
func (s *Service) welcome(ctx context.Context, l *store.List, m *store.Member, opt MemberOptions) ([]store.Delivery, string) {
	switch {
	case opt.NoWelcome:
		return nil, "no welcome (skipped for this member)"
	case l.Settings.NoWelcome:
		return nil, "no welcome (the list's welcome option is off)"
	case s.flow == nil:
		return nil, "no welcome (no message flow to send it)"
	}
	ref, err := newRef(s.rand)
	if err != nil {
		return nil, s.welcomeFailed(l, m.Email, err)
	}
	ds, err := s.flow.Welcome(ctx, l, m.Email, m.Keys[0], ref)
	if err != nil {
		return nil, s.welcomeFailed(l, m.Email, err)
	}
	return ds, "welcome sent"
}

// welcomeFailed logs why the welcome to email could not be queued and
// returns the note for the audit entry. The member stays: the welcome
// is a courtesy, not a condition of membership.
func (s *Service) welcomeFailed(l *store.List, email string, err error) string {
	s.log.Warn("welcome message not sent", "list", l.Address, "member", email, "err", err)
	return "welcome not sent: " + err.Error()
}
