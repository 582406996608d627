package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	stdmime "mime"
	netmail "net/mail"
	nettextproto "net/textproto"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// VerifiedHeader is the field Sealpost adds inside each copy to say who
// signed the post. Inbound fields with the X-Sealpost- prefix are never
// carried over (DESIGN §4.7).
const VerifiedHeader = "X-Sealpost-Verified"

// ResentHeader tells the members of a post whom its sender had it resent
// to (X-RESEND keywords).
const ResentHeader = "X-Sealpost-Resent"

// address is a parsed mailbox.
type address struct{ name, addr string }

// headers are the fields of a post that Sealpost uses, taken from the
// signed content (protected headers) where present, else from the outer
// message (DESIGN §4.7: reply targets from protected headers only).
type headers struct {
	from         address
	outerFrom    string
	multipleFrom bool // more than one From field outside or inside
	subject      string
	date         string
	messageID    string
	inReplyTo    string
	references   string
	// The threading fields the sender left in clear, which the copies
	// repeat in clear; protected ones stay inside.
	outerInReplyTo, outerReferences string
	// autocrypt is the Autocrypt header, and whether it came from the
	// signed content (protected) rather than the outer header.
	autocrypt        string
	autocryptSigned  bool
	signedRecipients []string // protected To and Cc; nil when absent
	to, cc           string   // the To and Cc fields as written

	// Set by present from the list's options, for the copies.
	fromField    string // From of the copies
	outerSubject string // Subject outside the encryption; "" for "..."
	outerCc      string // Cc of a copy sent to several people (X-RESEND-CC)
	replyTo      string // Reply-To of the copies
	anonymous    bool   // the list hides who posted
	protection   crypto.Protection
	resent       string       // where the post was resent (X-RESEND), for the members
	attach       []Attachment // added to the copies (X-ATTACH-LISTKEY)
}

func readHeaders(outer, content *mime.Part) headers {
	var h headers
	// RFC 5322 §3.6: one From field. Two in the outer header are refused
	// even when a protected From exists, for the reader of the original.
	h.multipleFrom = len(outer.Header.Values("From")) > 1 || len(content.Header.Values("From")) > 1
	pick := func(k string) string {
		if v := content.Header.Get(k); v != "" {
			return v
		}
		return outer.Header.Get(k)
	}
	if n, a, err := mail.ParseAddress(pick("From")); err == nil {
		h.from = address{n, a}
	}
	h.subject, h.date = pick("Subject"), pick("Date")
	h.to, h.cc = pick("To"), pick("Cc")
	h.messageID = msgID(pick("Message-Id"))
	h.inReplyTo = msgIDs(pick("In-Reply-To"))
	h.references = msgIDs(pick("References"))
	h.outerInReplyTo = msgIDs(outer.Header.Get("In-Reply-To"))
	h.autocrypt, h.autocryptSigned = content.Header.Get("Autocrypt"), true
	if h.autocrypt == "" {
		h.autocrypt, h.autocryptSigned = outer.Header.Get("Autocrypt"), false
	}
	h.outerReferences = msgIDs(outer.Header.Get("References"))
	for _, k := range []string{"To", "Cc"} {
		list, err := netmail.ParseAddressList(content.Header.Get(k))
		if err != nil {
			continue
		}
		for _, a := range list {
			if n, err := mail.Normalize(a.Address); err == nil {
				h.signedRecipients = append(h.signedRecipients, n)
			}
		}
	}
	return h
}

// msgID returns v when it is one well-formed msg-id (RFC 5322 §3.6.4).
func msgID(v string) string {
	v = strings.TrimSpace(v)
	if len(v) < 3 || len(v) > 250 || v[0] != '<' || v[len(v)-1] != '>' || strings.ContainsAny(v[1:len(v)-1], "<> \t\r\n") {
		return ""
	}
	return v
}

// msgIDs keeps the well-formed msg-ids of a list.
func msgIDs(v string) string {
	var out []string
	for _, f := range strings.Fields(v) {
		if id := msgID(f); id != "" {
			out = append(out, id)
		}
	}
	return strings.Join(out, " ")
}

// field is one header field in the order it is written.
type field = mime.HeaderField

// wrap makes every member's copy. The inner entity is signed once per
// format in use — an OpenPGP signed message, an S/MIME multipart/signed
// entity — and the signed form is then encrypted to each member's key.
//
// The members' copies are not made here: the signed forms are stored once
// (the returned body) and each member's delivery names it with their
// recipient choice; the queue renders the copy as it delivers it
// (render.go, DESIGN §5). Notices, plain and resent copies are made here.
func (p *Pipeline) wrap(ctx context.Context, list *store.List, r *roster, content *mime.Part, h headers, dec policy.Decision, signer *crypto.Signer, ref string, plan *postPlan) ([]store.Delivery, *store.PostBody, error) {
	if err := p.present(list, &h); err != nil {
		return nil, nil, err
	}
	if err := p.applyPlan(list, &h, plan); err != nil {
		return nil, nil, err
	}
	inner, err := p.innerEntity(list, content, h, dec, signer)
	if err != nil {
		return nil, nil, err
	}
	// The copies made from inner itself first: a large post's inner
	// entity, at its full size, is then garbage once it is signed.
	var plain, resent []store.Delivery
	if len(dec.Plain) > 0 {
		if plain, err = p.plainCopies(list, inner, h, dec.Plain, ref); err != nil {
			return nil, nil, err
		}
	}
	if plan != nil {
		if resent, err = p.resendCopies(list, inner, h, plan, ref); err != nil {
			return nil, nil, err
		}
	}
	out := make([]store.Delivery, 0, len(dec.Send)+len(dec.NoKey)+len(plain)+len(resent))
	var body *store.PostBody
	if len(dec.Send) > 0 {
		if body, err = p.storedBody(list, r, content, inner, h, dec.Send, ref); err != nil {
			return nil, nil, err
		}
	}
	for _, m := range dec.Send {
		out = append(out, store.Delivery{Ref: ref, ListID: list.ID, Kind: store.KindPost,
			From: p.verp(list.Address, m.Email), To: m.Email, Recipient: choiceOf(r.to[m.Email])})
	}
	notices, err := p.wrapNotices(ctx, list, r, dec.NoKey, ref)
	if err != nil {
		return nil, nil, err
	}
	out = append(out, notices...)
	out = append(out, plain...)
	out = append(out, resent...)
	return out, body, nil
}

// storedBody signs inner once in each format the members send need and
// seals it, with the copies' outer header, as the post's stored body.
func (p *Pipeline) storedBody(list *store.List, r *roster, content *mime.Part, inner []byte, h headers, send []policy.Member, ref string) (*store.PostBody, error) {
	// Inline parts first: content (the decrypted post, which a large
	// post's parts point into) is not needed past them, and can be
	// collected while the whole entity is signed.
	var inline []inlinePart
	if needsInline(r, send) {
		var err error
		if inline, err = p.signInline(list, content, h); err != nil {
			return nil, err
		}
	}
	s, err := p.signOnce(list, r, inner, send)
	if err != nil {
		return nil, err
	}
	s.inline = inline
	return p.sealBody(list, ref, &postBody{signed: s, header: p.outerHeader(list, h), allowV2: list.Settings.AllowSEIPDv2})
}

// wrapNotices are the notices of a post to the members without a usable
// key, and to the owner about them.
func (p *Pipeline) wrapNotices(ctx context.Context, list *store.List, r *roster, noKey []policy.Member, ref string) ([]store.Delivery, error) {
	var out []store.Delivery
	for _, m := range noKey {
		n, err := p.noKeyNotice(list, m.Email, r.to[m.Email], ref)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(noKey) > 0 {
		ns, err := p.unservedNotice(ctx, list, r, noKey, ref)
		if err != nil {
			return nil, err
		}
		out = append(out, ns...)
	}
	return out, nil
}

// plainCopies are the copies for members without a usable key on a list
// that sends them in clear (send_encrypted_only=false): the inner entity
// as a PGP/MIME multipart/signed message signed by the list (RFC 3156
// §5), the real Subject outside.
func (p *Pipeline) plainCopies(list *store.List, inner []byte, h headers, to []policy.Member, ref string) ([]store.Delivery, error) {
	ct, body, err := p.signedBody(list, inner)
	if err != nil {
		return nil, err
	}
	h.outerSubject = h.subject
	out := make([]store.Delivery, 0, len(to))
	for _, m := range to {
		from := p.verp(list.Address, m.Email)
		data, err := p.outerMessage(list, h, m.Email, from, ct, body)
		if err != nil {
			return nil, err
		}
		out = append(out, store.Delivery{Ref: ref, ListID: list.ID, Kind: store.KindPost,
			From: from, To: m.Email, Data: data})
	}
	return out, nil
}

// signed is the inner entity signed once in each format that is needed.
type signed struct {
	pgp    *pgp.Signed
	smime  []byte       // multipart/signed entity
	inline []inlinePart // each part signed, for inline copies
}

func needsInline(r *roster, send []policy.Member) bool {
	for _, m := range send {
		if r.to[m.Email].inline {
			return true
		}
	}
	return false
}

func (p *Pipeline) signOnce(list *store.List, r *roster, inner []byte, send []policy.Member) (signed, error) {
	tos := make([]recipient, len(send))
	for i, m := range send {
		tos[i] = r.to[m.Email]
	}
	return p.signFormats(list, inner, tos)
}

// signFormats signs inner once in each format the recipients tos need:
// an OpenPGP signed message for PGP/MIME, a multipart/signed entity for
// S/MIME (inline copies are signed per part, elsewhere).
func (p *Pipeline) signFormats(list *store.List, inner []byte, tos []recipient) (signed, error) {
	var s signed
	for _, to := range tos {
		switch {
		case to.pgp != nil && !to.inline && s.pgp == nil:
			listKey, err := p.listKey(list)
			if err != nil {
				return s, err
			}
			if s.pgp, err = pgp.Sign(listKey, inner, p.pgpOptions()); err != nil {
				return s, err
			}
		case to.cert != nil && s.smime == nil:
			id, err := p.listIdentity(list)
			if err != nil {
				return s, err
			}
			sign := smime.SignEntity
			if list.Settings.SMIMEOpaque {
				sign = smime.SignOpaqueEntity
			}
			if s.smime, err = sign(inner, id, smime.Options{Now: p.opt.Now, Rand: p.opt.Rand}); err != nil {
				return s, err
			}
		}
	}
	return s, nil
}

// encryptCopies encrypts the signed post to each member, spreading the
// work over the available cores; copies[i] is for send[i].
func (p *Pipeline) encryptCopies(list *store.List, s signed, r *roster, h headers, send []policy.Member) ([][]byte, error) {
	copies := make([][]byte, len(send))
	errs := make([]error, len(send))
	onCores(len(send), func(i int) {
		copies[i], errs[i] = p.copyFor(list, s, r.to[send[i].Email], h, send[i].Email, p.verp(list.Address, send[i].Email))
	})
	return copies, errors.Join(errs...)
}

// onCores runs f(0), ..., f(n-1) on as many goroutines as there are
// cores (at most n) and returns when all have run.
func onCores(n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), n) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		})
	}
	wg.Wait()
}

// copyFor encrypts the signed post for one member in their format; from
// is the copy's envelope sender (writeOuterHeader).
func (p *Pipeline) copyFor(list *store.List, s signed, to recipient, h headers, addr, from string) ([]byte, error) {
	var b bytes.Buffer
	err := p.renderCopy(&b, &postBody{signed: s, header: p.outerHeader(list, h), allowV2: list.Settings.AllowSEIPDv2}, to, addr, from)
	return b.Bytes(), err
}

// encryptFor is encryptSigned under the list's setting for SEIPD v2.
func (p *Pipeline) encryptFor(list *store.List, s signed, to recipient,
	outer func(contentType string, body []byte, mimeFields ...field) ([]byte, error)) ([]byte, error) {
	return p.encryptSigned(s, to, list.Settings.AllowSEIPDv2, outer)
}

// encryptSigned encrypts s to one recipient, S/MIME (RFC 8551 §3.3, with
// the cipher and key transport their client reads: smimeEncryption) or
// PGP/MIME (RFC 3156 §4), and puts the result under the header outer
// writes. allowV2 allows SEIPD v2 where the recipient's key asks for it.
func (p *Pipeline) encryptSigned(s signed, to recipient, allowV2 bool,
	outer func(contentType string, body []byte, mimeFields ...field) ([]byte, error)) ([]byte, error) {
	e, err := p.encryption(s, to, allowV2)
	if err != nil {
		return nil, err
	}
	var body bytes.Buffer
	// Base64 or armour: four characters for every three bytes, in lines.
	body.Grow(e.size*4/3 + e.size/16 + 4096)
	if err := e.write(&body); err != nil {
		return nil, err
	}
	return outer(e.contentType, body.Bytes(), e.fields...)
}

// encrypted is how a copy's body is encrypted to one recipient: its
// Content-Type and further MIME fields, known before the body, and write,
// which encrypts the body as it writes it.
type encrypted struct {
	contentType string
	fields      []field
	size        int // of what is encrypted
	write       func(w io.Writer) error
}

// encryption is s encrypted to one recipient, S/MIME (RFC 8551 §3.3) or
// PGP/MIME (RFC 3156 §4): the one way a copy's body is made, whether it
// is written into the outbox as it is made or into memory.
func (p *Pipeline) encryption(s signed, to recipient, allowV2 bool) (encrypted, error) {
	if to.cert != nil {
		// The cipher and key transport the roster chose for their
		// client (smimeEncryption).
		opt := smime.EncryptOptions{Cipher: to.cipher, KeyTransport: to.keyTransport, Rand: p.opt.Rand}
		return encrypted{smime.EncryptedEntityType(opt), smimeFields, len(s.smime), func(w io.Writer) error {
			return smime.EncryptEntityTo(w, s.smime, to.cert, opt)
		}}, nil
	}
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return encrypted{}, err
	}
	return encrypted{pgp.EncryptedContentType(boundary), nil, len(s.pgp.Bytes()), func(w io.Writer) error {
		return s.pgp.EncryptBodyTo(w, to.pgp, allowV2, boundary)
	}}, nil
}

// viaName is the display name of a copy's From: "Sender via list".
func viaName(list *store.List, from address) string {
	who := from.name
	if who == "" {
		who = from.addr
	}
	name := list.Name
	if name == "" {
		name = list.Address
	}
	return who + " via " + name
}

// innerEntity is the entity that is signed and encrypted: the sender's
// content with its own Content-* fields, under protected headers (RFC 9788
// §2; protected-headers="v1" is the older marker mail clients look for).
func (p *Pipeline) innerEntity(list *store.List, content *mime.Part, h headers, dec policy.Decision, signer *crypto.Signer) ([]byte, error) {
	protected := []field{
		{"From", h.fromField},
		{"Reply-To", h.replyTo},
		{"To", list.Address},
		{"Subject", h.subject},
		{"Date", h.date},
		{"Message-ID", h.messageID},
		{"In-Reply-To", h.inReplyTo},
		{"References", h.references},
		{VerifiedHeader, verified(dec, signer, h.anonymous, h.protection.Encrypted)},
		{ResentHeader, h.resent},
	}
	// The content's own Content-* fields; every other inbound field is
	// dropped (DESIGN §4.7).
	var contentFields []field
	for fs := content.Header.Fields(); fs.Next(); {
		k := nettextproto.CanonicalMIMEHeaderKey(fs.Key())
		if strings.HasPrefix(k, "Content-") && k != "Content-Type" {
			contentFields = append(contentFields, field{k, fs.Value()})
		}
	}
	params, body, err := withoutLegacyDisplay(content)
	if err != nil {
		return nil, err
	}
	mediaType := content.MediaType
	if meta, footer := p.metaBlock(list, h, dec, signer), list.Settings.Footer; meta != "" || footer != "" || len(h.attach) > 0 {
		if mediaType, params, body, err = p.decorate(mediaType, params, contentFields, body, meta, footer, h.attach); err != nil {
			return nil, err
		}
		contentFields = nil
	}
	if !list.Settings.LegacyDisplay {
		ct := field{"Content-Type", stdmime.FormatMediaType(mediaType, protectedParams(params))}
		return entity(append(append(protected, ct), contentFields...), body)
	}
	// RFC 9788 §4.5: the content goes into a multipart/mixed after a part
	// that shows the protected headers to clients that do not read them
	// (the sender's own display is gone: withoutLegacyDisplay).
	inner, err := entity(append([]field{{"Content-Type", stdmime.FormatMediaType(mediaType, params)}}, contentFields...), body)
	if err != nil {
		return nil, err
	}
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("--" + boundary + "\r\nContent-Type: text/plain; charset=utf-8; hp-legacy-display=\"1\"\r\n\r\n")
	for _, f := range protected[:4] { // From, Reply-To, To, Subject
		if f[1] != "" {
			b.WriteString(f[0] + ": " + f[1] + "\r\n")
		}
	}
	b.WriteString("\r\n--" + boundary + "\r\n")
	b.Write(inner)
	b.WriteString("\r\n--" + boundary + "--\r\n")
	ct := field{"Content-Type", stdmime.FormatMediaType("multipart/mixed", protectedParams(map[string]string{"boundary": boundary}))}
	return entity(append(protected, ct), []byte(b.String()))
}

// verified is the X-Sealpost-Verified value: who signed, or, for a post
// the list's actions let through unauthenticated, that nobody is vouched
// for and why.
func verified(dec policy.Decision, signer *crypto.Signer, anonymous, encrypted bool) string {
	clear := ""
	if !encrypted {
		clear = "; sent unencrypted"
	}
	if dec.Unbound {
		// DESIGN §4.4: the signed content named no recipient.
		clear += "; not bound to the list"
	}
	if dec.Authenticated() && anonymous {
		return "signed by a member of the list" + clear
	}
	if dec.Authenticated() {
		return "signed by " + dec.Sender.Email + "; key " + signer.Fingerprint + clear
	}
	switch dec.Reason {
	case policy.Unsigned:
		return "no; not signed"
	case policy.KeyInvalid:
		return "no; signed with an expired or revoked key"
	}
	if signer != nil {
		return "no; signed by a key of no member (" + signer.Fingerprint + ")"
	}
	return "no; signed by a key of no member"
}

// protectedParams marks a Content-Type as carrying protected headers:
// hp="cipher" (RFC 9788 §2) and protected-headers="v1", the older marker
// mail clients look for.
func protectedParams(params map[string]string) map[string]string {
	out := make(map[string]string, len(params)+2)
	for k, v := range params {
		out[k] = v
	}
	out["protected-headers"] = "v1"
	out["hp"] = "cipher"
	return out
}

// entity writes a header and a body as one MIME entity.
func entity(fields []field, body []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(body) + 4096) // one allocation for a large post
	if err := mime.WriteFields(&b, fields); err != nil {
		return nil, err
	}
	b.Write(body)
	return b.Bytes(), nil
}

// outerMessage is one member's copy as it travels: routing headers in
// clear, the real Subject only inside (RFC 9788 §4: "..." outside), then
// the encrypted body with its Content-Type and any further MIME fields.
// from is the copy's envelope sender (writeOuterHeader).
func (p *Pipeline) outerMessage(list *store.List, h headers, to, from, contentType string, body []byte, mimeFields ...field) ([]byte, error) {
	return writeOuter(p.outerHeader(list, h), to, from, contentType, body, mimeFields...)
}

// outerHeader is the header of a post's copies without the fields of
// each copy: To, left empty, and the MIME fields.
func (p *Pipeline) outerHeader(list *store.List, h headers) []field {
	fields := []field{
		{"From", h.fromField},
		{"Reply-To", h.replyTo},
		{"To", ""},
		{"Cc", h.outerCc},
		{"Subject", orDots(h.outerSubject)},
		{"Date", h.date},
		{"Message-ID", h.messageID},
		{"In-Reply-To", h.outerInReplyTo},
		{"References", h.outerReferences},
		{"List-Id", mail.ListID(list.Address, list.Name)},
		{"List-Post", mail.ListPost(list.Address)},
		{"Precedence", "list"},
		{"X-Loop", list.Address},
	}
	if !list.Settings.NoOpenPGPHeader {
		fields = append(fields, field{"OpenPGP", mail.OpenPGPHeader(list.KeyFingerprint)})
	}
	if !list.Settings.NoAutocrypt {
		fields = append(fields, field{"Autocrypt", mail.Autocrypt(list.Address, list.PublicKey)})
	}
	return fields
}

// writeOuter writes one copy to the address to: header (outerHeader) with
// its To, then the body with its Content-Type and further MIME fields.
func writeOuter(header []field, to, from, contentType string, body []byte, mimeFields ...field) ([]byte, error) {
	var b bytes.Buffer
	b.Grow(len(body) + 1024)
	if err := writeOuterHeader(&b, header, to, from, contentType, mimeFields...); err != nil {
		return nil, err
	}
	b.Write(body)
	return b.Bytes(), nil
}

// smimeFields are the MIME fields of an S/MIME copy's
// application/pkcs7-mime entity besides its Content-Type (RFC 8551 §3.3).
var smimeFields = []field{
	{"Content-Transfer-Encoding", "base64"},
	{"Content-Disposition", `attachment; filename="smime.p7m"`},
}

// writeOuterHeader writes the header of one copy to the address to. A
// copy sent from a member's VERP address (from, its envelope sender)
// carries it in BounceHeader too: a bounce that reaches the bare bounce
// address proves with it whose copy bounced (returnedMember).
func writeOuterHeader(b io.Writer, header []field, to, from, contentType string, mimeFields ...field) error {
	fields := make([]field, 0, len(header)+4+len(mimeFields))
	for _, f := range header {
		if f[0] == "To" {
			f[1] = "<" + to + ">"
		}
		fields = append(fields, f)
	}
	if isVERP(from) {
		fields = append(fields, field{BounceHeader, from})
	}
	fields = append(fields, field{"MIME-Version", "1.0"}, field{"Content-Type", contentType})
	fields = append(fields, mimeFields...)
	return mime.WriteFields(b, fields)
}

// signedBody is entity as a PGP/MIME multipart/signed body signed by the
// list's key (RFC 3156 §5), with its Content-Type.
func (p *Pipeline) signedBody(list *store.List, entity []byte) (string, []byte, error) {
	listKey, err := p.listKey(list)
	if err != nil {
		return "", nil, err
	}
	sig, err := pgp.DetachSign(listKey, entity, p.pgpOptions())
	if err != nil {
		return "", nil, err
	}
	boundary, err := mime.NewBoundary(p.opt.Rand)
	if err != nil {
		return "", nil, err
	}
	var b strings.Builder
	b.WriteString("--" + boundary + "\r\n")
	b.Write(mime.Canonicalize(entity))
	b.WriteString("\r\n--" + boundary + "\r\nContent-Type: application/pgp-signature; name=\"signature.asc\"\r\n" +
		"Content-Description: OpenPGP digital signature\r\n\r\n")
	b.Write(mime.Canonicalize(sig))
	b.WriteString("--" + boundary + "--\r\n")
	ct := stdmime.FormatMediaType("multipart/signed", map[string]string{"micalg": pgp.MICAlg,
		"protocol": "application/pgp-signature", "boundary": boundary})
	return ct, []byte(b.String()), nil
}

// orDots is the outer Subject of an encrypted copy: "..." (RFC 9788 §4)
// unless the copy is not encrypted.
func orDots(s string) string {
	if s == "" {
		return "..."
	}
	return s
}

func domainOf(addr string) string {
	_, d := mail.Split(addr)
	return d
}
