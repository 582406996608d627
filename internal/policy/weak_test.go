package policy

import (
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/crypto"
)

// TestWeakSignatureNotTampering: a SHA-1 signature (crypto.StatusWeak) is
// refused with its own reason, whatever the list does with signatures that
// do not verify (on_bad_signature), and never accepted.
func TestWeakSignatureNotTampering(t *testing.T) {
	for _, a := range []Action{"", Hold, Discard} {
		in := valid()
		in.Status, in.Signer = crypto.StatusWeak, nil
		if a != "" {
			in.Rules.Actions = map[Outcome]Action{OutcomeBadSignature: a}
		}
		if d := Decide(in); d.Reason != WeakSignature || d.Action != Reject {
			t.Errorf("on_bad_signature=%q: %v/%v, want %v/reject", a, d.Reason, d.Action, WeakSignature)
		}
		in.Rules = in.Rules.Releasing()
		if d := Decide(in); d.Accepted() {
			t.Errorf("a released SHA-1 post is accepted")
		}
	}
	if !strings.Contains(WeakSignature.Describe(), "signed with SHA-1, which is no longer accepted") ||
		ParseReason(WeakSignature.String()) != WeakSignature || WeakSignature.String() != "weak-signature" {
		t.Errorf("%s: %q", WeakSignature, WeakSignature.Describe())
	}
}
