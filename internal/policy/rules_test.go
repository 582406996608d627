package policy

import (
	"testing"

	"github.com/sealpost/sealpost/internal/crypto"
)

// TestActions: every outcome takes every action it allows, and refuses
// the others; the defaults reject.
func TestActions(t *testing.T) {
	breaks := map[Outcome]func(*Input){
		OutcomeUnsigned:      func(in *Input) { in.Status, in.Signer = crypto.StatusUnsigned, nil },
		OutcomeUnknownSigner: func(in *Input) { in.Signer.Fingerprint = "MALLORYFPR" },
		OutcomeBadSignature:  func(in *Input) { in.Status, in.Signer = crypto.StatusBad, nil },
		OutcomeKeyInvalid:    func(in *Input) { in.Status, in.Signer = crypto.StatusKeyInvalid, nil },
		OutcomeUnencrypted:   func(in *Input) { in.Protection = crypto.Protection{} },
	}
	for _, rule := range OutcomeRules() {
		if rule.Default != Reject {
			t.Errorf("%s: default %s, want reject", rule.Outcome, rule.Default)
		}
		for _, a := range []Action{Accept, Hold, Reject, Discard} {
			allowed := false
			for _, x := range rule.Allowed {
				allowed = allowed || x == a
			}
			if _, err := ParseAction(rule.Outcome, string(a)); (err == nil) != allowed {
				t.Errorf("ParseAction(%s, %s) = %v, allowed %v", rule.Outcome, a, err, allowed)
			}
			if !allowed {
				continue
			}
			rs := Rules{Actions: map[Outcome]Action{rule.Outcome: a}}
			if got := rs.ActionFor(rule.Reason); got != a {
				t.Errorf("%s=%s: ActionFor = %s", rule.Outcome, a, got)
			}
			brk := breaks[rule.Outcome]
			if brk == nil {
				continue // found outside Decide: replay at commit, size before parsing
			}
			in := valid()
			brk(&in)
			in.Rules = rs
			d := Decide(in)
			if rule.Outcome == OutcomeUnencrypted && a == Accept {
				// Taking unencrypted posts still checks the signature:
				// this one is a member's, so it is authenticated.
				if !d.Authenticated() || d.Sender == nil || d.Sender.Email != "alice@example.org" {
					t.Errorf("unencrypted=accept, signed by a member: %+v", d)
				}
				in.Status, in.Signer = crypto.StatusUnsigned, nil
				if d := Decide(in); d.Reason != Unsigned || d.Action != Reject {
					t.Errorf("unencrypted=accept, unsigned: %v/%v, want the unsigned action", d.Reason, d.Action)
				}
				continue
			}
			if d.Reason != rule.Reason || d.Action != a {
				t.Errorf("%s=%s: Decide = %v/%v", rule.Outcome, a, d.Reason, d.Action)
			}
			if a == Accept && (d.Sender != nil || len(d.Send) != 2 || len(d.NoKey) != 1 || d.Authenticated()) {
				t.Errorf("%s=accept: %+v, want distributed with nobody authenticated", rule.Outcome, d)
			}
			if a != Accept && (len(d.Send) > 0 || d.Accepted()) {
				t.Errorf("%s=%s: %+v has recipients", rule.Outcome, a, d)
			}
		}
	}
	if _, err := ParseAction("nonsense", "accept"); err == nil {
		t.Error("unknown outcome accepted")
	}
	// Reasons without an outcome are always rejected.
	for _, r := range []Reason{NoIntegrity, NotForThisList, FromMismatch, TooManyLayers, PartlyEncrypted, NotAdmin} {
		if a := (Rules{Actions: map[Outcome]Action{OutcomeUnsigned: Accept}}).ActionFor(r); a != Reject {
			t.Errorf("ActionFor(%v) = %s", r, a)
		}
	}
	// An untrusted certificate follows unknown_signer.
	if a := (Rules{Actions: map[Outcome]Action{OutcomeUnknownSigner: Hold}}).ActionFor(Untrusted); a != Hold {
		t.Errorf("untrusted certificate: %s, want the unknown_signer action", a)
	}
}

func TestRules(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Input)
		reason Reason
		action Action
		check  func(*testing.T, Decision)
	}{
		{"admin only, admin posts", func(in *Input) { in.Rules.AdminOnly, in.Members[0].Admin = true, true }, OK, Accept, nil},
		{"admin only, member posts", func(in *Input) { in.Rules.AdminOnly = true }, NotAdmin, Reject, nil},
		{"admin only ignores accept actions", func(in *Input) {
			in.Rules.AdminOnly, in.Rules.Actions = true, map[Outcome]Action{OutcomeUnsigned: Accept}
			in.Status, in.Signer = crypto.StatusUnsigned, nil
		}, Unsigned, Reject, nil},
		{"From mismatch allowed: the signer is the sender", func(in *Input) {
			in.Rules.AllowFromMismatch, in.From = true, "bob@example.org"
		}, OK, Accept, func(t *testing.T, d Decision) {
			if d.Sender == nil || d.Sender.Email != "alice@example.org" {
				t.Errorf("sender = %+v", d.Sender)
			}
		}},
		{"From mismatch allowed, signer no member", func(in *Input) {
			in.Rules.AllowFromMismatch, in.Signer.Fingerprint = true, "MALLORYFPR"
		}, UnknownSigner, Reject, nil},
		{"disabled member: no copy, may still post", func(in *Input) { in.Members[0].Disabled, in.Members[1].Disabled = true, true }, OK, Accept,
			func(t *testing.T, d Decision) {
				if len(d.Send) != 0 || len(d.NoKey) != 1 || d.Sender == nil || d.Sender.Email != "alice@example.org" {
					t.Errorf("decision = %+v", d)
				}
			}},
		{"plaintext for members without a key", func(in *Input) { in.Rules.SendPlaintext = true }, OK, Accept, func(t *testing.T, d Decision) {
			if len(d.Plain) != 1 || d.Plain[0].Email != "carol@example.org" || len(d.NoKey) != 0 || len(d.Send) != 2 {
				t.Errorf("decision = %+v", d)
			}
		}},
		{"no self copy", func(in *Input) { in.Rules.NoSelfCopy = true }, OK, Accept, func(t *testing.T, d Decision) {
			for _, m := range append(d.Send, d.NoKey...) {
				if m.Email == "alice@example.org" {
					t.Error("the sender gets a copy")
				}
			}
			if len(d.Send) != 1 {
				t.Errorf("send = %+v", d.Send)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.edit(&in)
			d := Decide(in)
			if d.Reason != tt.reason || d.Action != tt.action {
				t.Fatalf("Decide = %v/%v, want %v/%v", d.Reason, d.Action, tt.reason, tt.action)
			}
			if tt.check != nil {
				tt.check(t, d)
			}
		})
	}
}
