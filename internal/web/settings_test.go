package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/gpgtest"
)

// optionNames returns the names of the settings form's rows, in order.
func optionNames(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<tr data-option="([a-z_0-9]+)"`).FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestSettingsForm: the form shows every option of the table, once, in
// the table's groups and order, each with the control of its type and
// its help sentence.
func TestSettingsForm(t *testing.T) {
	f := newFixture(t)
	alice := f.signedIn("alice@example.org")
	p := alice.get("/lists/" + listA)
	var want []string
	for _, sec := range admin.Grouped(admin.ListOptions()) {
		if !strings.Contains(p.body, "<h3>"+sec.Title+"</h3>") {
			t.Errorf("no heading %q", sec.Title)
		}
		for _, o := range sec.Items {
			want = append(want, o.Name)
		}
	}
	if got := optionNames(p.body); !slices.Equal(got, want) {
		t.Errorf("the form's options:\n%v\nthe table's:\n%v", got, want)
	}
	for _, o := range admin.ListOptions() {
		r := row(p.body, "data-option", o.Name)
		if !strings.Contains(r, `data-type="`+string(o.Type)+`"`) || !strings.Contains(r, "help-"+o.Name) {
			t.Errorf("%s: row without its type or help:\n%s", o.Name, r)
		}
		var control string
		switch o.Type {
		case admin.TypeBool:
			control = `<input type="hidden" name="` + o.Name + `" value="false">`
			if !strings.Contains(r, `name="`+o.Name+`" type="checkbox" value="true"`) {
				t.Errorf("%s: no checkbox:\n%s", o.Name, r)
			}
		case admin.TypeChoice:
			control = `<select id="opt-` + o.Name + `" name="` + o.Name + `"`
			for _, c := range o.Choices {
				if !strings.Contains(r, `<option value="`+c+`"`) {
					t.Errorf("%s: no choice %q", o.Name, c)
				}
			}
		case admin.TypeNumber:
			control = `type="number" step="1" min="`
		default:
			control = `name="` + o.Name + `" type="`
		}
		if !strings.Contains(r, control) {
			t.Errorf("%s (%s): no %s in\n%s", o.Name, o.Type, control, r)
		}
	}
	if r := row(p.body, "data-option", "hold_days"); !strings.Contains(r, `min="1" max="365"`) {
		t.Errorf("hold_days without its bounds:\n%s", r)
	}
}

// TestSettingsTypedSave: an owner changes a setting through its select
// and a checkbox; a checkbox left unchecked saves false (its hidden
// field); an invalid number is refused with the field named beside it,
// and nothing of that form is saved.
func TestSettingsTypedSave(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	alice := f.signedIn("alice@example.org")

	// The select of on_unsigned offers hold; the form sends what the
	// browser sends: every checkbox's hidden "false", then "true" for the
	// ones checked.
	p := alice.get("/lists/" + listA)
	if r := row(p.body, "data-option", "on_unsigned"); !strings.Contains(r, `<option value="hold">`) {
		t.Fatalf("on_unsigned offers no hold:\n%s", r)
	}
	form := url.Values{"on_unsigned": {"hold"}, "smime_opaque": {"false", "true"}, "autocrypt": {"false"}}
	p = alice.post("/lists/"+listA+"/options", form)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Saved") {
		t.Fatalf("save: %d\n%s", p.status, p.body)
	}
	l, _ := f.svc.List(ctx, listA)
	if l.Settings.Actions["unsigned"] != "hold" || !l.Settings.SMIMEOpaque || !l.Settings.NoAutocrypt {
		t.Errorf("saved: actions %v, smime_opaque %v, autocrypt off %v", l.Settings.Actions, l.Settings.SMIMEOpaque, l.Settings.NoAutocrypt)
	}
	if r := row(p.body, "data-option", "on_unsigned"); !strings.Contains(r, `<option value="hold" selected>`) {
		t.Errorf("on_unsigned not shown as hold:\n%s", r)
	}
	if r := row(p.body, "data-option", "smime_opaque"); !strings.Contains(r, " checked") {
		t.Errorf("smime_opaque not checked:\n%s", r)
	}
	if r := row(p.body, "data-option", "autocrypt"); strings.Contains(r, " checked") {
		t.Errorf("autocrypt still checked:\n%s", r)
	}

	// Unchecking smime_opaque sends only its hidden field: false.
	p = alice.post("/lists/"+listA+"/options", url.Values{"smime_opaque": {"false"}, "autocrypt": {"false"}})
	if l, _ := f.svc.List(ctx, listA); l.Settings.SMIMEOpaque {
		t.Errorf("an unchecked checkbox did not save false: %d\n%s", p.status, p.body)
	}

	// An invalid number: refused, named beside its field, nothing saved.
	p = alice.post("/lists/"+listA+"/options", url.Values{"subject_prefix": {"[a]"}, "bounce_days": {"1000"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("bounce_days=1000: %d", p.status)
	}
	r := row(p.body, "data-option", "bounce_days")
	if !strings.Contains(r, `class="invalid"`) || !strings.Contains(r, `<p class="field-error" role="alert">bounce_days: invalid value &#34;1000&#34;: more than 365</p>`) ||
		!strings.Contains(r, `value="1000"`) {
		t.Errorf("bounce_days row:\n%s", r)
	}
	if r := row(p.body, "data-option", "subject_prefix"); strings.Contains(r, "field-error") || !strings.Contains(r, `value="[a]"`) {
		t.Errorf("subject_prefix row:\n%s", r)
	}
	if l, _ := f.svc.List(ctx, listA); l.Settings.SubjectPrefix != "" || l.Settings.BounceDays != 0 {
		t.Errorf("a refused form saved %q, %d", l.Settings.SubjectPrefix, l.Settings.BounceDays)
	}
	// It was audited once, as list set is: the one saved form.
	entries, err := f.svc.Audit(ctx, listA, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "list.set" {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d list.set entries, want 2 (two saved forms)", n)
	}
}

// TestMemberRow: an owner toggles a member's delivery and admin role,
// sets their S/MIME cipher and key transport, and gives them a further
// key pasted as text (made by gpg) and one as a file.
func TestMemberRow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, _, err := f.svc.AddMember(ctx, listA, "dave@example.org", memberKey(t, "dave@example.org"), false); err != nil {
		t.Fatal(err)
	}
	alice := f.signedIn("alice@example.org")
	set := "/lists/" + listA + "/members/dave@example.org/set"
	p := alice.get("/lists/" + listA)
	r := row(p.body, "data-member", "dave@example.org") + row(p.body, "data-member-more", "dave@example.org")
	for _, want := range []string{`action="` + set + `"`, `name="delivery" value="off"`, `name="admin" value="on"`,
		`name="smime_cipher"`, `name="smime_keytransport"`, `name="key_text"`, `name="key" type="file"`} {
		if !strings.Contains(r, want) {
			t.Errorf("dave's row lacks %s", want)
		}
	}

	p = alice.post(set, url.Values{"delivery": {"off"}})
	m, _ := f.svc.Member(ctx, listA, "dave@example.org")
	if p.status != http.StatusOK || m.DisabledAt.IsZero() || !strings.Contains(p.body, "delivery off") {
		t.Fatalf("delivery off: %d, disabled %v", p.status, m.DisabledAt)
	}
	if r := row(p.body, "data-member", "dave@example.org"); !strings.Contains(r, `name="delivery" value="on"`) {
		t.Errorf("the row does not offer to turn delivery on again:\n%s", r)
	}
	alice.post(set, url.Values{"delivery": {"on"}})
	alice.post(set, url.Values{"admin": {"on"}})
	alice.post(set, url.Values{"smime_cipher": {"aes128-gcm"}})
	p = alice.post(set, url.Values{"smime_keytransport": {"rsa-oaep-sha256"}})
	m, _ = f.svc.Member(ctx, listA, "dave@example.org")
	if !m.DisabledAt.IsZero() || !m.Admin || m.SMIMECipher != "aes128-gcm" || m.SMIMEKeyTransport != "rsa-oaep-sha256" {
		t.Errorf("dave: %+v", m.Member)
	}
	r = row(p.body, "data-member", "dave@example.org") + row(p.body, "data-member-more", "dave@example.org")
	for _, want := range []string{`<option value="aes128-gcm" selected>`, `<option value="rsa-oaep-sha256" selected>`, `name="admin" value="off"`} {
		if !strings.Contains(r, want) {
			t.Errorf("dave's row lacks %s", want)
		}
	}
	p = alice.post(set, url.Values{"smime_cipher": {"rot13"}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "smime_cipher") {
		t.Errorf("a cipher not offered: %d", p.status)
	}

	// A further key, pasted as a browser sends a textarea (CRLF), made by
	// gpg; then one as a file.
	g := gpgtest.New(t)
	fpr := g.GenKey("Dave <dave@example.org>")
	pasted := bytes.ReplaceAll(g.Export(fpr), []byte("\n"), []byte("\r\n"))
	p = alice.postFile("/lists/"+listA+"/members/dave@example.org/keys", map[string]string{"key_text": string(pasted)}, nil)
	if p.status != http.StatusOK || !strings.Contains(p.body, "Added the OpenPGP key") {
		t.Fatalf("pasted key: %d\n%s", p.status, p.body)
	}
	if r := row(p.body, "data-member", "dave@example.org"); !strings.Contains(r, `href="/keys/`+fpr+`"`) {
		t.Errorf("dave's row lacks the pasted key %s:\n%s", fpr, r)
	}
	p = alice.postFile("/lists/"+listA+"/members/dave@example.org/keys", nil, memberKey(t, "dave@example.org"))
	if m, _ := f.svc.Member(ctx, listA, "dave@example.org"); p.status != http.StatusOK || len(m.Keys) != 3 {
		t.Errorf("key file: %d, %d keys", p.status, len(m.Keys))
	}
	p = alice.postFile("/lists/"+listA+"/members/dave@example.org/keys", map[string]string{"key_text": "not a key"}, nil)
	if p.status != http.StatusUnprocessableEntity {
		t.Errorf("a pasted non-key: %d", p.status)
	}
	p = alice.postFile("/lists/"+listA+"/members/dave@example.org/keys", nil, nil)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Choose a key file or paste the key") {
		t.Errorf("no key at all: %d\n%s", p.status, p.body)
	}

	// Another owner's list stays out of reach.
	bob := f.signedIn("bob@example.org")
	if p := bob.post(set, url.Values{"delivery": {"off"}}); p.status != http.StatusForbidden {
		t.Errorf("bob on alice's member: %d", p.status)
	}
}
