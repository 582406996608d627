package pgp

// Inline PGP: armored OpenPGP messages pasted into text bodies, and
// encrypted files attached as *.pgp, *.gpg or *.asc. UnwrapInline works in
// three steps:
//
//  1. Structure, nothing decrypted yet: each text part must be exactly one
//     armored PGP MESSAGE (RFC 9580 §6.2) apart from surrounding
//     whitespace; unencrypted content beside encrypted content is
//     ErrPartial (EFAIL). Only *.sig signatures, whitespace-only text and
//     the text/html alternative of an encrypted text part are allowed
//     beside ciphertext, and none of them is distributed.
//  2. Each ciphertext takes Unwrap's path (dearmor, scanEncryption,
//     decrypt); the plaintext of all parts together is bounded.
//  3. With every part decrypted with integrity, signatures are checked:
//     one-pass inside the ciphertext, cleartext (RFC 9580 §7) inside the
//     decrypted text, or a *.sig attachment. The message is signed only
//     when every part is, all by the same key.

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	stdmime "mime"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/mime"
)

// ErrPartial: the message mixes encrypted and unencrypted content
// (plaintext beside ciphertext in a part, or unencrypted parts beside
// encrypted ones); such a message is never decrypted into a post (EFAIL).
var ErrPartial = errors.New("pgp: message is only partly encrypted")

const (
	// maxInlineParts bounds the MIME parts of an inline message, the
	// multipart containers included (DESIGN §4.8).
	maxInlineParts = 100
	// maxDetachedSig bounds one *.sig attachment.
	maxDetachedSig = 1 << 20
	// maxNameLen bounds an attachment name written into Content.
	maxNameLen = 200

	armorBegin  = "-----BEGIN PGP MESSAGE-----"
	armorEnd    = "-----END PGP MESSAGE-----"
	signedBegin = "-----BEGIN PGP SIGNED MESSAGE-----"
	sigBegin    = "-----BEGIN PGP SIGNATURE-----"
)

// cipherSuffixes name attachments that hold encrypted data.
var cipherSuffixes = []string{".pgp", ".gpg", ".asc"}

// leafKind classifies one leaf of an inline message.
type leafKind int

const (
	leafPlain      leafKind = iota // unencrypted content
	leafText                       // text part that is one armored PGP MESSAGE
	leafAttachment                 // *.pgp, *.gpg or *.asc attachment with encrypted data
	leafSig                        // *.sig detached signature
	leafHTML                       // text/html without armor
	leafHTMLArmor                  // text/html with an armored PGP MESSAGE: not supported
	leafDropped                    // carries nothing to distribute: whitespace-only text, replaced HTML alternative
)

// leaf is one non-multipart entity of the message and what it holds.
type leaf struct {
	kind    leafKind
	part    *mime.Part
	name    string // file name as sent; "" for a text part
	payload []byte // armored (checked by inlineArmor) or binary OpenPGP data
	armored bool
}

// inlinePart is one encrypted leaf on its way through decryption.
type inlinePart struct {
	leaf    *leaf
	bin     []byte
	prot    spcrypto.Protection
	plain   unverified
	md      *openpgp.MessageDetails
	content []byte       // set once every part decrypted with integrity
	sigs    []*Unwrapped // one result per signature over this part
}

// UnwrapInline decrypts an inline-PGP message: a text/plain body that is
// one armored PGP MESSAGE, or a multipart message whose text parts are each
// one armored PGP MESSAGE and whose attachments named *.pgp, *.gpg or *.asc
// hold (armored or binary) encrypted data; *.sig attachments are detached
// signatures over the attachment of the same name (without .sig).
//
// It returns an Unwrapped like Unwrap does, whose Content is a MIME entity
// Sealpost can redistribute: for a single decrypted text, a text/plain
// entity (the original charset, else utf-8; 8bit; CRLF line endings); else
// a multipart/mixed with a fresh boundary holding the decrypted text parts
// and the decrypted attachments (application/octet-stream, base64, the
// file name without its .pgp/.gpg/.asc suffix), in message order.
//
// Errors: ErrNotEncrypted when nothing in the message is inline PGP (also
// for inline PGP inside text/html, which is not supported, and for
// PGP/MIME, which is Unwrap's); ErrPartial when encrypted and unencrypted
// content are mixed; otherwise the errors of Unwrap, for any one part.
// Nothing decrypted is returned with an error. A missing, partial or
// failing signature is Unwrapped.Status, not an error.
func UnwrapInline(msg *mime.Part, list *Key, signers []*Key, opt Options) (*Unwrapped, error) {
	leaves, err := inlineLeaves(msg)
	if err != nil {
		return nil, err
	}
	enc, sigs, err := selectEncrypted(leaves)
	if err != nil {
		return nil, err
	}
	keyring := keyringFor(list, signers, opt)
	parts, err := decryptParts(enc, keyring, opt)
	if err != nil {
		return nil, err
	}
	// DESIGN §4.1: every part decrypted to EOF with a valid MDC or AEAD
	// tag; only now is any plaintext used.
	return assemble(parts, sigs, keyring, opt)
}

// IsInline reports whether msg looks like inline PGP (some text part or
// attachment carries a PGP MESSAGE), for the caller's dispatch. PGP/MIME
// (multipart/encrypted) is not inline. At most the first 100 parts are
// looked at.
func IsInline(msg *mime.Part) bool {
	n := 0
	return carriesInline(msg, &n)
}

func carriesInline(p *mime.Part, n *int) bool {
	*n++
	if *n > maxInlineParts || p.MediaType == "multipart/encrypted" {
		return false
	}
	if p.IsMultipart() {
		for _, c := range p.Children {
			if carriesInline(c, n) {
				return true
			}
		}
		return false
	}
	body, err := p.Decoded(int64(len(p.Body)) + 1)
	if err != nil {
		return false
	}
	armored := bytes.Contains(body, []byte(armorBegin))
	switch name := strings.ToLower(filename(p)); {
	case name != "" && hasCipherSuffix(name):
		// Binary OpenPGP data starts with a packet tag, bit 7 set (RFC 9580 §4.2).
		return armored || (len(body) > 0 && body[0]&0x80 != 0)
	case name != "":
		return false
	}
	return strings.HasPrefix(p.MediaType, "text/") && armored
}

// keyringFor is the keyring a message is opened with: the list's
// key, its retired keys, and the members' keys that may have signed.
func keyringFor(list *Key, signers []*Key, opt Options) openpgp.EntityList {
	keyring := make(openpgp.EntityList, 0, len(signers)+1+len(opt.Retired))
	keyring = append(keyring, list.e)
	for _, k := range opt.Retired {
		keyring = append(keyring, k.e)
	}
	for _, k := range signers {
		keyring = append(keyring, k.e)
	}
	return keyring
}

// inlineLeaves classifies every leaf of msg, in message order.
func inlineLeaves(msg *mime.Part) ([]*leaf, error) {
	if msg.MediaType == "multipart/encrypted" {
		return nil, fmt.Errorf("%w: PGP/MIME, not inline PGP", ErrNotEncrypted)
	}
	w := &leafWalker{}
	if err := w.walk(msg); err != nil {
		return nil, err
	}
	return w.leaves, nil
}

type leafWalker struct {
	parts  int
	leaves []*leaf
}

func (w *leafWalker) walk(p *mime.Part) error {
	w.parts++
	if w.parts > maxInlineParts {
		return fmt.Errorf("%w: inline message has more than %d MIME parts", ErrMalformed, maxInlineParts)
	}
	// A multipart/encrypted below the top is PGP/MIME out of place: one
	// opaque, unencrypted part as far as inline PGP goes.
	if !p.IsMultipart() || p.MediaType == "multipart/encrypted" {
		l, err := classify(p)
		if err != nil {
			return err
		}
		w.leaves = append(w.leaves, l)
		return nil
	}
	var direct []*leaf
	for _, c := range p.Children {
		n := len(w.leaves)
		if err := w.walk(c); err != nil {
			return err
		}
		if !c.IsMultipart() {
			direct = append(direct, w.leaves[n])
		}
	}
	if p.MediaType == "multipart/alternative" {
		dropHTMLAlternatives(direct)
	}
	return nil
}

// dropHTMLAlternatives drops the text/html alternatives of an encrypted
// text/plain part (RFC 2046 §5.1.4: the parts are the same content, so the
// encrypted one is used and the HTML never distributed), as mail clients
// write them. Only direct children count.
func dropHTMLAlternatives(direct []*leaf) {
	if !slices.ContainsFunc(direct, func(l *leaf) bool { return l.kind == leafText }) {
		return
	}
	for _, l := range direct {
		if l.kind == leafHTML || l.kind == leafHTMLArmor {
			l.kind = leafDropped
		}
	}
}

// classify decides what leaf p holds; an error is a structure that is
// refused outright.
func classify(p *mime.Part) (*leaf, error) {
	l := &leaf{part: p, name: filename(p)}
	if p.IsMultipart() {
		return l, nil
	}
	body, err := p.Decoded(int64(len(p.Body)) + 1)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch {
	case l.name != "":
		return l, l.attachment(body)
	case p.MediaType == "text/plain":
		return l, l.text(body)
	case p.MediaType == "text/html":
		l.kind = leafHTML
		if bytes.Contains(body, []byte(armorBegin)) {
			l.kind = leafHTMLArmor
		}
	}
	return l, nil
}

// text classifies a text/plain part that is not an attachment.
func (l *leaf) text(body []byte) error {
	switch {
	case len(trimWS(body)) == 0:
		// QUIRK(empty-text): a whitespace-only text part beside encrypted
		// attachments carries nothing; it is dropped.
		l.kind = leafDropped
	case bytes.Contains(body, []byte(armorBegin)):
		a, err := inlineArmor(body)
		if err != nil {
			return err
		}
		l.kind, l.payload, l.armored = leafText, a, true
	}
	return nil
}

// attachment classifies a part with a file name.
func (l *leaf) attachment(body []byte) error {
	name := strings.ToLower(l.name)
	switch {
	case strings.HasSuffix(name, ".sig"):
		l.kind, l.payload = leafSig, body
		return nil
	case !hasCipherSuffix(name):
		return nil
	}
	switch t := trimWS(body); {
	case bytes.HasPrefix(t, []byte(armorBegin)):
		a, err := inlineArmor(body)
		if err != nil {
			return err
		}
		l.kind, l.payload, l.armored = leafAttachment, a, true
	case bytes.HasPrefix(t, []byte("-----BEGIN PGP")):
		// A key or a signature in an .asc file: not encrypted.
	default:
		l.kind, l.payload = leafAttachment, body
	}
	return nil
}

// inlineArmor checks that text is, apart from surrounding whitespace,
// exactly one armored PGP MESSAGE (RFC 9580 §6.2: header line, armor
// headers, blank line, data, tail line) and returns it, LF-terminated and
// with the blank line made empty, for dearmor. Anything else around or
// beside the block is ErrPartial.
func inlineArmor(text []byte) ([]byte, error) {
	lines := strings.Split(string(trimWS(text)), "\n")
	for i, ln := range lines {
		lines[i] = strings.TrimRight(ln, " \t\r")
	}
	last := len(lines) - 1
	if last < 2 || lines[0] != armorBegin || lines[last] != armorEnd {
		return nil, fmt.Errorf("%w: text outside the armored PGP message", ErrPartial)
	}
	inner := lines[1:last]
	for _, ln := range inner {
		if strings.HasPrefix(ln, "-----") {
			return nil, fmt.Errorf("%w: more than one armored block in a part", ErrPartial)
		}
	}
	sep := slices.IndexFunc(inner, isArmorBlank)
	if sep < 0 {
		return nil, fmt.Errorf("%w: armor without the blank line after its headers", ErrMalformed)
	}
	for _, h := range inner[:sep] {
		if !strings.Contains(h, ":") {
			return nil, fmt.Errorf("%w: malformed armor header line", ErrMalformed)
		}
	}
	inner[sep] = ""
	return []byte(strings.Join(lines, "\n") + "\n"), nil
}

// isArmorBlank reports whether ln is the blank line that ends the armor
// headers.
func isArmorBlank(ln string) bool {
	// QUIRK(nbsp): Thunderbird (and HTML-to-text conversion generally)
	// writes a non-breaking space U+00A0 into the blank separator line
	// (corpus bob-enc-inline-nbsp-qp.eml, "=C2=A0"); it is taken as a
	// space, in UTF-8 and as the single ISO-8859-1 byte. Only this line
	// is affected, never the ciphertext.
	ln = strings.ReplaceAll(ln, "\u00a0", "")
	ln = strings.ReplaceAll(ln, "\xa0", "")
	return strings.Trim(ln, " \t") == ""
}

// selectEncrypted applies the EFAIL rule to the classified leaves and
// returns the encrypted ones and the detached signatures.
func selectEncrypted(leaves []*leaf) (enc, sigs []*leaf, err error) {
	plain, htmlArmor := 0, 0
	for _, l := range leaves {
		switch l.kind {
		case leafText, leafAttachment:
			enc = append(enc, l)
		case leafSig:
			sigs = append(sigs, l)
		case leafPlain, leafHTML:
			plain++
		case leafHTMLArmor:
			htmlArmor++
		}
	}
	switch {
	case len(enc) == 0 && htmlArmor > 0 && plain > 0:
		return nil, nil, fmt.Errorf("%w: unencrypted parts beside inline PGP in HTML", ErrPartial)
	case len(enc) == 0 && htmlArmor > 0:
		return nil, nil, fmt.Errorf("%w: inline PGP inside text/html is not supported", ErrNotEncrypted)
	case len(enc) == 0:
		return nil, nil, fmt.Errorf("%w: no inline PGP message", ErrNotEncrypted)
	case plain+htmlArmor > 0:
		return nil, nil, fmt.Errorf("%w: %d unencrypted parts beside %d encrypted", ErrPartial, plain+htmlArmor, len(enc))
	}
	return enc, sigs, nil
}

// decryptParts checks the framing of every ciphertext before decrypting
// any, then decrypts each within what is left of the plaintext budget.
func decryptParts(enc []*leaf, keyring openpgp.EntityList, opt Options) ([]*inlinePart, error) {
	budget := opt.maxPlaintext()
	// Ciphertext is bounded like Unwrap's, at twice the plaintext bound.
	maxCiphertext := min(budget, math.MaxInt64/4) * 2
	parts := make([]*inlinePart, 0, len(enc))
	for _, l := range enc {
		p := &inlinePart{leaf: l}
		var err error
		if p.bin, err = l.binary(maxCiphertext); err == nil {
			p.prot, err = scanEncryption(p.bin)
		}
		if err != nil {
			return nil, partialIfUnencrypted(err, len(enc))
		}
		parts = append(parts, p)
	}
	for _, p := range parts {
		if budget <= 0 {
			return nil, ErrTooLarge
		}
		o := opt
		o.MaxPlaintext = budget
		plain, md, err := decrypt(p.bin, keyring, o)
		if err != nil {
			return nil, partialIfUnencrypted(err, len(enc))
		}
		budget -= int64(len(plain))
		p.plain, p.md, p.bin = plain, md, nil
	}
	return parts, nil
}

// binary returns the OpenPGP packets of an encrypted leaf.
func (l *leaf) binary(max int64) ([]byte, error) {
	if l.armored {
		return dearmor(l.payload, "PGP MESSAGE", max)
	}
	if int64(len(l.payload)) > max {
		return nil, ErrTooLarge
	}
	return l.payload, nil
}

// partialIfUnencrypted turns "this OpenPGP message is not encrypted" into
// ErrPartial when other parts are: a signed-only message beside encrypted
// ones is unencrypted content.
func partialIfUnencrypted(err error, parts int) error {
	if parts > 1 && errors.Is(err, ErrNotEncrypted) {
		return fmt.Errorf("%w: an attached OpenPGP message is not encrypted", ErrPartial)
	}
	return err
}

// assemble checks every signature and builds the result. All parts have
// decrypted with integrity protection.
func assemble(parts []*inlinePart, sigLeaves []*leaf, keyring openpgp.EntityList, opt Options) (*Unwrapped, error) {
	for _, p := range parts {
		p.content = []byte(p.plain)
		p.plain = nil
		md := p.md
		if md.IsSigned {
			p.sigs = append(p.sigs, signatureResult(md.Signature, md.SignedBy, md.SignatureError, opt))
		}
		if p.leaf.kind == leafText {
			if signed, r := clearSigned(p.content, keyring, opt); r != nil {
				p.sigs = append(p.sigs, r)
				if signed != nil {
					p.content = signed
				}
			}
		}
	}
	for _, s := range sigLeaves {
		matchDetached(s, parts, keyring, opt)
	}
	u := &Unwrapped{Protection: weakestProtection(parts)}
	u.aggregate(parts)
	content, err := inlineContent(parts, opt)
	if err != nil {
		return nil, err
	}
	u.Content = content
	return u, nil
}

func signatureResult(sig *packet.Signature, signedBy *openpgp.Key, verr error, opt Options) *Unwrapped {
	r := &Unwrapped{}
	r.fromSignature(sig, signedBy, verr, opt.now())
	return r
}

func keyOf(e *openpgp.Entity) *openpgp.Key {
	if e == nil {
		return nil
	}
	return &openpgp.Key{Entity: e}
}

// matchDetached verifies the *.sig leaf s over each decrypted attachment
// whose name is s's without ".sig". A signature that matches no attachment
// is dropped: it covers nothing that is distributed.
func matchDetached(s *leaf, parts []*inlinePart, keyring openpgp.EntityList, opt Options) {
	stem := baseName(s.name)
	stem = stem[:len(stem)-len(".sig")]
	var sigBin []byte
	var readErr error
	for _, p := range parts {
		if p.leaf.kind != leafAttachment || decryptedName(p.leaf.name) != stem {
			continue
		}
		if sigBin == nil && readErr == nil {
			sigBin, readErr = detachedSignature(s.payload)
		}
		if readErr != nil {
			p.sigs = append(p.sigs, &Unwrapped{Status: spcrypto.StatusBad, Reason: "detached signature cannot be read"})
			continue
		}
		sig, signer, verr := openpgp.VerifyDetachedSignature(keyring,
			bytes.NewReader(p.content), bytes.NewReader(sigBin), opt.config())
		p.sigs = append(p.sigs, signatureResult(sig, keyOf(signer), verr, opt))
	}
}

// detachedSignature returns the packets of a *.sig file, armored or binary.
func detachedSignature(data []byte) ([]byte, error) {
	if bytes.HasPrefix(trimWS(data), []byte(sigBegin)) {
		return dearmor(data, "PGP SIGNATURE", maxDetachedSig)
	}
	if len(data) == 0 || len(data) > maxDetachedSig {
		return nil, fmt.Errorf("%w: detached signature of %d bytes", ErrMalformed, len(data))
	}
	return data, nil
}

// aggregate sets the message's signature status from its parts': good only
// when every part carries good signatures, all by the same key.
func (u *Unwrapped) aggregate(parts []*inlinePart) {
	var all []*Unwrapped
	unsigned := 0
	for _, p := range parts {
		if len(p.sigs) == 0 {
			unsigned++
		}
		all = append(all, p.sigs...)
	}
	u.summarise(all)
	worst := worstSignature(all)
	switch {
	case worst != nil:
		u.Status, u.Reason = worst.Status, worst.Reason
	case unsigned == len(parts):
		u.Status = spcrypto.StatusUnsigned
		if len(parts) > 1 {
			u.Reason = "no part is signed"
		}
	case unsigned > 0:
		u.Status, u.Reason = spcrypto.StatusUnsigned, "only some parts are signed"
	case !sameSigner(all):
		u.Status, u.Reason = spcrypto.StatusBad, "parts are signed by different keys"
	default:
		u.Status, u.Signer = spcrypto.StatusGood, all[0].Signer
	}
}

// summarise records the digest, time and intended recipients of sigs.
func (u *Unwrapped) summarise(sigs []*Unwrapped) {
	if len(sigs) == 0 {
		return
	}
	h := sha256.New()
	for _, s := range sigs {
		h.Write(s.SignatureDigest)
		if len(sigs) > 1 {
			u.PartDigests = append(u.PartDigests, s.SignatureDigest)
		}
		if s.SignatureTime.After(u.SignatureTime) {
			u.SignatureTime = s.SignatureTime
		}
	}
	u.SignatureDigest = h.Sum(nil)
	if len(sigs) == 1 {
		// One signature: the same digest Unwrap records for it, so that a
		// PGP/MIME post replayed as inline PGP (or back) is caught.
		u.SignatureDigest = sigs[0].SignatureDigest
	}
	// DESIGN §4.4: the message is bound to a list only if every signature
	// names it, so only fingerprints all of them name are kept.
	u.IntendedRecipients = sigs[0].IntendedRecipients
	for _, s := range sigs[1:] {
		u.IntendedRecipients = slices.DeleteFunc(slices.Clone(u.IntendedRecipients),
			func(f string) bool { return !slices.Contains(s.IntendedRecipients, f) })
	}
}

// worstSignature returns the most severe non-good signature, or nil.
func worstSignature(sigs []*Unwrapped) *Unwrapped {
	var worst *Unwrapped
	for _, s := range sigs {
		if s.Status != spcrypto.StatusGood && (worst == nil || severity(s.Status) > severity(worst.Status)) {
			worst = s
		}
	}
	return worst
}

// severity orders statuses from good to bad; StatusBad and anything
// unknown are the worst.
func severity(s spcrypto.Status) int {
	order := []spcrypto.Status{spcrypto.StatusGood, spcrypto.StatusUnsigned, spcrypto.StatusUnknownSigner,
		spcrypto.StatusUntrusted, spcrypto.StatusKeyInvalid, spcrypto.StatusWeak}
	if i := slices.Index(order, s); i >= 0 {
		return i
	}
	return len(order)
}

func sameSigner(sigs []*Unwrapped) bool {
	for _, s := range sigs {
		if s.Signer == nil || s.Signer.Fingerprint != sigs[0].Signer.Fingerprint {
			return false
		}
	}
	return true
}

// weakestProtection is the protection the least protected part had.
func weakestProtection(parts []*inlinePart) spcrypto.Protection {
	prot := spcrypto.Protection{Encrypted: true, Integrity: "aead"}
	for _, p := range parts {
		if p.prot.Integrity != "aead" {
			prot.Integrity = "mdc"
		}
		c := cipherName(p.md.DecryptedWithAlgorithm)
		if prot.Cipher == "" || cipherStrength(c) < cipherStrength(prot.Cipher) {
			prot.Cipher = c
		}
	}
	return prot
}

func cipherStrength(name string) int {
	return slices.Index([]string{"AES128", "AES192", "AES256"}, name) + 1 // 0: anything older
}

// inlineContent builds the entity to distribute from the decrypted parts.
func inlineContent(parts []*inlinePart, opt Options) ([]byte, error) {
	if len(parts) == 1 && parts[0].leaf.kind == leafText {
		var b bytes.Buffer
		writeTextPart(&b, parts[0])
		return b.Bytes(), nil
	}
	boundary, err := freshBoundary(parts, opt)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("Content-Type: " + stdmime.FormatMediaType("multipart/mixed",
		map[string]string{"boundary": boundary}) + "\r\n\r\n")
	for _, p := range parts {
		b.WriteString("--" + boundary + "\r\n")
		if p.leaf.kind == leafText {
			writeTextPart(&b, p)
		} else {
			writeAttachment(&b, p)
		}
		b.WriteString("\r\n")
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.Bytes(), nil
}

// freshBoundary returns a boundary that no 8bit text part contains (RFC
// 2046 §5.1.1); attachments are base64, which cannot contain one.
func freshBoundary(parts []*inlinePart, opt Options) (string, error) {
	for range 3 {
		boundary, err := mime.NewBoundary(opt.rand())
		if err != nil {
			return "", fmt.Errorf("pgp: %w", err)
		}
		if !slices.ContainsFunc(parts, func(p *inlinePart) bool {
			return p.leaf.kind == leafText && bytes.Contains(p.content, []byte("--"+boundary))
		}) {
			return boundary, nil
		}
	}
	return "", errors.New("pgp: no boundary found that the content does not contain")
}

func writeTextPart(b *bytes.Buffer, p *inlinePart) {
	writeTextEntity(b, p.leaf.part.Params["charset"], p.content)
}

func writeAttachment(b *bytes.Buffer, p *inlinePart) {
	name := attachmentName(p.leaf.name)
	b.WriteString("Content-Type: " + stdmime.FormatMediaType("application/octet-stream",
		map[string]string{"name": name}) + "\r\n")
	b.WriteString("Content-Disposition: " + stdmime.FormatMediaType("attachment",
		map[string]string{"filename": name}) + "\r\n")
	b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
	enc := base64.StdEncoding.EncodeToString(p.content)
	// RFC 2045 §6.8: lines of at most 76 characters.
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc)
}

// plainCharset returns c when it is a plain token, else utf-8.
func plainCharset(c string) string {
	if c == "" || len(c) > 40 || strings.IndexFunc(c, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:+", r))
	}) >= 0 {
		return "utf-8"
	}
	return c
}

// filename is the part's file name from Content-Disposition (RFC 2183),
// else from the Content-Type name parameter.
func filename(p *mime.Part) string {
	if _, params, err := stdmime.ParseMediaType(p.Header.Get("Content-Disposition")); err == nil && params["filename"] != "" {
		return params["filename"]
	}
	return p.Params["name"]
}

func hasCipherSuffix(lowerName string) bool {
	return slices.ContainsFunc(cipherSuffixes, func(s string) bool { return strings.HasSuffix(lowerName, s) })
}

// attachmentName is the name a decrypted attachment is distributed under:
// the last path element of name without its .pgp/.gpg/.asc suffix and
// control characters, at most maxNameLen bytes.
func attachmentName(name string) string {
	name = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, decryptedName(name))
	for len(name) > maxNameLen {
		_, n := utf8.DecodeLastRuneInString(name)
		name = name[:len(name)-n]
	}
	if strings.Trim(name, ". ") == "" {
		return "attachment"
	}
	return name
}

// decryptedName is the last path element of name without its
// .pgp/.gpg/.asc suffix.
func decryptedName(name string) string {
	name = baseName(name)
	for _, s := range cipherSuffixes {
		if strings.HasSuffix(strings.ToLower(name), s) {
			return name[:len(name)-len(s)]
		}
	}
	return name
}

// baseName strips any directory a sender put into a file name.
func baseName(name string) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		return name[i+1:]
	}
	return name
}

// trimWS trims ASCII whitespace, and only that, from both ends of b.
func trimWS(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}
