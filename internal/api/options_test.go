package api_test

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/api"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
)

type listOption struct {
	Name, Type, Group, Help string
	Value                   any
	Choices                 []string
	Min, Max                *int64
	AdminOnly               bool `json:"admin_only"`
}

// TestOptionsGet: GET returns every option of the table, in its groups
// and order, each with its type, a value of that type, its group and
// its help.
func TestOptionsGet(t *testing.T) {
	f := newFixture(t)
	var got []listOption
	r := f.get("alice@example.org", api.Prefix+"/lists/a@lists.example.org/options")
	if r.status != http.StatusOK {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
	r.json(t, &got)
	var want []admin.Option
	for _, sec := range admin.Grouped(admin.ListOptions()) {
		want = append(want, sec.Items...)
	}
	if len(got) != len(want) {
		t.Fatalf("%d options, the table has %d", len(got), len(want))
	}
	for i, o := range want {
		g := got[i]
		if g.Name != o.Name || g.Type != string(o.Type) || g.Group != o.Group || g.Help != o.Help || !slices.Equal(g.Choices, o.Choices) {
			t.Errorf("option %d: %+v, want %s %s %s", i, g, o.Name, o.Type, o.Group)
		}
		switch o.Type {
		case admin.TypeBool:
			if _, ok := g.Value.(bool); !ok {
				t.Errorf("%s: value %#v is not a boolean", o.Name, g.Value)
			}
		case admin.TypeNumber:
			if _, ok := g.Value.(float64); !ok || g.Min == nil {
				t.Errorf("%s: value %#v is not a number, or no min", o.Name, g.Value)
			}
		default:
			if _, ok := g.Value.(string); !ok {
				t.Errorf("%s: value %#v is not a string", o.Name, g.Value)
			}
		}
	}
}

// TestOptionsPatch: typed values are saved; invalid ones are refused
// all at once, each named in the error's fields, and nothing is saved;
// an owner may not set an admin-only option.
func TestOptionsPatch(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const alice, path = "alice@example.org", api.Prefix + "/lists/a@lists.example.org/options"
	r := f.sendJSON(alice, "PATCH", path, map[string]any{"hold_days": 30, "smime_opaque": true, "on_unsigned": "hold",
		"autocrypt": "false"})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	var got []listOption
	r.json(t, &got)
	for _, o := range got {
		if want, ok := map[string]any{"hold_days": float64(30), "smime_opaque": true, "on_unsigned": "hold", "autocrypt": false}[o.Name]; ok && o.Value != want {
			t.Errorf("%s = %#v, want %#v", o.Name, o.Value, want)
		}
	}
	l, _ := f.svc.List(ctx, "a@lists.example.org")
	if l.Settings.HoldDays != 30 || !l.Settings.SMIMEOpaque || !l.Settings.NoAutocrypt {
		t.Errorf("saved %+v", l.Settings)
	}

	r = f.sendJSON(alice, "PATCH", path, map[string]any{"subject_prefix": "[a]", "hold_days": 0, "bounce_days": 2.5,
		"on_unsigned": "maybe", "smime_opaque": "perhaps", "nonsense": true})
	if r.status != http.StatusUnprocessableEntity || r.code(t) != "invalid" {
		t.Fatalf("invalid PATCH: %d %s", r.status, r.body)
	}
	var e struct {
		Error struct {
			Message string
			Fields  map[string]string
		}
	}
	r.json(t, &e)
	for name, say := range map[string]string{"hold_days": "less than 1", "bounce_days": "not a whole number",
		"on_unsigned": "not one of", "smime_opaque": "invalid value"} {
		if !strings.Contains(e.Error.Fields[name], say) {
			t.Errorf("fields[%s] = %q, want %q (all: %v)", name, e.Error.Fields[name], say, e.Error.Fields)
		}
	}
	if _, ok := e.Error.Fields["subject_prefix"]; ok || !strings.Contains(e.Error.Message, `unknown option "nonsense"`) {
		t.Errorf("error: %+v", e.Error)
	}
	if l, _ := f.svc.List(ctx, "a@lists.example.org"); l.Settings.SubjectPrefix != "" || l.Settings.HoldDays != 30 {
		t.Errorf("a refused PATCH saved %+v", l.Settings)
	}
	r = f.sendJSON(alice, "PATCH", path, map[string]any{"subject_prefix": nil})
	if r.json(t, &e); r.status != http.StatusUnprocessableEntity || e.Error.Fields["subject_prefix"] == "" {
		t.Errorf("null: %d %s", r.status, r.body)
	}

	// A gateway's admin-only option: not for its owner.
	if _, err := f.svc.CreateGateway(ctx, "help@example.org", "alice@example.org", "", pgp.Ed25519, "smtp://helpdesk.internal:25"); err != nil {
		t.Fatal(err)
	}
	r = f.sendJSON(alice, "PATCH", api.Prefix+"/lists/help@example.org/options", map[string]any{"deliver_to": "smtp://elsewhere.example:25"})
	r.json(t, &e)
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(e.Error.Fields["deliver_to"], "only an admin") {
		t.Errorf("owner sets deliver_to: %d %s", r.status, r.body)
	}
	r = f.sendJSON("admin@example.org", "PATCH", api.Prefix+"/lists/help@example.org/options", map[string]any{"deliver_to": "smtp://elsewhere.example:25"})
	if r.status != http.StatusOK {
		t.Errorf("admin sets deliver_to: %d %s", r.status, r.body)
	}
}

// TestMemberSettingsAPI: PATCH a member's delivery, admin role and
// S/MIME settings; a value not offered changes nothing; a further key
// pasted as text (made by gpg) is added.
func TestMemberSettingsAPI(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const alice = "alice@example.org"
	member := api.Prefix + "/lists/a@lists.example.org/members/dave@example.org"
	if _, _, err := f.svc.AddMember(ctx, "a@lists.example.org", "dave@example.org", memberKey(t, "dave@example.org"), false); err != nil {
		t.Fatal(err)
	}
	r := f.sendJSON(alice, "PATCH", member, map[string]any{"admin": true, "delivery": "off", "smime_cipher": "aes128-gcm",
		"smime_keytransport": "rsa-oaep-sha256"})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH member: %d %s", r.status, r.body)
	}
	var m struct {
		Admin             bool
		Disabled          *string `json:"delivery_disabled"`
		SMIMECipher       string  `json:"smime_cipher"`
		SMIMEKeyTransport string  `json:"smime_keytransport"`
	}
	r.json(t, &m)
	if !m.Admin || m.Disabled == nil || m.SMIMECipher != "aes128-gcm" || m.SMIMEKeyTransport != "rsa-oaep-sha256" {
		t.Errorf("member: %+v", m)
	}
	r = f.sendJSON(alice, "PATCH", member, map[string]any{"admin": false, "smime_keytransport": "rot13"})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "smime_keytransport") {
		t.Errorf("a transport not offered: %d %s", r.status, r.body)
	}
	if v, _ := f.svc.Member(ctx, "a@lists.example.org", "dave@example.org"); !v.Admin {
		t.Error("a refused PATCH changed admin")
	}

	g := gpgtest.New(t)
	fpr := g.GenKey("Dave <dave@example.org>")
	r = f.do(alice, "POST", member+"/keys", bytes.NewReader(g.Export(fpr)), map[string]string{"Content-Type": "text/plain"})
	if r.status != http.StatusCreated || !strings.Contains(string(r.body), fpr) {
		t.Errorf("pasted key: %d %s", r.status, r.body)
	}
}
