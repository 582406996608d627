package mail

import "testing"

func TestParseDSN(t *testing.T) {
	body := "Reporting-MTA: dns; mx.example.org\r\nArrival-Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\n" +
		"Final-Recipient: rfc822; Alice@Example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n" +
		"Diagnostic-Code: smtp; 550 5.1.1 <alice@example.org>: no such user\r\n\r\n" +
		"Original-Recipient: rfc822;bob@example.org\r\nFinal-Recipient: rfc822; bob@example.org\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n" +
		"Final-Recipient: x400; whatever\r\nAction: failed\r\nStatus: 5.0.0\r\n"
	got := ParseDSN([]byte(body))
	if len(got) != 2 {
		t.Fatalf("ParseDSN = %+v", got)
	}
	if got[0].Recipient != "alice@example.org" || !got[0].Failed() || got[0].Status != "5.1.1" || got[0].Diagnostic == "" {
		t.Errorf("first = %+v", got[0])
	}
	if got[1].Recipient != "bob@example.org" || got[1].Failed() || got[1].Original != "bob@example.org" {
		t.Errorf("second = %+v (a delay is no failure)", got[1])
	}
	if got[0].Original != "" || !got[0].Names("alice@example.org") || got[0].Names("") {
		t.Errorf("first's names = %+v", got[0])
	}
	if got := ParseDSN([]byte("garbage")); len(got) != 0 {
		t.Errorf("ParseDSN(garbage) = %+v", got)
	}
}

// TestDSNFailed: RFC 3464 §2.3.3's action decides; a block without one
// fails only with a permanent status (RFC 3463 §3.1).
func TestDSNFailed(t *testing.T) {
	for _, c := range []struct {
		action, status string
		want           bool
	}{
		{"failed", "5.1.1", true},
		{"failed", "4.0.0", true}, // given up on a transient failure: not delivered, never retried
		{"failed", "", true},
		{"delayed", "4.4.1", false},
		{"delayed", "5.0.0", false},
		{"delivered", "2.0.0", false},
		{"relayed", "2.0.0", false},
		{"", "5.1.10", true},
		{"", "4.2.2", false},
		{"", "", false},
	} {
		if got := (DSNRecipient{Action: c.action, Status: c.status}).Failed(); got != c.want {
			t.Errorf("Action %q Status %q: Failed() = %v, want %v", c.action, c.status, got, c.want)
		}
	}
}

// TestParseDSNForwarded: a forwarded recipient's block keeps the address
// the sender used (Original-Recipient) beside the one that failed.
func TestParseDSNForwarded(t *testing.T) {
	body := "Reporting-MTA: dns; mx.example.org\r\n\r\n" +
		"Final-Recipient: rfc822; bob@elsewhere.example\r\nOriginal-Recipient: rfc822;bob@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n"
	got := ParseDSN([]byte(body))
	if len(got) != 1 || got[0].Recipient != "bob@elsewhere.example" || got[0].Original != "bob@example.org" ||
		!got[0].Names("bob@example.org") || !got[0].Names("bob@elsewhere.example") || got[0].Names("carol@example.org") {
		t.Errorf("ParseDSN = %+v", got)
	}
}
