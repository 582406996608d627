package app_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	stdmime "mime"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/clienttest"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/notices"
	"github.com/sealpost/sealpost/internal/openssltest"
	"github.com/sealpost/sealpost/internal/store"
)

// The kinds of message Sealpost sends, by name.
const (
	kindPGPMIME        = "PGP/MIME copy"
	kindInline         = "inline copy (outgoing_format=inline)"
	kindSMIME          = "S/MIME copy, default cipher"
	kindSMIMEGCM       = "S/MIME copy, AES-GCM (smime_cipher=aes256-gcm)"
	kindSignedOnly     = "signed-only copy (send_encrypted_only=false)"
	kindOwnerNotice    = "owner notice (a post refused)"
	kindOwnerUnserved  = "owner notice (members not served)"
	kindMemberNotice   = "member notice (a post missed)"
	kindRequestReply   = "-request reply"
	kindResend         = "resend in clear (X-RESEND-UNENCRYPTED)"
	kindSendKey        = "list key (LIST-sendkey)"
	kindHelpdesk       = "gateway: a customer's message for the helpdesk"
	kindGatewayReply   = "gateway: the helpdesk's reply"
	kindCustomerNotice = "gateway: notice to a customer without key"
	kindDSN            = "gateway: DSN in the helpdesk's ticket"
)

// The shapes a message of Sealpost's has on the wire (shapeOf).
const (
	shapePGPEncrypted  = "PGP/MIME encrypted (RFC 3156)"
	shapePGPSigned     = "PGP/MIME signed (RFC 3156)"
	shapeInlinePGP     = "inline PGP"
	shapeEnveloped     = "S/MIME EnvelopedData (RFC 8551)"
	shapeAuthEnveloped = "S/MIME AuthEnvelopedData (RFC 5083)"
	shapeSMIMESigned   = "S/MIME signed (RFC 8551)"
	shapeDSN           = "delivery status notification (RFC 3464)"
	shapeKey           = "OpenPGP key attached, in clear"
	shapeClear         = "in clear"
)

// The programs that read Sealpost's mail, in the order they are run.
var readers = []string{"gpg", "gpgsm", "openssl", "notmuch", "mutt", "neomutt"}

// Reasons a program is not expected to open a kind of message.
const (
	notPGP      = "n/a: no OpenPGP in it"
	notSMIME    = "n/a: no S/MIME in it"
	noCrypto    = "n/a: neither signed nor encrypted"
	noInline    = "not supported: notmuch does not decrypt inline PGP"
	noAuthEnvGS = "not supported: GnuPG 2.2's gpgsm reads no AuthEnvelopedData (AES-GCM, RFC 5083)"
	noAuthEnv   = "not supported: reads S/MIME through gpgsm 2.2, which reads no AuthEnvelopedData (AES-GCM)"
)

// ownSubject means a reader shows the Subject the message carries
// outside (signed and clear messages).
const ownSubject = "(the message's own Subject)"

// outputKind is a kind of message Sealpost sends, and what each reader
// must make of it.
type outputKind struct {
	name      string
	storeKind string // how the queue holds it (store.Kind*)
	shape     string
	// subject is the Subject a reader must show: the post's real one
	// from inside, or ownSubject. With subjectInText the reader shows it
	// in the text instead (inline copies carry it there).
	subject       string
	subjectInText bool
	text          string // what a reader must show of the text
	encrypted     bool
	signer        string // "list", "gateway", "list certificate", or "" (unsigned)
	// readers says for every program of readers whether it must open
	// the message (""), or why it is not expected to.
	readers map[string]string
}

var openPGPReaders = map[string]string{"gpg": "", "gpgsm": notSMIME, "openssl": notSMIME, "notmuch": "", "mutt": "", "neomutt": ""}
var clearReaders = map[string]string{"gpg": noCrypto, "gpgsm": noCrypto, "openssl": noCrypto, "notmuch": "", "mutt": "", "neomutt": ""}

// outputKinds lists every kind of message Sealpost sends. A new kind gets
// a row here, and TestMailProgramsRead fails for a message of a shape or
// queue kind that no row has.
func outputKinds(t *testing.T) []outputKind {
	t.Helper()
	request, _, err := notices.Set{}.Render("request-reply", map[string]any{"List": team, "Answer": ""})
	if err != nil {
		t.Fatal(err)
	}
	return []outputKind{
		{name: kindPGPMIME, storeKind: store.KindPost, shape: shapePGPEncrypted, subject: readerSubject, text: readerText,
			encrypted: true, signer: "list", readers: openPGPReaders},
		{name: kindInline, storeKind: store.KindPost, shape: shapeInlinePGP, subject: readerSubject, subjectInText: true, text: readerText,
			encrypted: true, signer: "list",
			readers: map[string]string{"gpg": "", "gpgsm": notSMIME, "openssl": notSMIME, "notmuch": noInline, "mutt": "", "neomutt": ""}},
		{name: kindSMIME, storeKind: store.KindPost, shape: shapeEnveloped, subject: readerSubject, text: readerText,
			encrypted: true, signer: "list certificate",
			readers: map[string]string{"gpg": notPGP, "gpgsm": "", "openssl": "", "notmuch": "", "mutt": "", "neomutt": ""}},
		{name: kindSMIMEGCM, storeKind: store.KindPost, shape: shapeAuthEnveloped, subject: readerSubject, text: readerText,
			encrypted: true, signer: "list certificate",
			readers: map[string]string{"gpg": notPGP, "gpgsm": noAuthEnvGS, "openssl": "", "notmuch": noAuthEnv, "mutt": noAuthEnv, "neomutt": noAuthEnv}},
		{name: kindSignedOnly, storeKind: store.KindPost, shape: shapePGPSigned, subject: readerSubject, text: readerText,
			signer: "list", readers: openPGPReaders},
		{name: kindOwnerNotice, storeKind: store.KindNotice, shape: shapePGPSigned, subject: ownSubject, text: team,
			signer: "list", readers: openPGPReaders},
		{name: kindOwnerUnserved, storeKind: store.KindNotice, shape: shapePGPSigned, subject: ownSubject, text: keylessMember,
			signer: "list", readers: openPGPReaders},
		{name: kindMemberNotice, storeKind: store.KindNotice, shape: shapePGPSigned, subject: ownSubject, text: team,
			signer: "list", readers: openPGPReaders},
		{name: kindRequestReply, storeKind: store.KindNotice, shape: shapePGPEncrypted, subject: request, text: keylessMember,
			encrypted: true, signer: "list", readers: openPGPReaders},
		{name: kindResend, storeKind: store.KindPost, shape: shapePGPSigned, subject: readerSubject, text: readerText,
			signer: "list", readers: openPGPReaders},
		{name: kindSendKey, storeKind: store.KindSendKey, shape: shapeKey, subject: ownSubject, text: team,
			readers: map[string]string{"gpg": "", "gpgsm": notSMIME, "openssl": notSMIME, "notmuch": "", "mutt": "", "neomutt": ""}},
		{name: kindHelpdesk, storeKind: store.KindHelpdesk, shape: shapeClear, subject: readerSubject, text: readerText,
			readers: clearReaders},
		{name: kindGatewayReply, storeKind: store.KindReply, shape: shapePGPEncrypted, subject: readerSubject, text: readerText,
			encrypted: true, signer: "gateway", readers: openPGPReaders},
		{name: kindCustomerNotice, storeKind: store.KindNotice, shape: shapePGPSigned, subject: ownSubject, text: support,
			signer: "gateway", readers: openPGPReaders},
		{name: kindDSN, storeKind: store.KindHelpdesk, shape: shapeDSN, subject: ownSubject, text: keylessClient,
			readers: clearReaders},
	}
}

// TestMailProgramsRead: every kind of message Sealpost sends is opened
// by the programs its recipients use — gpg, gpgsm and openssl on the
// command line, notmuch (GMime), mutt and NeoMutt (gpgme) — and each
// decrypts it, finds the list's signature good with nothing reported
// wrong (no "verification failed", no NODATA), and shows the real
// Subject and the text, non-ASCII included.
func TestMailProgramsRead(t *testing.T) {
	clienttest.Require(t, "gpg", "gpgsm", "openssl", "notmuch", "mutt", "neomutt", "tmux")
	kinds := outputKinds(t)
	checkKindTable(t, kinds)
	sc := runScenario(t)
	declared := map[string]bool{}
	for _, k := range kinds {
		declared[k.shape] = true
	}
	for shape := range sc.shapes {
		if !declared[shape] {
			t.Errorf("Sealpost sent a message shaped %q that no kind in outputKinds has: add the kind", shape)
		}
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			msg, ok := sc.sent[k.name]
			if !ok {
				t.Fatal("the scenario made no message of this kind")
			}
			if got := shapeOf(t, msg.raw); got != k.shape {
				t.Errorf("shape = %s, want %s", got, k.shape)
			}
			for _, reader := range readers {
				if k.readers[reader] != "" {
					continue
				}
				t.Run(reader, func(t *testing.T) {
					r := sc.read(t, reader, msg)
					checkReading(t, sc, k, msg, r)
				})
			}
		})
	}
}

// checkKindTable: every kind says for every reader whether it must open
// it, and every queue kind (store.Kind*) has a row.
func checkKindTable(t *testing.T, kinds []outputKind) {
	t.Helper()
	covered := map[string]bool{}
	for _, k := range kinds {
		covered[k.storeKind] = true
		for _, r := range readers {
			if _, ok := k.readers[r]; !ok {
				t.Errorf("%s: nothing said about %s", k.name, r)
			}
		}
	}
	for _, sk := range deliveryKinds(t) {
		if !covered[sk] {
			t.Errorf("the queue's kind %q has no row in outputKinds", sk)
		}
	}
}

// deliveryKinds reads the delivery kinds (the Kind* constants) from the
// store package's source, so that a new one cannot be missed here.
func deliveryKinds(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join("..", "store", "store.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Kind") {
			return true
		}
		if lit, ok := vs.Values[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			v, _ := strconv.Unquote(lit.Value)
			kinds = append(kinds, v)
		}
		return true
	})
	if !slices.Contains(kinds, store.KindPost) {
		t.Fatalf("found no delivery kinds in the store package (%v)", kinds)
	}
	return kinds
}

// read opens msg with reader as its recipient.
func (sc *scenario) read(t *testing.T, reader string, msg sentMessage) clienttest.Reading {
	t.Helper()
	home := sc.homes[msg.to]
	switch reader {
	case "gpg":
		return clienttest.GPGRead(t, home, msg.raw)
	case "gpgsm":
		return clienttest.GpgsmRead(t, home, msg.raw)
	case "openssl":
		name := strings.Split(msg.to, "@")[0]
		return clienttest.OpenSSLRead(t, openssltest.New(t), filepath.Join(sc.o.Dir, name+".pem"),
			filepath.Join(sc.o.Dir, name+".key"), sc.caFile, msg.raw)
	case "notmuch":
		return clienttest.NewNotmuch(t, home.Home).Read(msg.raw)
	case "mutt", "neomutt":
		return clienttest.NewMutt(t, reader, home.Home).Read(msg.raw)
	}
	t.Fatalf("no reader %q", reader)
	return clienttest.Reading{}
}

// checkReading: what reader r made of msg is what a user of it must see.
func checkReading(t *testing.T, sc *scenario, k outputKind, msg sentMessage, r clienttest.Reading) {
	t.Helper()
	bad := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format, append([]any{r.Program}, args...)...)
	}
	if len(r.Trouble) > 0 {
		bad("reports trouble: %q", r.Trouble)
	}
	if k.encrypted && !r.Decrypted {
		bad("did not decrypt it")
	}
	if k.signer != "" {
		want := map[string]string{"list": sc.listFpr, "gateway": sc.gwFpr}[k.signer]
		if !r.GoodSignature {
			bad("found no good signature by the %s", k.signer)
		} else if want != "" && r.Signer != "" && !strings.EqualFold(r.Signer, want) {
			bad("signature by %s, want the %s's %s", r.Signer, k.signer, want)
		}
	}
	subject := k.subject
	if subject == ownSubject {
		subject = outerSubject(t, msg.raw)
	}
	switch {
	case k.subjectInText:
		if !strings.Contains(r.Text, "Subject: "+subject) {
			bad("does not show the Subject %q in the text", subject)
		}
	case r.Subject != subject:
		bad("shows the Subject %q, want %q", r.Subject, subject)
	}
	if !strings.Contains(r.Text, k.text) {
		bad("does not show %q", k.text)
	}
	if t.Failed() {
		t.Logf("%s showed:\n%s\n--- details ---\n%s", r.Program, r.Text, r.Raw)
	}
}

// outerSubject is the decoded Subject of msg's header.
func outerSubject(t *testing.T, msg []byte) string {
	t.Helper()
	p, err := mime.ParseHeader(msg, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := new(stdmime.WordDecoder).DecodeHeader(p.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// shapeOf says what msg is on the wire.
func shapeOf(t *testing.T, msg []byte) string {
	t.Helper()
	p, err := mime.Parse(msg, mime.Limits{})
	if err != nil {
		t.Fatalf("Sealpost sent a message that does not parse: %v", err)
	}
	switch {
	case p.MediaType == "multipart/encrypted":
		return shapePGPEncrypted
	case p.MediaType == "multipart/signed" && p.Params["protocol"] == "application/pgp-signature":
		return shapePGPSigned
	case p.MediaType == "multipart/signed":
		return shapeSMIMESigned
	case p.MediaType == "application/pkcs7-mime" && strings.EqualFold(p.Params["smime-type"], "authEnveloped-data"):
		return shapeAuthEnveloped
	case p.MediaType == "application/pkcs7-mime":
		return shapeEnveloped
	case p.MediaType == "multipart/report":
		return shapeDSN
	}
	shape := shapeClear
	walkLeaves(p, func(leaf *mime.Part) {
		switch {
		case strings.HasSuffix(leaf.Params["name"], ".pgp") || strings.Contains(string(leaf.Body), "-----BEGIN PGP MESSAGE-----"):
			shape = shapeInlinePGP
		case leaf.MediaType == "application/pgp-keys" && shape == shapeClear:
			shape = shapeKey
		}
	})
	return shape
}

func walkLeaves(p *mime.Part, fn func(*mime.Part)) {
	if !p.IsMultipart() {
		fn(p)
	}
	for _, c := range p.Children {
		walkLeaves(c, fn)
	}
}
