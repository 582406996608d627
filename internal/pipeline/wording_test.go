package pipeline

import (
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/notices"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// listWords are a list's words, wrong in what a gateway writes: a gateway
// has correspondents, not members, and hands messages to a helpdesk
// instead of distributing posts. English and German, since a German
// notice carries the English reason texts.
var listWords = []string{
	"list", "lists", "member", "members", "post", "posts", "posted", "distribute", "distributes", "distributed",
	"subscribe", "subscribed", "subscriber", "subscribers", "unsubscribe", "moderator", "moderate", "moderation",
	"liste", "listen", "listenpost", "listenverwaltung", "mitglied", "mitglieder", "mitgliedern", "beitrag",
	"beiträge", "beiträgen", "verteilt", "verteilen", "abonnent", "abonnenten", "abonnieren", "moderieren",
}

// gatewayWords are a gateway's words, wrong in what a list writes.
var gatewayWords = []string{"gateway", "gateways", "helpdesk", "helpdesks", "ticket", "tickets"}

// allowedPhrases are the few list words that are right in a gateway's
// text: the names of commands that act on gateways too.
var allowedPhrases = []string{
	"sealpost hold list",       // lists a gateway's held messages too
	"sealpost list rotate-key", // gives a gateway a new key too
	"sealpost member key",      // gives a gateway's correspondent a key
}

// listOnlyTemplates are never sent by a gateway, and why.
var listOnlyTemplates = map[string]string{
	"sendkey":               "answers mail to LIST-sendkey; a gateway has no such address",
	"request-reply":         "answers mail to LIST-request; a gateway has no such address",
	"key-challenge":         "answers mail to LIST-request (or member key --challenge on a list)",
	"key-confirmed":         "answers mail to LIST-request",
	"key-refused":           "answers mail to LIST-request",
	"post-keywords-refused": "answers a post's keywords; a gateway reads none",
	"member-missed":         "about a post's copies; a gateway sends none",
	"owner-unserved":        "about a post's copies; a gateway sends none",
	"owner-bounce-disabled": "a gateway's bounces go to its helpdesk, not to its delivery counts",
	"subscribe-challenge":   "a gateway takes no subscriptions (admin.subscribable)",
	"unsubscribe-challenge": "a gateway takes no subscriptions (admin.subscribable)",
	"owner-subscription":    "a gateway takes no subscriptions (admin.subscribable)",
	"subscription-declined": "a gateway takes no subscriptions (admin.subscribable)",
}

// gatewayOnlyTemplates are never sent by a list.
var gatewayOnlyTemplates = []string{"gateway-no-key", "gateway-refused", "owner-helpdesk-failed"}

// wrongWords returns the words of text that are in words, once each,
// after the allowed phrases are taken out.
func wrongWords(text string, words []string) []string {
	text = strings.ToLower(text)
	for _, p := range allowedPhrases {
		text = strings.ReplaceAll(text, p, "")
	}
	var out []string
	for _, w := range strings.FieldsFunc(text, func(r rune) bool { return !unicode.IsLetter(r) }) {
		if slices.Contains(words, w) && !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	return out
}

// wordingCase is one text as a list or a gateway writes it.
type wordingCase struct {
	what, text string
	gateway    bool
}

// check fails when c's text has the other mode's words.
func (c wordingCase) check(t *testing.T) {
	t.Helper()
	words, mode := gatewayWords, "list"
	if c.gateway {
		words, mode = listWords, "gateway"
	}
	if c.text == "" {
		t.Errorf("%s (%s): no text", c.what, mode)
	}
	if bad := wrongWords(c.text, words); len(bad) > 0 {
		t.Errorf("%s (%s) says %q:\n%s", c.what, mode, bad, c.text)
	}
}

// TestWording: every notice template (the embedded directory, in every
// language) and every refusal reason (the policy's table) reads right as
// a list and as a gateway sends it: a gateway's text has none of a list's
// words, and a list's none of a gateway's (issue 16 item 6).
func TestWording(t *testing.T) {
	p := &Pipeline{}
	modes := map[bool]*store.List{
		false: {Address: "team@lists.example.org", Mode: store.ModeList},
		true:  {Address: "support@example.org", Mode: store.ModeGateway},
	}
	var cases []wordingCase
	for _, lang := range notices.Languages {
		for _, name := range notices.Names() {
			for gateway, l := range modes {
				if gateway && listOnlyTemplates[name] != "" || !gateway && slices.Contains(gatewayOnlyTemplates, name) {
					continue
				}
				l := *l
				l.Settings.Language = lang
				reasons := []string{""}
				if name == "owner-rejected" || name == "owner-held" {
					reasons = nil
					for _, r := range policy.Reasons() {
						reasons = append(reasons, r.TextFor(gateway))
					}
				}
				for _, reason := range reasons {
					data := notices.SampleFor(name, gateway)
					if reason != "" {
						data["Reason"] = reason
					}
					subject, body, err := p.render(&l, name, data)
					if err != nil {
						t.Fatalf("%s/%s: %v", lang, name, err)
					}
					cases = append(cases, wordingCase{what: lang + "/" + name, text: subject + "\n" + body, gateway: gateway})
				}
			}
		}
	}
	for gateway, l := range modes {
		for _, r := range policy.Reasons() {
			cases = append(cases,
				wordingCase{what: "reason " + r.String(), text: r.TextFor(gateway), gateway: gateway},
				wordingCase{what: "SMTP reply for " + r.String(), text: p.rejection(l, r).Text, gateway: gateway})
		}
		cases = append(cases, wordingCase{what: "release error", text: (&ReleaseError{Reason: policy.Unparseable, Gateway: gateway}).Error(), gateway: gateway})
	}
	for _, e := range []*Rejection{errNotGateway, errNotAuthorized, errUnreadable, errTooLarge, errOverLimit} {
		cases = append(cases, wordingCase{what: "submission refusal", text: e.Text, gateway: true})
	}
	for _, r := range []refusedRcpt{{stranger: true}, {status: keyring.KeyExpired}} {
		cases = append(cases, wordingCase{what: "refused reply recipient", text: r.why(), gateway: true})
	}
	for _, c := range cases {
		c.check(t)
	}
	// The walk covers what there is: a template or reason added later is
	// in it without a change here.
	if n := len(notices.Names()); n < 19 || len(policy.Reasons()) < 23 {
		t.Errorf("walked %d templates and %d reasons", n, len(policy.Reasons()))
	}
	for name := range listOnlyTemplates {
		if !slices.Contains(notices.Names(), name) {
			t.Errorf("list-only template %s does not exist", name)
		}
	}
}

// TestWordingGatewayNoKey: the notice to a recipient of a helpdesk reply
// without a key speaks to someone who may never have written (a Cc'd
// person): the support team replied to a conversation they are part of,
// not "a reply to your message".
func TestWordingGatewayNoKey(t *testing.T) {
	for _, lang := range notices.Languages {
		gw := &store.List{Address: "support@example.org", Mode: store.ModeGateway, Settings: store.ListSettings{Language: lang}}
		_, body, err := (&Pipeline{}).render(gw, "gateway-no-key", notices.SampleFor("gateway-no-key", true))
		if err != nil {
			t.Fatal(err)
		}
		body = strings.Join(strings.Fields(body), " ")
		want := map[string]string{"en": "The support team at support@example.org replied to a conversation you are part of",
			"de": "Das Support-Team von support@example.org hat in einem Gespräch geantwortet, an dem Sie beteiligt sind"}[lang]
		if !strings.Contains(body, want) || strings.Contains(body, "your message") || strings.Contains(body, "Ihre Nachricht") {
			t.Errorf("%s: %s", lang, body)
		}
	}
}
