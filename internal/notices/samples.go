package notices

// Sample returns example data for template name as a list sends it: the
// fields it may use, for checking a list's own text before it is saved,
// and for showing owners what they can write.
func Sample(name string) map[string]any { return SampleFor(name, false) }

// SampleFor returns example data for template name as a list (gateway
// false) or a gateway sends it. Every notice has List, the address that
// sends it, and Gateway, true when that is a gateway: a template uses
// {{if .Gateway}} for the words of a gateway in front of a helpdesk,
// which has correspondents rather than members. A gateway has no -owner
// or -request address: Owner and Request are its own address.
func SampleFor(name string, gateway bool) map[string]any {
	d := map[string]any{"List": "team@lists.example.org", "Gateway": gateway}
	for k, v := range samples[name] {
		d[k] = v
	}
	if gateway {
		d["List"] = "support@example.org"
		for _, k := range []string{"Owner", "Request"} {
			if _, ok := d[k]; ok {
				d[k] = "support@example.org"
			}
		}
	}
	return d
}

var (
	fpr      = "0123 4567 89AB CDEF 0123  4567 89AB CDEF 0123 4567"
	envelope = map[string]any{"Reason": "The message was not signed inside the encryption.",
		"EnvelopeFrom": "alice@example.org", "Received": "Sun, 22 Nov 2026 10:00:00 +0000", "Ref": "8f2c1a"}
)

var samples = map[string]map[string]any{
	"owner-held":     envelope,
	"owner-rejected": envelope,
	"member-missed":  {"Fingerprint": fpr, "Ref": "8f2c1a", "NoListCertificate": false},
	"owner-unserved": {"Members": []map[string]any{{"Email": "bob@example.org", "Status": "Key expired", "Key": fpr}},
		"Ref": "8f2c1a", "NoListCertificate": false},
	"owner-bounce-disabled": {"Member": "bob@example.org", "Reason": "5 bounces within 10 days (last status 5.1.1)"},
	"sendkey":               {"Fingerprint": fpr},
	"key-refused":           {"Problem": "key 0123... expired on 2026-01-01"},
	"key-challenge": {"Fingerprint": fpr, "Request": "team-request@lists.example.org", "Code": "SP-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
		"Expires": "2026-11-29"},
	"key-confirmed": {"Fingerprint": fpr},
	"subscribe-challenge": {"Fingerprint": fpr, "Code": "SP-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "Expires": "2026-11-29",
		"Link":    "https://lists.example.org/subscribe/confirm?code=SP-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
		"Request": "team-request@lists.example.org", "Moderated": true},
	"unsubscribe-challenge": {"Code": "SP-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "Expires": "2026-11-29",
		"Link": "https://lists.example.org/subscribe/confirm?code=SP-ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"},
	"owner-subscription":    {"Email": "dave@example.org", "Fingerprint": fpr, "Expires": "2026-12-22"},
	"subscription-declined": {"Reason": "This list is for the staff of the clinic only."},
	"password-reset":        {"Link": "https://sealpost.example.org/login/reset/3q2-7wAbCdEfGhIjKlMnOpQrStUvWxYz0123456789a", "Expires": "2026-11-22 11:00 UTC"},
	"welcome": {"Page": "https://lists.example.org/subscribe?list=team@lists.example.org", "Name": "Team", "Fingerprint": fpr, "Certificate": fpr + " " + fpr, "Request": "team-request@lists.example.org",
		"Owner": "team-owner@lists.example.org", "Unsubscribe": true, "AdminOnly": false, "SMIME": false, "Footer": "Thank you for joining us."},
	"request-reply":         {"Answer": "> X-LIST-KEYS:\n  ..."},
	"post-keywords-refused": {"Problems": []string{"X-FROBNICATE is not a keyword Sealpost knows in posts."}},
	"key-rotated":           {"New": fpr, "Old": fpr, "Until": "2026-12-22"},
	"key-expiring":          {"Expires": "2026-12-01", "Fingerprint": fpr, "Request": "team-request@lists.example.org"},
	"owner-keys-summary": {"Days": 14, "Keys": []map[string]any{
		{"Holder": "bob@example.org", "Fingerprint": fpr, "Status": "Usable", "Expires": "2026-12-01"}}},
	"hold-rejected":         {"Held": "Sun, 22 Nov 2026 10:00:00 +0000", "Ref": "8f2c1a", "Owner": "team-owner@lists.example.org", "Reason": "> Please send this again, signed with your own key."},
	"gateway-no-key":        {"Status": "Not Found", "Fingerprint": fpr, "Ref": "8f2c1a"},
	"owner-helpdesk-failed": {"DeliverTo": "smtp://127.0.0.1:2526", "Reason": "550 5.1.1 mailbox unknown", "Ref": "8f2c1a"},
	"gateway-refused":       {"Recipients": "  carol@example.net: no usable key (Not Found)", "Ref": "8f2c1a"},
	"owner-holds-expired": {"Days": 14, "Holds": []map[string]any{
		{"ID": 7, "Held": "2026-11-01", "Sender": "alice@example.org", "Reason": "The message was not signed."}}},
}
