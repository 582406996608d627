package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/sealpost/sealpost/internal/store"
)

// Ways a change reaches Sealpost, for the audit log.
const (
	ViaCLI  = "cli"
	ViaAPI  = "api"
	ViaWeb  = "web"
	ViaMail = "mail"
)

// Actor is who asks for a use case: the operator at the command line, an
// account signed in to the web UI, an API token, or a list admin by mail.
type Actor struct {
	// Email is the account's address; "" for the operator.
	Email string
	// Role is store.RoleAdmin or store.RoleOwner.
	Role string
	// List limits the actor to one list (an API token made for one list,
	// a list admin's mail command); "" for no limit.
	List string
	// Via is how the request came: ViaCLI, ViaAPI, ViaWeb or ViaMail.
	Via string
	// AccountID is the account's ID; 0 for the operator.
	AccountID int64
}

// Operator is the person at the command line: they can read the data
// directory and the master key, so they may do everything.
var Operator = Actor{Role: store.RoleAdmin, Via: ViaCLI}

// Name is how the audit log names the actor.
func (a Actor) Name() string {
	if a.Email == "" {
		return "operator"
	}
	return a.Email
}

// IsAdmin reports whether the actor may do everything on every list.
func (a Actor) IsAdmin() bool { return a.Role == store.RoleAdmin && a.List == "" }

// ErrForbidden is returned when the actor may not do what they asked.
// For a list they may not manage, it is returned whether or not the list
// exists, so that it tells nothing about other people's lists.
var ErrForbidden = errors.New("forbidden")

// As returns the service acting for a: every use case then checks that a
// may do it, and the audit log names a. The service New returns acts for
// the Operator.
func (s *Service) As(a Actor) *Service {
	c := *s
	c.actor = a
	return &c
}

// Actor returns who the service acts for.
func (s *Service) Actor() Actor { return s.actor }

// mayManage reports whether the actor may see and change the list at
// addr (normalised), whose owner is owner ("" when unknown).
func (s *Service) mayManage(addr, owner string) bool {
	a := s.actor
	if a.List != "" && !strings.EqualFold(a.List, addr) {
		return false
	}
	switch a.Role {
	case store.RoleAdmin:
		return true
	case store.RoleOwner:
		return owner != "" && strings.EqualFold(owner, a.Email)
	}
	return false
}

// requireUnlimited refuses an actor limited to one list, whatever their
// role. DESIGN §4.10: authority is the narrowest that was granted, so a
// token made for one list acts on that list only, never on accounts (its
// own included: password, role, tokens), the keyring or anything else
// that is not one list's. This is the one rule for that: a use case on
// one list is limited by mayManage (through List, Lists or visible);
// every other use case calls requireUnlimited, directly or through
// requireAdmin or account.
func (s *Service) requireUnlimited(what string) error {
	if s.actor.List == "" {
		return nil
	}
	return fmt.Errorf("%w: you may act on %s only, so you may not %s", ErrForbidden, s.actor.List, what)
}

// requireAdmin refuses anyone but an admin without a list limit: for what
// is not one list's (creating lists, the keyring, accounts).
func (s *Service) requireAdmin(what string) error {
	if err := s.requireUnlimited(what); err != nil {
		return err
	}
	if s.actor.IsAdmin() {
		return nil
	}
	return fmt.Errorf("%w: only an admin may %s", ErrForbidden, what)
}

// CheckAdmin refuses (ErrForbidden) anyone but an admin without a list
// limit, saying they may not do what; for an interface to refuse before
// it reads a large request.
func (s *Service) CheckAdmin(what string) error { return s.requireAdmin(what) }

// roleOn returns the actor's role on list l: store.ListOwner (an admin,
// the owner address, or an owner the list names), store.ListModerator,
// or "" for none.
func (s *Service) roleOn(ctx context.Context, l *store.List) (string, error) {
	if s.mayManage(l.Address, l.Owner) {
		return store.ListOwner, nil
	}
	a := s.actor
	if a.Email == "" || a.Role != store.RoleOwner || (a.List != "" && !strings.EqualFold(a.List, l.Address)) {
		return "", nil
	}
	roles, err := s.st.RolesOf(ctx, strings.ToLower(a.Email))
	if err != nil {
		return "", err
	}
	return roles[l.ID], nil
}

// visible returns the lists among ls on which the actor has role (or
// store.ListOwner, when role is a moderator's: an owner moderates too).
func (s *Service) visible(ctx context.Context, ls []store.List, role string) ([]store.List, error) {
	var roles map[int64]string
	if a := s.actor; a.Email != "" && a.Role == store.RoleOwner {
		var err error
		if roles, err = s.st.RolesOf(ctx, strings.ToLower(a.Email)); err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(ls, func(l store.List) bool {
		r := roles[l.ID]
		if s.mayManage(l.Address, l.Owner) {
			r = store.ListOwner
		} else if s.actor.List != "" && !strings.EqualFold(s.actor.List, l.Address) {
			r = ""
		}
		return !(r == role || (r == store.ListOwner && role == store.ListModerator))
	}), nil
}

// forbiddenList is the error for a list the actor may not manage.
func forbiddenList(addr string) error {
	return fmt.Errorf("%w: you may not manage %s", ErrForbidden, addr)
}

// audit records a change the actor made. list is the list's address, or
// "" for a change that is not a list's.
func (s *Service) audit(ctx context.Context, action, list, target, detail string) error {
	e := &store.AuditEntry{At: s.now(), Actor: s.actor.Name(), Via: s.actor.Via, Action: action,
		List: list, Target: target, Detail: detail}
	if e.Via == "" {
		e.Via = ViaCLI
	}
	if err := s.st.AddAudit(ctx, e); err != nil {
		return fmt.Errorf("the change was made, but not recorded in the audit log: %w", err)
	}
	return nil
}

// Audit returns the audit log, newest first: all of it for an admin, the
// entries of their own lists for anyone else. list, when set, selects
// one list's entries.
func (s *Service) Audit(ctx context.Context, list string, before int64, limit int) ([]store.AuditEntry, error) {
	q := store.AuditQuery{Before: before, Limit: min(max(limit, 1), 1000)}
	if list != "" {
		l, err := s.List(ctx, list)
		if err != nil {
			return nil, err
		}
		q.Lists = []string{l.Address}
	} else if !s.actor.IsAdmin() {
		ls, err := s.Lists(ctx)
		if err != nil {
			return nil, err
		}
		q.Lists = []string{}
		for _, l := range ls {
			q.Lists = append(q.Lists, l.Address)
		}
	}
	return s.st.Audit(ctx, q)
}
