package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// A gateway (DESIGN §1) stands in front of a helpdesk: mail to its
// address is decrypted and verified and handed to the helpdesk in clear,
// with two fields that say what Sealpost found. Any field with the
// X-Sealpost- prefix that arrives from outside is removed first (DESIGN
// §4.7; Request Tracker's CVE-2012-4735), so the helpdesk can rely on
// them.
const (
	// EncryptionHeader is "yes; engine=openpgp|smime; cipher=..." or "none".
	EncryptionHeader = "X-Sealpost-Encryption"
	// SignatureHeader is the signature's status word, then details:
	// good (signer=, address=, trust=pinned|known|first-seen|ca),
	// untrusted (trust=changed: a good signature by another key than the
	// one of the same engine on file for the sender), mismatch (good,
	// but the key is not the From address's, or the signed message was
	// addressed to someone else),
	// invalid (expired or revoked key), bad, unknown (a key Sealpost does
	// not have), or none.
	SignatureHeader = "X-Sealpost-Signature"
	// ourPrefix marks the fields only Sealpost may write.
	ourPrefix = "X-Sealpost-"
)

// Trust levels of a good signature at a gateway.
const (
	trustPinned    = "pinned"     // a key an administrator gave for the sender
	trustKnown     = "known"      // a key learnt from the sender's earlier mail
	trustFirstSeen = "first-seen" // the message brought the key, and none was on file
	trustChanged   = "changed"    // another key of the same engine is on file for the sender
	trustCA        = "ca"         // an S/MIME certificate that chains to a trust anchor
)

// arrival is what a gateway learnt from one inbound message.
type arrival struct {
	o       *opened
	outer   *mime.Part // the message as received
	content *mime.Part // the authenticated content (the whole message when not encrypted)
	h       headers
	engine  string // the encryption's engine, "" when not encrypted
	verdict string // the signature's status word
	trust   string
	detail  string // why the signature is not good; never content
	// offered are the OpenPGP keys the message brought (attached or in
	// an Autocrypt header), by fingerprint.
	offered map[string]*pgp.Key
	r       *roster // the sender's keys on file
	// sender is whom the helpdesk is told the message is from (From and
	// the envelope sender); bound when the content binds it. binds are
	// the addresses the message makes its conversation answerable to.
	// See bindSender.
	sender address
	bound  bool
	binds  []string
	// subject is the Subject the helpdesk gets when Sealpost gave it
	// back its conversation's ticket tag (restoreTag); "" leaves it.
	subject string
}

// gatewayIn handles a message to a gateway's address.
func (p *Pipeline) gatewayIn(ctx context.Context, log *slog.Logger, gw *store.List, in *store.Inbound) error {
	if tooBig(gw, in) {
		return p.refuse(ctx, gw, in, policy.TooLarge)
	}
	msg, err := mime.Parse(in.Raw, p.opt.Limits)
	if err != nil {
		return p.unprocessable(ctx, log, gw, in, 0, err)
	}
	a, reason, err := p.arrive(ctx, gw, msg)
	if err != nil {
		return err
	}
	if reason != 0 {
		log.Info("message not accepted", "reason", reason.String())
		return p.refuse(ctx, gw, in, reason)
	}
	if gw.Gateway.RequireEncryption && a.engine == "" {
		log.Info("message not accepted", "reason", policy.NotEncrypted.String())
		return p.refuse(ctx, gw, in, policy.NotEncrypted)
	}
	if gw.Gateway.RequireSignature && a.verdict != "good" {
		log.Info("message not accepted: signature required", "signature", a.verdict, "detail", a.detail)
		return p.refuse(ctx, gw, in, policy.Unsigned)
	}
	mark, t, err := p.threadMark(ctx, gw, helpdeskMsgID(gw, in, a), a.h, a.engine != "")
	if err != nil {
		return err
	}
	a.subject, mark.Tag = restoreTag(gw, t, a)
	data, msgID, err := p.forHelpdesk(gw, in, a)
	if err != nil {
		return err
	}
	out := store.Outcome{SpoolID: in.ID, ListID: gw.ID, Replay: replayMarks(a), Harvest: p.gatewayHarvest(gw, a), Thread: mark}
	envelopeFrom := in.EnvelopeFrom
	if a.engine != "" {
		// RFC 3834 §4: automatic answers go to the envelope sender.
		envelopeFrom = a.sender.addr
	}
	d := store.Delivery{Ref: in.ID, ListID: gw.ID, Kind: store.KindHelpdesk, From: envelopeFrom, To: gw.Address,
		Route: gw.Gateway.DeliverTo}
	if err := p.sealDelivery(&d, data); err != nil {
		return err
	}
	out.Deliveries = []store.Delivery{d}
	out.Thread.Answerable, out.Thread.Guard = joins(t, a), true
	if out.Archive, err = p.archive(gw, out.Thread.Thread, "in", msgID, in.ID, data); err != nil {
		return err
	}
	err = p.commit(ctx, out)
	if errors.Is(err, store.ErrReplay) {
		log.Info("message not accepted", "reason", policy.Replay.String())
		return p.refuse(ctx, gw, in, policy.Replay)
	}
	if err != nil {
		return err
	}
	log.Info("message handed to the helpdesk", "encryption", orNone(a.engine), "signature", a.verdict, "trust", a.trust,
		"sender", a.sender.addr, "bound", a.bound, "harvested", len(out.Harvest))
	return nil
}

// arrive opens a message to a gateway: decrypts it when it is encrypted,
// checks any signature against the sender's keys on file and the keys
// the message brings, and judges the signature. A non-zero reason means
// the message cannot be taken (it could not be decrypted or lacks
// integrity); the reason is for logs and the owner only.
func (p *Pipeline) arrive(ctx context.Context, gw *store.List, msg *mime.Part) (*arrival, policy.Reason, error) {
	a := &arrival{outer: msg}
	var senders []string
	if _, from, err := mail.ParseAddress(msg.Header.Get("From")); err == nil {
		senders = append(senders, from)
	}
	var err error
	if a.r, err = p.contacts(ctx, gw, senders); err != nil {
		return nil, 0, err
	}
	o, reason, err := p.openAny(gw, a.r, msg)
	if err != nil || reason != 0 {
		return nil, reason, err
	}
	if o.protection.Encrypted && o.protection.Integrity == "" {
		return nil, policy.NoIntegrity, nil // DESIGN §4.1
	}
	content, err := p.parseContent(o.content)
	if err != nil {
		return nil, policy.Unparseable, nil
	}
	if o.protection.Encrypted && isEncrypted(content) {
		return nil, policy.TooManyLayers, nil
	}
	a.o, a.content, a.h = o, content, readHeaders(msg, content)
	if o.protection.Encrypted {
		a.engine = string(spcrypto.OpenPGP)
		if o.smimeEnveloped {
			a.engine = string(spcrypto.SMIME)
		}
	}
	// The protected From may name someone else than the outer one.
	if from := a.h.from.addr; from != "" && !slices.Contains(senders, from) {
		more, err := p.contacts(ctx, gw, []string{from})
		if err != nil {
			return nil, 0, err
		}
		a.r = mergeRosters(a.r, more)
	}
	a.offered = p.offeredKeys(a)
	if o.status == spcrypto.StatusUnknownSigner {
		// Signed by a key on file for someone else, or by one the
		// message brought: check again with them.
		if a.r, err = p.issuerContacts(ctx, gw, a.r, o.issuer); err != nil {
			return nil, 0, err
		}
		with := *a.r
		with.pgpKeys = slices.Clone(a.r.pgpKeys)
		for _, k := range a.offered {
			with.pgpKeys = append(with.pgpKeys, k)
		}
		if again, _, err := p.openAny(gw, &with, msg); err == nil && again != nil {
			again.smimeEnveloped = o.smimeEnveloped
			a.o = again
		}
	}
	if err := p.judge(ctx, gw, a); err != nil {
		return nil, 0, err
	}
	bindSender(gw, a)
	return a, 0, nil
}

// openAny opens an encrypted message, or verifies one that is not:
// PGP/MIME or S/MIME signed as a whole, or not signed at all.
func (p *Pipeline) openAny(gw *store.List, r *roster, msg *mime.Part) (*opened, policy.Reason, error) {
	o, err := p.open(gw, r, msg)
	var ee *engineError
	switch {
	case errors.As(err, &ee) && ee.reason == policy.NotEncrypted:
		return p.openClearAny(r, msg), 0, nil
	case errors.As(err, &ee):
		return nil, ee.reason, nil
	case err != nil:
		return nil, 0, err
	}
	o.smimeEnveloped = o.smime != nil || isSMIME(encryptedLayer(msg))
	return o, 0, nil
}

// judge decides the signature's status word and trust at a gateway.
func (p *Pipeline) judge(ctx context.Context, gw *store.List, a *arrival) error {
	o, from := a.o, a.h.from.addr
	a.detail = o.reason
	switch o.status {
	case spcrypto.StatusUnsigned:
		a.verdict = "none"
		return nil
	case spcrypto.StatusBad:
		a.verdict = "bad"
		return nil
	case spcrypto.StatusKeyInvalid, spcrypto.StatusWeak:
		// A SHA-1 signature verified: invalid (not accepted), not bad (altered).
		a.verdict = "invalid"
		return nil
	case spcrypto.StatusUnknownSigner:
		a.verdict = "unknown"
		return nil
	case spcrypto.StatusGood:
	default:
		a.verdict = "bad"
		return nil
	}
	fpr := o.signer.Fingerprint
	onFile := a.r.keysOf(from)
	switch {
	case slices.ContainsFunc(onFile, func(k store.MemberKey) bool { return k.Fingerprint == fpr }):
		a.trust = trustKnown
		for _, k := range onFile {
			if k.Fingerprint == fpr && k.Source == store.SourcePinned {
				a.trust = trustPinned
			}
		}
	case o.smime != nil && p.chains(ctx, gw, o, from):
		a.trust = trustCA
	case a.r.hasUsableKey(from, signingEngine(o)):
		// A change is another key of the same engine: a first OpenPGP
		// key of a customer whose certificate is on file (or the other
		// way round) is first seen, and learnt.
		a.trust = trustChanged
	default:
		a.trust = trustFirstSeen
	}
	revoked := false
	if o.smime != nil && a.trust != trustCA { // a chain was checked with its CRLs already
		var err error
		if revoked, err = p.signerRevoked(ctx, gw, o.smime); err != nil {
			return err
		}
	}
	switch {
	case o.smime != nil && !smimeValidFor(o.smime, from, p.opt.Now()):
		a.verdict, a.detail = "invalid", "certificate expired, not yet valid or not for "+from
	case revoked:
		a.verdict, a.detail = "invalid", "certificate revoked by a CRL of its issuer"
	case !o.signer.HasAddress(from):
		a.verdict, a.detail = "mismatch", "the signing key is not for the From address"
	case len(a.h.signedRecipients) > 0 && !slices.Contains(a.h.signedRecipients, gw.Address):
		a.verdict, a.detail = "mismatch", "the signed message was addressed to someone else"
	case a.trust == trustChanged:
		a.verdict, a.detail = "untrusted", "signed by another key than the one on file for the sender"
	default:
		a.verdict = "good"
	}
	return nil
}

// chains reports whether an S/MIME signer's certificate chains to a trust
// anchor for from, valid and not revoked (RFC 8550 §3, RFC 5280).
func (p *Pipeline) chains(ctx context.Context, gw *store.List, o *opened, from string) bool {
	roots, err := p.trustAnchors(ctx, gw)
	if err != nil {
		return false
	}
	loaded, err := p.loadedCRLs(ctx)
	if err != nil {
		return false
	}
	return smime.CheckCertificate(o.smime.Signer, from, smime.TrustOptions{
		Roots: roots, Intermediates: o.smime.Certificates, Now: p.opt.Now(),
		CRLs: append(p.fetchCRLs(ctx, o.smime.Certificates), loaded...), RequireCRL: p.opt.RequireCRL,
	}) == nil
}

// hasUsableKey reports whether a usable key of engine for addr is on
// file.
func (r *roster) hasUsableKey(addr, engine string) bool {
	return slices.Contains(r.usable[addr], engine)
}

// signingEngine is the engine of o's signature, as a key's engine.
func signingEngine(o *opened) string {
	if o.smime != nil || o.smimeSigned {
		return store.EngineSMIME
	}
	return store.EngineOpenPGP
}

// offeredKeys are the OpenPGP keys a message brings for its sender:
// attached (application/pgp-keys, as "attach my public key" does) or in
// an Autocrypt header. Only keys for the From address count.
func (p *Pipeline) offeredKeys(a *arrival) map[string]*pgp.Key {
	out := map[string]*pgp.Key{}
	from := a.h.from.addr
	add := func(data []byte) {
		imported, err := pgp.ReadKeys(data, pgp.ImportOptions{Now: p.opt.Now()})
		if err != nil {
			return
		}
		for _, imp := range imported {
			if imp.Key != nil && slices.Contains(imp.Key.Info(p.opt.Now()).Addresses, from) && len(out) < 4 {
				out[imp.Key.Fingerprint()] = imp.Key
			}
		}
	}
	walkParts(a.content, func(part *mime.Part) {
		if part.MediaType == "application/pgp-keys" {
			if data, err := part.Decoded(1 << 20); err == nil {
				add(data)
			}
		}
	})
	if ac := a.h.autocrypt; ac != "" {
		if addr, data, err := mail.ParseAutocrypt(ac); err == nil && addr == from {
			add(data)
		}
	}
	return out
}

// walkParts calls fn for p and every part below it.
func walkParts(p *mime.Part, fn func(*mime.Part)) {
	fn(p)
	for _, c := range p.Children {
		walkParts(c, fn)
	}
}

// gatewayHarvest keeps the sender's key when the message proved it (a good
// signature) and no other key is on file, or when a trust anchor
// vouches for the certificate; and, when the gateway imports Autocrypt
// keys, the key an Autocrypt header announces for a sender without one.
// A key that differs from the one of its engine on file is not taken
// (trust=changed): an administrator decides. A customer's first key of
// the other engine is (trust=first-seen), beside the one on file.
func (p *Pipeline) gatewayHarvest(gw *store.List, a *arrival) []store.Harvested {
	from, now := a.h.from.addr, p.opt.Now()
	contact := func(k store.Key, source, caps string) store.Harvested {
		return store.Harvested{ListID: gw.ID, Email: from, Contact: true,
			Key: store.MemberKey{Key: k, Source: source, Capabilities: caps, CreatedAt: now}}
	}
	if a.verdict == "good" && (a.trust == trustFirstSeen || a.trust == trustCA) {
		if a.o.smime != nil {
			rec, _ := keyring.CertificateRecord(a.o.smime.Signer)
			return []store.Harvested{contact(rec, store.SourceHarvested, strings.Join(smime.CapabilityNames(a.o.smime.Capabilities), ","))}
		}
		if k := a.offered[a.o.signer.Fingerprint]; k != nil && p.encryptable(k) {
			rec, _ := keyring.OpenPGPRecord(k, now)
			return []store.Harvested{contact(rec, store.SourceHarvested, "")}
		}
	}
	if !gw.Settings.AutocryptImport || a.h.autocrypt == "" || a.r.hasUsableKey(from, store.EngineOpenPGP) || a.verdict == "mismatch" || a.verdict == "untrusted" {
		return nil
	}
	addr, data, err := mail.ParseAutocrypt(a.h.autocrypt)
	if err != nil || addr != from {
		return nil
	}
	k, err := pgp.ParseKey(data)
	if err != nil || keyring.CheckMemberKey(k.Info(now), from, now) != nil {
		return nil
	}
	rec, _ := keyring.OpenPGPRecord(k, now)
	return []store.Harvested{contact(rec, store.SourceAutocrypt, "")}
}

// replayMarks are the marks that make a second delivery of the same
// message a replay (DESIGN §4.4): its signatures, and for every
// encrypted message, signed or not, the digest of what it decrypted to
// (with its signature, when it has one whose digest is known), so that a
// captured ciphertext sent again by someone else, however rewrapped, is
// refused, and the same text signed again is not.
func replayMarks(a *arrival) [][]byte {
	marks := a.o.signatureMarks()
	if a.engine != "" {
		h := sha256.New()
		h.Write([]byte("sealpost gateway content\x00"))
		h.Write(a.o.digest)
		h.Write(a.o.content)
		marks = append(marks, h.Sum(nil))
	}
	return marks
}

// forHelpdesk writes what the helpdesk gets: the status fields, then the
// message in clear. For an encrypted message the header is the outer one
// with the protected fields (RFC 9788) in place of their outer copies, and
// the decrypted content's own Content-* fields; with attach_original the
// message as received follows as an attachment. Unless verdict_banner is
// off, the text the helpdesk shows starts with the verdict banner
// (banner.go), encrypted or not. It returns the message and its
// Message-ID, which Sealpost adds when there is none.
func (p *Pipeline) forHelpdesk(gw *store.List, in *store.Inbound, a *arrival) ([]byte, string, error) {
	var b bytes.Buffer
	status := []field{{EncryptionHeader, encryptionStatus(a)}, {SignatureHeader, signatureStatus(a)}}
	if err := mime.WriteFields(&b, status); err != nil {
		return nil, "", err
	}
	b.Truncate(b.Len() - 2) // more fields follow
	msgID := helpdeskMsgID(gw, in, a)
	if a.h.messageID == "" {
		b.WriteString("Message-ID: " + msgID + "\r\n")
	}
	// One From, the sender's (RFC 5322 §3.6: one From field; a second one
	// would be shown by some helpdesks instead of the signer).
	b.WriteString("From: " + mail.FormatAddress(a.sender.name, a.sender.addr) + "\r\n")
	// RFC 5322 §3.6: at most one Subject; a restored one replaces it.
	restored := func(f mime.Field) bool { return a.subject != "" && f.Is("Subject") }
	if a.subject != "" {
		if err := mime.WriteFields(&b, []field{{"Subject", a.subject}}); err != nil {
			return nil, "", err
		}
		b.Truncate(b.Len() - 2) // more fields follow
	}
	contentFields := func(f mime.Field) bool { return f.HasPrefix("Content-") }
	if a.engine == "" {
		// Not encrypted: the message as it came, without foreign status
		// fields, and with the verdict banner.
		if gw.Gateway.NoVerdictBanner {
			writeFields(&b, mime.Fields(a.outer.RawHeader), func(f mime.Field) bool {
				return !f.HasPrefix(ourPrefix) && !f.Is("From") && !restored(f)
			})
			b.WriteString("\r\n")
			b.Write(a.outer.Body)
			return b.Bytes(), msgID, nil
		}
		header, body, err := withBanner(a.outer, verdictBanner(a), p.newBoundary)
		if err != nil {
			return nil, "", err
		}
		writeFields(&b, mime.Fields(a.outer.RawHeader), func(f mime.Field) bool {
			return !f.HasPrefix(ourPrefix) && !f.Is("From") && !restored(f) && !f.HasPrefix("Content-") && !f.Is("MIME-Version")
		})
		b.WriteString("MIME-Version: 1.0\r\n")
		writeFields(&b, mime.Fields(header), contentFields)
		b.WriteString("\r\n")
		b.Write(body)
		return b.Bytes(), msgID, nil
	}
	inner := mime.Fields(a.content.RawHeader)
	protected := map[string]bool{}
	for _, f := range inner {
		if !f.HasPrefix("Content-") {
			protected[strings.ToLower(f.Name)] = true
		}
	}
	writeFields(&b, mime.Fields(a.outer.RawHeader), func(f mime.Field) bool {
		// DESIGN §4.3, §4.7: where answers go (a reply to all included)
		// comes from inside only.
		return !f.HasPrefix(ourPrefix) && !f.HasPrefix("Content-") && !f.Is("MIME-Version") && !protected[strings.ToLower(f.Name)] &&
			!answerTarget(f) && !f.Is("To") && !f.Is("Cc") && !restored(f)
	})
	if !protected["to"] {
		b.WriteString("To: <" + gw.Address + ">\r\n")
	}
	writeFields(&b, inner, func(f mime.Field) bool {
		return !f.HasPrefix(ourPrefix) && !f.HasPrefix("Content-") && !f.Is("MIME-Version") && !f.Is("From") && !restored(f)
	})
	b.WriteString("MIME-Version: 1.0\r\n")
	header, body := a.content.RawHeader, a.content.Body
	if !gw.Gateway.NoVerdictBanner {
		var err error
		if header, body, err = withBanner(a.content, verdictBanner(a), p.newBoundary); err != nil {
			return nil, "", err
		}
	}
	if !gw.Gateway.AttachOriginal {
		writeFields(&b, mime.Fields(header), contentFields)
		b.WriteString("\r\n")
		b.Write(body)
		return b.Bytes(), msgID, nil
	}
	boundary, err := p.newBoundary()
	if err != nil {
		return nil, "", err
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"" + boundary + "\"\r\n\r\n--" + boundary + "\r\n")
	writeFields(&b, mime.Fields(header), contentFields)
	b.WriteString("\r\n")
	b.Write(body)
	b.WriteString("\r\n--" + boundary + "\r\n" +
		"Content-Type: application/octet-stream; name=\"original-encrypted.eml\"\r\n" +
		"Content-Disposition: attachment; filename=\"original-encrypted.eml\"\r\n" +
		"Content-Description: the message as received, encrypted\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n")
	writeBase64(&b, in.Raw)
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), msgID, nil
}

// newBoundary is a fresh multipart boundary.
func (p *Pipeline) newBoundary() (string, error) { return mime.NewBoundary(p.opt.Rand) }

// helpdeskMsgID is the Message-ID of what the helpdesk gets: the
// message's own, or one Sealpost gives it when it has none.
func helpdeskMsgID(gw *store.List, in *store.Inbound, a *arrival) string {
	if a.h.messageID != "" {
		return a.h.messageID
	}
	return "<" + in.ID + "@" + domainOf(gw.Address) + ">"
}

// writeFields writes the fields keep accepts, each ending in CRLF.
func writeFields(b *bytes.Buffer, fs []mime.Field, keep func(mime.Field) bool) {
	for _, f := range fs {
		if f.Name == "" || !keep(f) {
			continue
		}
		raw := bytes.TrimRight(f.Raw, "\r\n")
		b.Write(raw)
		b.WriteString("\r\n")
	}
}

// writeBase64 writes data base64-encoded in lines of 76 characters
// (RFC 2045 §6.8).
func writeBase64(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding.EncodeToString(data)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
}

func encryptionStatus(a *arrival) string {
	if a.engine == "" {
		return "none"
	}
	s := "yes; engine=" + a.engine
	if c := a.o.protection.Cipher; c != "" {
		s += "; cipher=" + c
	}
	return s
}

func signatureStatus(a *arrival) string {
	if a.verdict == "none" {
		return "none"
	}
	s := a.verdict
	engine := string(spcrypto.OpenPGP)
	if a.o.smimeSigned {
		engine = string(spcrypto.SMIME)
	}
	s += "; engine=" + engine
	if a.o.signer != nil {
		s += "; signer=" + a.o.signer.Fingerprint
		if from := a.h.from.addr; a.o.signer.HasAddress(from) {
			s += "; address=" + from
		} else if len(a.o.signer.Addresses) > 0 {
			s += "; address=" + a.o.signer.Addresses[0]
		}
	}
	if a.trust != "" {
		s += "; trust=" + a.trust
	}
	if a.verdict != "good" && a.detail != "" {
		s += "; reason=" + quoteParam(a.detail)
	}
	return s
}

// quoteParam quotes a parameter value, dropping what cannot be quoted.
func quoteParam(v string) string {
	v = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, v)
	return `"` + v + `"`
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// sealDelivery puts data into d sealed under the master key: it is
// plaintext (DESIGN §4.6).
func (p *Pipeline) sealDelivery(d *store.Delivery, data []byte) error {
	sealed, err := p.sealer.Seal(data, keyring.DeliveryLabel(d.Ref, d.To))
	if err != nil {
		return fmt.Errorf("pipeline: sealing a delivery: %w", err)
	}
	d.Data, d.Sealed = sealed, true
	return nil
}

// archive returns the archive entry for a message of a gateway that keeps
// an archive, sealed under the master key.
func (p *Pipeline) archive(gw *store.List, thread, direction, msgID, ref string, data []byte) ([]store.Archived, error) {
	if !gw.Gateway.Archive {
		return nil, nil
	}
	sealed, err := p.sealer.Seal(data, keyring.ArchiveLabel(gw.Address, ref, direction))
	if err != nil {
		return nil, fmt.Errorf("pipeline: archiving: %w", err)
	}
	return []store.Archived{{ListID: gw.ID, Thread: thread, Direction: direction, MessageID: msgID, Ref: ref,
		Sealed: sealed, CreatedAt: p.opt.Now()}}, nil
}

// threadMark puts a message into its conversation: the one any message
// it refers to belongs to (returned too; nil when none), else a new one
// named by its own Message-ID.
func (p *Pipeline) threadMark(ctx context.Context, gw *store.List, msgID string, h headers, encrypted bool) (*store.ThreadMark, *store.Thread, error) {
	refs := strings.Fields(h.inReplyTo + " " + h.references)
	t, err := p.store.FindThread(ctx, gw.ID, refs)
	if err != nil {
		return nil, nil, err
	}
	m := &store.ThreadMark{Thread: msgID, MessageIDs: append([]string{msgID}, refs...), Encrypted: encrypted, At: p.opt.Now()}
	if t != nil {
		m.Thread = t.ID
	}
	return m, t, nil
}

// contacts is the roster of a gateway's correspondents among addrs: the
// keys on file for them.
func (p *Pipeline) contacts(ctx context.Context, gw *store.List, addrs []string) (*roster, error) {
	ms, err := p.store.MembersByEmail(ctx, gw.ID, addrs)
	if err != nil {
		return nil, err
	}
	rev, err := p.revocations(ctx, gw, nil, nil)
	if err != nil {
		return nil, err
	}
	r := p.rosterOf(gw, ms, rev)
	r.keys = map[string][]store.MemberKey{}
	for _, m := range ms {
		r.keys[m.Email] = m.Keys
	}
	return r, nil
}

// issuerContacts adds to r the correspondents who hold the key with key
// ID issuer, so that a message signed with a key on file for someone
// other than its From address is recognised (and judged a mismatch).
func (p *Pipeline) issuerContacts(ctx context.Context, gw *store.List, r *roster, issuer string) (*roster, error) {
	if issuer == "" {
		return r, nil
	}
	keys, err := p.store.FindKeys(ctx, store.IndexKeyID, issuer)
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, k := range keys {
		_, info, err := keyring.Describe(k.Data, p.opt.Now())
		if err != nil {
			continue
		}
		for _, a := range info.Addresses {
			if _, known := r.keys[a]; !known && !slices.Contains(addrs, a) && len(addrs) < 8 {
				addrs = append(addrs, a)
			}
		}
	}
	if len(addrs) == 0 {
		return r, nil
	}
	more, err := p.contacts(ctx, gw, addrs)
	if err != nil {
		return nil, err
	}
	return mergeRosters(r, more), nil
}

// mergeRosters adds the members of b to a.
func mergeRosters(a, b *roster) *roster {
	out := *a
	out.members = append(slices.Clone(a.members), b.members...)
	out.pgpKeys = append(slices.Clone(a.pgpKeys), b.pgpKeys...)
	out.certs, out.to, out.keys = union(a.certs, b.certs), union(a.to, b.to), union(a.keys, b.keys)
	out.usable = union(a.usable, b.usable)
	return &out
}

// union returns a new map with the entries of a and b (b's win).
func union[K comparable, V any](a, b map[K]V) map[K]V {
	out := make(map[K]V, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
	return out
}

// smimeValidFor reports whether an S/MIME signer's certificate is valid
// now and issued for from.
func smimeValidFor(v *smime.Verified, from string, now time.Time) bool {
	c := v.Signer
	return !now.Before(c.NotBefore) && !now.After(c.NotAfter) && slices.Contains(smime.CertInfo(c).Addresses, from)
}

// keysOf returns the keys on file for addr (gateway rosters only).
func (r *roster) keysOf(addr string) []store.MemberKey { return r.keys[addr] }
