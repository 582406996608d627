package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// TestThreadOptions: reply_subject and ticket_tag as `gateway set` and
// `gateway show` see them: defaults, each value, refusals with a reason,
// and neither is an option of a list.
func TestThreadOptions(t *testing.T) {
	ctx := context.Background()
	s := service(t)
	const gw = "support@example.org"
	if _, err := s.CreateGateway(ctx, gw, "", "", pgp.Ed25519, "smtp://127.0.0.1:2526"); err != nil {
		t.Fatal(err)
	}
	value := func(name string) string {
		t.Helper()
		l, err := s.Gateway(ctx, gw)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range admin.OptionsFor(l) {
			if o.Name == name {
				return o.Value(l)
			}
		}
		t.Fatalf("no gateway option %s", name)
		return ""
	}
	if got := value("reply_subject"); got != "hidden" {
		t.Errorf("reply_subject defaults to %q, want hidden", got)
	}
	if got := value("ticket_tag"); got != pipeline.DefaultTicketTag {
		t.Errorf("ticket_tag defaults to %q", got)
	}
	for _, v := range []struct{ set, stored string }{{"tag", store.ReplySubjectTag}, {"clear", store.ReplySubjectClear},
		{"hidden", store.ReplySubjectHidden}} {
		l, err := s.SetOptions(ctx, gw, []string{"reply_subject=" + v.set})
		if err != nil || l.Gateway.ReplySubject != v.stored || value("reply_subject") != v.set {
			t.Errorf("reply_subject=%s: %v, stored %q", v.set, err, l.Gateway.ReplySubject)
		}
	}
	const custom = `\[Support-[0-9]+\]`
	if l, err := s.SetOptions(ctx, gw, []string{"ticket_tag=" + custom}); err != nil || l.Gateway.TicketTag != custom {
		t.Errorf("ticket_tag=%s: %v", custom, err)
	}
	if got := value("ticket_tag"); got != custom {
		t.Errorf("ticket_tag = %q, want %q", got, custom)
	}
	_, err := s.SetOptions(ctx, gw, []string{"reply_subject=subject", "ticket_tag=[#(", "ticket_tag=.*"})
	for _, want := range []string{"reply_subject: invalid value \"subject\": not hidden, tag or clear",
		"ticket_tag: invalid value \"[#(\": not a regular expression", "ticket_tag: invalid value \".*\": it matches an empty text"} {
		if !errors.Is(err, admin.ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %v does not say %q", err, want)
		}
	}
	if got := value("ticket_tag"); got != custom {
		t.Errorf("after refused values ticket_tag = %q, want %q kept", got, custom)
	}
	for _, empty := range []string{"ticket_tag=", "ticket_tag=" + pipeline.DefaultTicketTag} {
		if l, err := s.SetOptions(ctx, gw, []string{empty}); err != nil || l.Gateway.TicketTag != "" {
			t.Errorf("%s: %v, stored %q; want the default", empty, err, l.Gateway.TicketTag)
		}
	}
	var help string
	for _, o := range admin.GatewayOptions() {
		if o.Name == "ticket_tag" {
			help = o.Help
		}
	}
	for _, want := range []string{pipeline.DefaultTicketTag, "[example.org #7]", "[Ticket#", "[#123]"} {
		if !strings.Contains(help, want) {
			t.Errorf("ticket_tag help does not give %q: %s", want, help)
		}
	}
	if _, err := s.CreateList(ctx, "team@lists.example.org", "", "", pgp.Ed25519); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetOptions(ctx, "team@lists.example.org", []string{"reply_subject=tag"}); !errors.Is(err, admin.ErrInvalid) {
		t.Errorf("reply_subject on a list: %v, want refused", err)
	}
}
