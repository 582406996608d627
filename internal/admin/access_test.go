package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

const (
	limitedList = "a@lists.example.org" // alice's; the limited actors' list
	otherList   = "b@lists.example.org" // bob's
)

// limitedService is a store with an admin and two owners, alice's list
// A and bob's list B with a delivery queued, and the service.
func limitedService(t *testing.T) *admin.Service {
	t.Helper()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := keyring.NewSealer(bytes.Repeat([]byte{3}, keyring.MasterKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := admin.New(db, sealer, admin.Options{})
	for _, u := range []struct{ email, role string }{
		{"admin@example.org", store.RoleAdmin}, {"alice@example.org", store.RoleOwner}, {"bob@example.org", store.RoleOwner},
	} {
		if _, err := s.AddUser(ctx, u.email, u.role, "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
		// A token of each account, so that token use cases have one to find.
		if _, _, err := s.CreateToken(ctx, u.email, "everything", ""); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []struct{ addr, owner string }{{limitedList, "alice@example.org"}, {otherList, "bob@example.org"}} {
		if _, err := s.CreateList(ctx, l.addr, l.owner, "", pgp.Ed25519); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := s.List(ctx, otherList)
	if err := db.Commit(ctx, store.Outcome{ListID: b.ID, Deliveries: []store.Delivery{
		{Ref: "r1", ListID: b.ID, Kind: store.KindPost, From: "b-bounce@lists.example.org", To: "carol@example.org", Data: []byte("ciphertext")},
	}}); err != nil {
		t.Fatal(err)
	}
	return s
}

// limitedActor returns the actor of a real API token of account limited
// to list A.
func limitedActor(t *testing.T, s *admin.Service, account string) admin.Actor {
	t.Helper()
	ctx := context.Background()
	secret, _, err := s.CreateToken(ctx, account, "for a", limitedList)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.TokenActor(ctx, secret, admin.ViaAPI)
	if err != nil || a.List != limitedList || a.Email != account {
		t.Fatalf("TokenActor = %+v, %v", a, err)
	}
	return a
}

// limitedExempt are the Service's exported methods that may answer an
// actor limited to a list with something other than ErrForbidden, and
// why. Every other method is a use case that is not that list's (it
// names another list, an account or global state) and must refuse.
var limitedExempt = map[string]string{
	"As":                   "makes the service act for another actor",
	"Actor":                "says who the service acts for",
	"Now":                  "the service's clock",
	"NewPassword":          "makes a random password and touches nothing",
	"Login":                "authentication: finds who acts, acts for nobody",
	"SignIn":               "authentication: finds who acts, acts for nobody",
	"VerifyCode":           "authentication (the second factor): finds who acts, acts for nobody",
	"SignInVerified":       "authentication (single sign-on): finds who acts, acts for nobody",
	"AccountActor":         "authentication: finds who acts, acts for nobody",
	"TokenActor":           "authentication: finds who acts, acts for nobody",
	"CheckSubmitPassword":  "authentication of a gateway's helpdesk: finds who acts, acts for nobody",
	"OfferOwnKey":          "a member's self-service: needs no account and acts for the member's own address only, by proof of possession",
	"OfferSubscription":    "the public subscription page: needs no account; acts only by proof of possession, answering alike for every list",
	"OfferUnsubscription":  "the public subscription page: needs no account; acts only by proof of possession, answering alike for every list",
	"ConfirmSubscription":  "the public subscription page: the code, sent encrypted to the person's key, is the authority",
	"AnswerSubscription":   "an answer by mail to a subscription challenge: the code, sent encrypted to the person's key, is the authority",
	"PublicListInfo":       "the public subscription page: what anyone may see of a list that takes subscriptions",
	"RequestPasswordReset": "a public request: needs no account, acts for nobody, and sends only to the account's own address",
	"CheckPasswordReset":   "a public check of a reset link: needs no account, acts for nobody, changes nothing",
	"ResetPassword":        "a reset link: acts for the account whose link it is, by proof of its mailbox",
	"KeyInfo":              "works on a list the caller holds, which List gives only to who may manage it",
	"OpenListKey":          "works on a list the caller holds, which List gives only to who may manage it",
	"OpenSMIMEIdentity":    "works on a list the caller holds, which List gives only to who may manage it",
	"RunCommands":          "a list admin's mail command: acts for the mail's signer under the list's own rules",
	"Lists":                "a view filtered to the lists the actor may manage (checked by limitedViews)",
	"Moderated":            "a view filtered to the lists the actor may moderate (checked by limitedViews)",
	"QueueCounts":          "a view filtered to the lists the actor may manage (checked by limitedViews)",
	"ListCounts":           "a view filtered to the lists the actor may manage (checked by limitedViews)",
}

var (
	contextType = reflect.TypeFor[context.Context]()
	errorType   = reflect.TypeFor[error]()
)

// limitedArgs makes arguments for a method: every string is str, every
// number 1, everything else its zero value.
func limitedArgs(ft reflect.Type, str string) []reflect.Value {
	args := make([]reflect.Value, ft.NumIn())
	for i := range args {
		switch pt := ft.In(i); {
		case pt == contextType:
			args[i] = reflect.ValueOf(context.Background())
		case pt.Kind() == reflect.String:
			args[i] = reflect.ValueOf(str).Convert(pt)
		case reflect.Zero(pt).CanInt():
			args[i] = reflect.ValueOf(1).Convert(pt)
		default:
			args[i] = reflect.Zero(pt)
		}
	}
	return args
}

// callLimited calls method m with args and returns its error result, or
// the panic it raised as an error.
func callLimited(m reflect.Value, args []reflect.Value) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panicked: %v", p)
		}
	}()
	out := m.Call(args)
	err, _ = out[len(out)-1].Interface().(error)
	return err
}

// TestLimitedActor: an actor limited to list A, an admin's or an
// owner's, gets ErrForbidden from every use case that is not list A's
// (DESIGN §4.10). Every exported method of the Service is called, found
// by reflection, so a new use case is covered without being named here:
// once with every string argument naming list B, once naming the
// actor's own account (its password, its tokens). Only limitedExempt may
// answer otherwise. Then: the views it may read show list A only, and it
// acts on list A as A's owner would, an admin's actor no stronger.
func TestLimitedActor(t *testing.T) {
	s := limitedService(t)
	st := reflect.TypeOf(s)
	for _, account := range []string{"admin@example.org", "alice@example.org"} {
		limited := s.As(limitedActor(t, s, account))
		lv := reflect.ValueOf(limited)
		for i := range st.NumMethod() {
			name := st.Method(i).Name
			if limitedExempt[name] != "" {
				continue
			}
			m := lv.Method(i)
			ft := m.Type()
			if ft.NumOut() == 0 || ft.Out(ft.NumOut()-1) != errorType {
				t.Errorf("%s returns no error, so it cannot refuse a limited actor; refuse, or add it to limitedExempt with the reason", name)
				continue
			}
			for _, str := range []string{otherList, account} {
				err := callLimited(m, limitedArgs(ft, str))
				if !errors.Is(err, admin.ErrForbidden) {
					t.Errorf("%s's token limited to %s: %s(%q...) = %v, want ErrForbidden (or add it to limitedExempt with the reason)",
						account, limitedList, name, str, err)
				}
			}
		}
	}
	for name := range limitedExempt {
		if _, ok := st.MethodByName(name); !ok {
			t.Errorf("limitedExempt names %s, which is not a method of the Service", name)
		}
	}
	limitedViews(t, s)
}

// limitedViews checks that the views a limited actor may read show its
// list only, and that it acts on its list as the list's owner would, an
// admin's actor no stronger than an owner's.
func limitedViews(t *testing.T, s *admin.Service) {
	ctx := context.Background()
	for _, account := range []string{"admin@example.org", "alice@example.org"} {
		limited := s.As(limitedActor(t, s, account))
		if ls, err := limited.Lists(ctx); err != nil || len(ls) != 1 || ls[0].Address != limitedList {
			t.Errorf("%s: Lists = %v, %v", account, ls, err)
		}
		if ls, err := limited.Moderated(ctx); err != nil || len(ls) != 1 || ls[0].Address != limitedList {
			t.Errorf("%s: Moderated = %v, %v", account, ls, err)
		}
		if cs, err := limited.ListCounts(ctx); err != nil || len(cs) != 1 {
			t.Errorf("%s: ListCounts = %v, %v", account, cs, err)
		}
		if cs, err := limited.QueueCounts(ctx); err != nil || cs[store.Pending] != 0 {
			t.Errorf("%s: QueueCounts = %v, %v; B's delivery counted", account, cs, err)
		}
		if q, err := limited.Queue(ctx, "", nil, 100); err != nil || len(q) != 0 {
			t.Errorf("%s: Queue = %+v, %v; want none of B's", account, q, err)
		}
		es, err := limited.Audit(ctx, "", 0, 1000)
		if err != nil || len(es) == 0 {
			t.Errorf("%s: Audit = %v, %v; want A's creation at least", account, es, err)
		}
		for _, e := range es {
			if e.List != limitedList {
				t.Errorf("%s: Audit shows %+v", account, e)
			}
		}
		if _, err := limited.SetOptions(ctx, limitedList, []string{"name=Team A"}); err != nil {
			t.Errorf("%s: SetOptions on A: %v", account, err)
		}
		// An admin-only option is no more the admin's token's than the
		// owner's (refused as an invalid option, as for an owner).
		if _, err := limited.SetOptions(ctx, limitedList, []string{"owner=" + account}); !errors.Is(err, admin.ErrInvalid) {
			t.Errorf("%s: set A's owner: %v, want it refused", account, err)
		}
		if err := limited.DeleteList(ctx, limitedList); !errors.Is(err, admin.ErrForbidden) {
			t.Errorf("%s: DeleteList A: %v, want ErrForbidden", account, err)
		}
	}
	if l, err := s.List(ctx, limitedList); err != nil || l.Owner != "alice@example.org" {
		t.Errorf("A after the limited actors: %+v, %v", l, err)
	}
	us, _ := s.Users(ctx)
	if !slices.EqualFunc(us, []string{"admin@example.org", "alice@example.org", "bob@example.org"}, func(a store.Account, e string) bool { return a.Email == e }) {
		t.Errorf("accounts after the limited actors: %+v", us)
	}
}
