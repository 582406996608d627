package policy

import (
	"testing"

	"github.com/sealpost/sealpost/internal/crypto"
)

// valid returns an input the default policy accepts; each test case
// breaks one thing.
func valid() Input {
	return Input{
		List:             "team@lists.example.org",
		ListName:         "team@lists.example.org",
		ListFingerprint:  "LISTFPR",
		Protection:       crypto.Protection{Encrypted: true, Integrity: "mdc"},
		Status:           crypto.StatusGood,
		Signer:           &crypto.Signer{Fingerprint: "ALICEFPR", Addresses: []string{"alice@example.org"}},
		From:             "alice@example.org",
		SignedRecipients: []string{"team@lists.example.org"},
		Members: []Member{
			{Email: "alice@example.org", Fingerprints: []string{"ALICEFPR", "ALICECERT"}, Usable: true},
			{Email: "bob@example.org", Fingerprints: []string{"BOBFPR"}, Usable: true},
			{Email: "carol@example.org", Fingerprints: []string{"CAROLFPR"}, Usable: false},
		},
	}
}

func TestDecide(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(*Input)
		want   Reason
	}{
		{"valid", func(*Input) {}, OK},
		{"bound by intended recipient instead of To", func(in *Input) {
			in.SignedRecipients = nil
			in.IntendedRecipients = []string{"LISTFPR"}
		}, OK},
		{"signed with the member's other key", func(in *Input) { in.Signer.Fingerprint = "ALICECERT" }, OK},
		{"RFC 8550 §3: certified S/MIME signer, certificate not pinned yet", func(in *Input) {
			in.Signer.Fingerprint, in.Certified = "NEWCERT", true
		}, OK},
		{"certified signer who is not a member", func(in *Input) {
			in.Signer.Fingerprint, in.Certified, in.From = "NEWCERT", true, "dave@example.org"
		}, UnknownSigner},
		{"From differs only in case", func(in *Input) { in.From = "Alice@Example.org" }, OK},
		{"RFC 3156 §4: not encrypted", func(in *Input) { in.Protection = crypto.Protection{} }, NotEncrypted},
		{"RFC 9580 §5.13: no integrity", func(in *Input) { in.Protection.Integrity = "" }, NoIntegrity},
		{"unsigned", func(in *Input) { in.Status, in.Signer = crypto.StatusUnsigned, nil }, Unsigned},
		{"bad signature", func(in *Input) { in.Status, in.Signer = crypto.StatusBad, nil }, BadSignature},
		{"unknown signer", func(in *Input) { in.Status, in.Signer = crypto.StatusUnknownSigner, nil }, UnknownSigner},
		{"expired key", func(in *Input) { in.Status, in.Signer = crypto.StatusKeyInvalid, nil }, KeyInvalid},
		{"RFC 8550: untrusted certificate", func(in *Input) { in.Status, in.Signer = crypto.StatusUntrusted, nil }, Untrusted},
		{"good signature, key of no member", func(in *Input) { in.Signer.Fingerprint = "MALLORYFPR" }, UnknownSigner},
		{"member signs with someone else's From", func(in *Input) { in.From = "bob@example.org" }, FromMismatch},
		{"RFC 5322 §3.6: two From fields", func(in *Input) { in.MultipleFrom = true }, FromMismatch},
		{"key lacks the From UID", func(in *Input) { in.Signer.Addresses = []string{"alice@elsewhere.org"} }, FromMismatch},
		{"display name is not the address", func(in *Input) { in.From = "alice" }, FromMismatch},
		// DESIGN §4.4: the binding rule.
		{"signed for another list", func(in *Input) { in.SignedRecipients = []string{"other@lists.example.org"} }, NotForThisList},
		{"signed for a person, not the list", func(in *Input) { in.SignedRecipients = []string{"bob@example.org"} }, NotForThisList},
		{"intended for another key", func(in *Input) { in.SignedRecipients, in.IntendedRecipients = nil, []string{"OTHERFPR"} }, NotForThisList},
		{"X-LIST-NAME of another list", func(in *Input) { in.SignedRecipients, in.ListNames = nil, []string{"other@lists.example.org"} }, NotForThisList},
		{"bound by X-LIST-NAME alone", func(in *Input) { in.SignedRecipients, in.ListNames = nil, []string{"team@lists.example.org"} }, OK},
		{"bound by X-LIST-NAME, though protected To names someone else", func(in *Input) {
			in.SignedRecipients, in.ListNames = []string{"bob@example.org"}, []string{"Team@Lists.example.org"}
		}, OK},
		{"a request: protected To names LIST-request", func(in *Input) {
			in.List, in.SignedRecipients = "team-request@lists.example.org", []string{"team-request@lists.example.org"}
		}, OK},
		{"a request bound by X-LIST-NAME naming the list", func(in *Input) {
			in.List, in.SignedRecipients, in.ListNames = "team-request@lists.example.org", nil, []string{"team@lists.example.org"}
		}, OK},
		{"no binding at all: accepted, marked", func(in *Input) { in.SignedRecipients = nil }, OK},
		{"no binding at all, the list requires it", func(in *Input) { in.SignedRecipients, in.RequireBinding = nil, true }, Unbound},
		{"signed for another list, the list does not require binding", func(in *Input) {
			in.SignedRecipients = []string{"other@lists.example.org"}
		}, NotForThisList},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := valid()
			tt.break_(&in)
			d := Decide(in)
			if d.Reason != tt.want {
				t.Fatalf("Decide = %v, want %v", d.Reason, tt.want)
			}
			if d.Accepted() != (tt.want == OK) {
				t.Errorf("Accepted() = %v", d.Accepted())
			}
			if !d.Accepted() && (len(d.Send) > 0 || len(d.NoKey) > 0) {
				t.Errorf("a rejected post has recipients: %+v", d)
			}
		})
	}
}

// TestFailClosed: DESIGN §4.5, a member without a usable key gets no copy.
func TestFailClosed(t *testing.T) {
	d := Decide(valid())
	if len(d.Send) != 2 || len(d.NoKey) != 1 || d.NoKey[0].Email != "carol@example.org" {
		t.Fatalf("Send = %+v, NoKey = %+v", d.Send, d.NoKey)
	}
	for _, m := range d.Send {
		if !m.Usable {
			t.Errorf("member without usable key planned for a copy: %+v", m)
		}
	}
	if d.Sender == nil || d.Sender.Email != "alice@example.org" {
		t.Errorf("Sender = %+v", d.Sender)
	}
}

// TestUnboundMarked: only content that names no recipient is marked
// unbound (its replay mark then holds on every list).
func TestUnboundMarked(t *testing.T) {
	in := valid()
	if Decide(in).Unbound {
		t.Error("a post naming the list is marked unbound")
	}
	in.SignedRecipients = nil
	if d := Decide(in); !d.Authenticated() || !d.Unbound {
		t.Errorf("a post naming no recipient: %+v, want authenticated and unbound", d)
	}
}

func TestReasonsDescribed(t *testing.T) {
	for r := OK; r.String() != "unknown"; r++ {
		if r.Describe() == "" || r.String() == "unknown" {
			t.Errorf("reason %d has no description or name", r)
		}
	}
}

// TestReasonTexts: Reasons is the whole table (every reason with a name,
// none without), and every reason has a text for a list and for a
// gateway; a list's is the one it always had.
func TestReasonTexts(t *testing.T) {
	rs := Reasons()
	if len(rs) != len(descriptions)-1 || rs[0] != NotEncrypted || rs[len(rs)-1].String() == "unknown" || (rs[len(rs)-1]+1).String() != "unknown" {
		t.Fatalf("Reasons() = %v, %d descriptions", rs, len(descriptions))
	}
	for r := range gatewayDescriptions {
		if r == OK || r.String() == "unknown" {
			t.Errorf("gateway text for %d, which is no reason", r)
		}
	}
	for _, r := range rs {
		if r.TextFor(false) != r.Describe() || r.TextFor(true) == "" {
			t.Errorf("%s: list %q, gateway %q", r, r.TextFor(false), r.TextFor(true))
		}
	}
}
