package admin_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/store"
)

// TestOptionTable: every option of a list and of a gateway has a type,
// a help sentence and a group, and its value on a new list fits its
// type; the layout names no option that does not exist.
func TestOptionTable(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	list, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	gw, err := s.CreateGateway(ctx, "help@example.org", "", "", pgp.Ed25519, "smtp://helpdesk.internal:25")
	if err != nil {
		t.Fatal(err)
	}
	groups := map[string]bool{}
	for _, g := range admin.OptionGroups() {
		groups[g.Name] = true
	}
	known := map[string]bool{}
	for _, l := range []*store.List{list, gw} {
		for _, o := range admin.OptionsFor(l) {
			known[o.Name] = true
			if o.Help == "" {
				t.Errorf("%s: no help sentence", o.Name)
			}
			if !groups[o.Group] {
				t.Errorf("%s: group %q is not one of OptionGroups", o.Name, o.Group)
			}
			checkValue(t, o, o.Value(l))
		}
	}
	for _, g := range admin.OptionGroups() {
		for _, name := range g.Options {
			if !known[name] {
				t.Errorf("group %s names %q, which no list or gateway has", g.Name, name)
			}
		}
	}
	want := []string{"general", "receiving", "sending", "copies", "moderation", "bounces", "keys"}
	var got []string
	for _, sec := range admin.Grouped(admin.ListOptions()) {
		got = append(got, sec.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("groups of a list: %v, want %v", got, want)
	}
}

// checkValue fails t when v does not fit o's type.
func checkValue(t *testing.T, o admin.Option, v string) {
	t.Helper()
	switch o.Type {
	case admin.TypeBool:
		if v != "true" && v != "false" {
			t.Errorf("%s: bool value %q", o.Name, v)
		}
	case admin.TypeChoice:
		if len(o.Choices) < 2 || !slices.Contains(o.Choices, v) {
			t.Errorf("%s: value %q not among the choices %v", o.Name, v, o.Choices)
		}
	case admin.TypeNumber:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < o.Min || o.Max > 0 && n > o.Max {
			t.Errorf("%s: number %q outside %d..%d", o.Name, v, o.Min, o.Max)
		}
	case admin.TypeText, admin.TypeAddress, admin.TypeList:
	default:
		t.Errorf("%s: no type (%q)", o.Name, o.Type)
	}
}

// TestSetOptionsTyped: a number outside its bounds is refused with the
// option named, with every other problem of the same call, and nothing
// is saved.
func TestSetOptionsTyped(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	_, err := s.SetOptions(ctx, "team@lists.example.org", []string{"subject_prefix=[team]", "hold_days=366",
		"bounce_days=ten", "on_unsigned=maybe"})
	var oe admin.OptionErrors
	if !errors.As(err, &oe) || !errors.Is(err, admin.ErrInvalid) {
		t.Fatalf("SetOptions = %v, want OptionErrors", err)
	}
	by := oe.ByName()
	for name, say := range map[string]string{"hold_days": "more than 365", "bounce_days": "not a whole number",
		"on_unsigned": "not one of"} {
		if !strings.Contains(by[name], say) {
			t.Errorf("%s: %q, want %q", name, by[name], say)
		}
	}
	if _, ok := by["subject_prefix"]; ok {
		t.Error("a valid assignment is reported")
	}
	l, _ := s.List(ctx, "team@lists.example.org")
	if l.Settings.SubjectPrefix != "" || l.Settings.HoldDays != 0 {
		t.Errorf("a refused call saved %+v", l.Settings)
	}
	if _, err := s.SetOptions(ctx, "team@lists.example.org", []string{"hold_days=365", "max_message_size=0"}); err != nil {
		t.Errorf("the bounds themselves: %v", err)
	}
}

// TestSetMemberAdmin: a member is made a list admin and back, and a
// value other than on or off is refused.
func TestSetMemberAdmin(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	bob, _ := pgp.GenerateKey("Bob", "bob@example.org", pgp.Ed25519, pgp.Options{})
	if _, _, err := s.AddMember(ctx, "team@lists.example.org", "bob@example.org", bob.Armored(), false); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"on", "off", "on"} {
		if err := s.SetMemberAdmin(ctx, "team@lists.example.org", "Bob@Example.org", v); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Member(ctx, "team@lists.example.org", "bob@example.org"); m.Admin != (v == "on") {
			t.Errorf("admin=%s: Admin %v", v, m.Admin)
		}
	}
	if err := s.SetMemberAdmin(ctx, "team@lists.example.org", "bob@example.org", "yes"); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("admin=yes: %v", err)
	}
	if err := s.SetMemberAdmin(ctx, "team@lists.example.org", "carol@example.org", "on"); !errors.Is(err, admin.ErrNotFound) {
		t.Errorf("a non-member: %v", err)
	}
}

// TestOptionChoicesAreTheSetters: every value the table offers for a
// choice is one `list set` takes, and a value it does not offer is
// refused, so the form's selects and the API's choices cannot drift
// from what saving accepts.
func TestOptionChoicesAreTheSetters(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateGateway(ctx, "help@example.org", "", "", pgp.Ed25519, "smtp://helpdesk.internal:25"); err != nil {
		t.Fatal(err)
	}
	for addr, opts := range map[string][]admin.Option{"team@lists.example.org": admin.ListOptions(), "help@example.org": admin.GatewayOptions()} {
		for _, o := range opts {
			if o.Type != admin.TypeChoice {
				continue
			}
			for _, c := range o.Choices {
				if _, err := s.SetOptions(ctx, addr, []string{o.Name + "=" + c}); err != nil {
					t.Errorf("%s: %s=%s offered but refused: %v", addr, o.Name, c, err)
				}
			}
			if _, err := s.SetOptions(ctx, addr, []string{o.Name + "=nonsense"}); !errors.Is(err, admin.ErrInvalid) {
				t.Errorf("%s: %s=nonsense: %v", addr, o.Name, err)
			}
		}
	}
}
