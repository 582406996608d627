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
	if got[1].Recipient != "bob@example.org" || got[1].Failed() {
		t.Errorf("second = %+v (a delay is no failure)", got[1])
	}
	if got := ParseDSN([]byte("garbage")); len(got) != 0 {
		t.Errorf("ParseDSN(garbage) = %+v", got)
	}
}
