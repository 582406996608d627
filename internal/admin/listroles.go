package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/store"
)

// Several people per list: besides its owner address (the owner option),
// a list names further owners, who manage everything of it as the owner
// does and get the owner's notices, and moderators, who decide on its
// held messages and do nothing else. Each is the address of an account
// of the UI and the API (role owner; an admin may do everything anyway).

// ListRoles returns the further owners and the moderators of the list,
// owners first. Its owners may see them.
func (s *Service) ListRoles(ctx context.Context, list string) ([]store.ListRole, error) {
	l, err := s.List(ctx, list)
	if err != nil {
		return nil, err
	}
	return s.st.ListRoles(ctx, l.ID)
}

// AddListRole makes email an owner (store.ListOwner) or a moderator
// (store.ListModerator) of the list, replacing any role it had there. Its
// owners may.
func (s *Service) AddListRole(ctx context.Context, list, email, role string) error {
	l, err := s.List(ctx, list)
	if err != nil {
		return err
	}
	if role != store.ListOwner && role != store.ListModerator {
		return fmt.Errorf("%w: a list's role is owner or moderator, not %q", ErrInvalid, role)
	}
	addr, err := mail.Normalize(email)
	if err != nil {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	if strings.EqualFold(addr, l.Owner) {
		return fmt.Errorf("%w: %s is the list's owner address already", ErrInvalid, addr)
	}
	if err := s.st.SetListRole(ctx, l.ID, addr, role, s.now()); err != nil {
		return err
	}
	return s.audit(ctx, "list."+role+".add", l.Address, addr, "")
}

// RemoveListRole takes email's role on the list away. Its owners may
// (an owner may step down, too).
func (s *Service) RemoveListRole(ctx context.Context, list, email string) error {
	l, err := s.List(ctx, list)
	if err != nil {
		return err
	}
	addr, err := mail.Normalize(email)
	if err != nil {
		return fmt.Errorf("%w: %q is not an email address", ErrInvalid, email)
	}
	roles, err := s.st.ListRoles(ctx, l.ID)
	if err != nil {
		return err
	}
	role := ""
	for _, r := range roles {
		if r.Email == addr {
			role = r.Role
		}
	}
	if err := s.st.RemoveListRole(ctx, l.ID, addr); errors.Is(err, store.ErrNotFound) || role == "" {
		return fmt.Errorf("%w: %s is neither an owner nor a moderator of %s", ErrNotFound, addr, l.Address)
	} else if err != nil {
		return err
	}
	return s.audit(ctx, "list."+role+".remove", l.Address, addr, "")
}
