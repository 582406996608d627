package pipeline

import (
	"testing"

	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// TestRejectionUniform: DESIGN §4.3 over every reason there is. The
// sender of a refused message gets one reply whatever the reason, so that
// the reply tells nothing about what the message decrypted to; only what
// the sender can see from outside is told apart: the size of the message
// as sent (TooLarge), and at a gateway that it was not encrypted. A new
// reason falls under the rule unless it is added here on purpose;
// Inflated, the decompressed size, is not told apart.
func TestRejectionUniform(t *testing.T) {
	told := map[bool]map[policy.Reason]bool{
		false: {policy.TooLarge: true},
		true:  {policy.TooLarge: true, policy.NotEncrypted: true},
	}
	p := &Pipeline{}
	for _, gateway := range []bool{false, true} {
		l := &store.List{Address: "team@lists.example.org"}
		if gateway {
			l.Mode = store.ModeGateway
		}
		uniform := p.rejection(l, policy.Undecryptable)
		for _, r := range policy.Reasons() {
			got := p.rejection(l, r)
			same := got.Code == uniform.Code && got.Enhanced == uniform.Enhanced && got.Text == uniform.Text
			if same == told[gateway][r] {
				t.Errorf("gateway %t, reason %s: reply %q, the uniform one %q (told apart: %t)", gateway, r, got.Error(), uniform.Error(), told[gateway][r])
			}
		}
	}
}
