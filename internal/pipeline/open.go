package pipeline

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// opened is what either engine learned from an inbound message whose
// encryption and integrity checked out. content is authenticated.
type opened struct {
	protection spcrypto.Protection
	status     spcrypto.Status
	signer     *spcrypto.Signer
	reason     string   // why status is not good; never message content
	digest     []byte   // signature digest for replay detection
	parts      [][]byte // further replay marks: per-part signatures of inline PGP
	intended   []string
	issuer     string // the unknown signer's key ID, when the engine could tell
	content    []byte
	// smime is the S/MIME signature, whose certificate still has to be
	// trusted for the sender's address (see certify).
	smime *smime.Verified
	// smimeEnveloped: the encryption was S/MIME (set by gateways).
	smimeEnveloped bool
	// refusal is why a signature that is present is refused for how it
	// was made (SHA-1, an unsupported algorithm, malformed attributes),
	// when that is the reason; policy.OK otherwise.
	refusal policy.Reason
	// smimeSigned: the signature, good or not, was S/MIME.
	smimeSigned bool
}

// parseContent parses decrypted (or verified) content as the MIME entity
// RFC 3156 §4 and RFC 8551 §3 say it is. QUIRK(gpg): content that is
// plain text with no header at all, as `gpg --sign --encrypt` of a text
// file gives, is read as text/plain (UTF-8 when it is valid UTF-8) rather
// than held as unreadable; it is authenticated all the same, and its
// bytes are unchanged.
func (p *Pipeline) parseContent(b []byte) (*mime.Part, error) {
	part, err := mime.Parse(b, p.opt.Limits)
	if err == nil || !errors.Is(err, mime.ErrMalformed) || !plainText(b) {
		return part, err
	}
	charset := "utf-8"
	if !utf8.Valid(b) {
		charset = "unknown-8bit" // RFC 1428
	}
	return mime.Parse(append([]byte("Content-Type: text/plain; charset="+charset+"\r\n\r\n"), b...), p.opt.Limits)
}

// plainText reports whether b looks like text written by a person: no
// NUL or other control characters but tab, CR, LF and form feed.
func plainText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\r' && c != '\n' && c != '\f' || c == 0x7f {
			return false
		}
	}
	return true
}

// signatureMarks are the replay marks of the message's signatures
// (DESIGN §4.4): the digest over all of them and, for inline PGP, each
// part's; none for an unsigned message.
func (o *opened) signatureMarks() [][]byte {
	if o.digest == nil {
		return nil
	}
	marks := [][]byte{o.digest}
	for _, d := range o.parts {
		if d != nil { // a part whose signature could not be read
			marks = append(marks, d)
		}
	}
	return marks
}

// open decrypts and verifies msg with the engine its structure calls for:
// application/pkcs7-mime is S/MIME (RFC 8551 §3.3), everything else goes
// to the OpenPGP engine, which refuses what is not RFC 3156.
func (p *Pipeline) open(list *store.List, r *roster, msg *mime.Part) (*opened, error) {
	msg = encryptedLayer(msg)
	if isSMIME(msg) {
		return p.openSMIME(list, r, msg)
	}
	listKey, err := p.listKey(list)
	if err != nil {
		return nil, err
	}
	unwrap := pgp.Unwrap
	if msg.MediaType != "multipart/encrypted" && pgp.IsInline(msg) {
		unwrap = pgp.UnwrapInline
	}
	opt := p.pgpOptions()
	opt.Retired = p.retiredKeys(list)
	opt.MaxPlaintext = p.maxSize(list)
	u, err := unwrap(msg, listKey, r.pgpKeys, opt)
	if err != nil {
		return nil, &engineError{reason: pgpReason(err), err: err}
	}
	return &opened{protection: u.Protection, status: u.Status, signer: u.Signer, reason: u.Reason,
		digest: u.SignatureDigest, parts: u.PartDigests, intended: u.IntendedRecipients, content: u.Content,
		issuer: u.IssuerKeyID}, nil
}

// openSMIME decrypts an application/pkcs7-mime message and checks the
// signature inside; a signer that left its certificate out is looked up
// among the members' (r.certs).
func (p *Pipeline) openSMIME(list *store.List, r *roster, msg *mime.Part) (*opened, error) {
	id, err := p.listIdentity(list)
	if errors.Is(err, keyring.ErrNoIdentity) {
		return nil, &engineError{reason: policy.Undecryptable, err: err}
	}
	if err != nil {
		return nil, err
	}
	opt := p.smimeOptions(r)
	opt.MaxPlaintext = p.maxSize(list)
	u, err := smime.Unwrap(msg, id, opt)
	for _, old := range p.retiredIdentities(list) {
		if !errors.Is(err, smime.ErrNoRecipient) {
			break
		}
		// Encrypted to a certificate the list had before, still in
		// its grace period.
		u, err = smime.Unwrap(msg, old, opt)
	}
	if errors.Is(err, smime.ErrNotEncrypted) {
		// RFC 8551 §3.5.2: signed-data is signed, not encrypted. It is
		// refused as every message that is not encrypted is, so that a
		// list taking such posts reads it (openClearAny) as it reads
		// the multipart/signed form.
		err = fmt.Errorf("%w (%w)", err, pgp.ErrNotEncrypted)
	}
	if err != nil {
		return nil, &engineError{reason: smimeReason(err), err: err}
	}
	// A signature refused for how it was made (weak or unsupported
	// algorithm, malformed attributes) is refused with that reason, not
	// as altered: by a list always, and by a gateway when the signature
	// was all that could authenticate the content (CBC, DESIGN §4.1);
	// a gateway otherwise hands the message on with the signature
	// marked bad.
	authenticated := u.Protection.Integrity != ""
	if reason := smimeSignatureReason(u.SignatureError, authenticated); reason != policy.OK && (!list.IsGateway() || !authenticated) {
		return nil, &engineError{reason: reason, err: u.SignatureError}
	}
	return smimeOpened(u), nil
}

// smimeOptions are the S/MIME engine's options for reading a message to
// a list whose roster is r: its members' certificates are known, in a
// fixed order.
func (p *Pipeline) smimeOptions(r *roster) smime.Options {
	known := make([]*x509.Certificate, 0, len(r.certs))
	for _, fpr := range slices.Sorted(maps.Keys(r.certs)) {
		known = append(known, r.certs[fpr])
	}
	return smime.Options{Now: p.opt.Now, Rand: p.opt.Rand, MaxPlaintext: p.opt.Limits.MaxSize, Certificates: known}
}

// smimeOpened is what the pipeline works with from an S/MIME result.
func smimeOpened(u *smime.Unwrapped) *opened {
	o := &opened{protection: u.Protection, content: u.Content, status: spcrypto.StatusUnsigned, smimeSigned: u.Signed()}
	switch {
	case u.Verified != nil:
		v := u.Verified
		info := smime.CertInfo(v.Signer)
		o.status, o.smime, o.digest = spcrypto.StatusGood, v, v.SignatureDigest
		o.signer = &spcrypto.Signer{Fingerprint: info.Fingerprint, Addresses: info.Addresses, Names: info.Names}
	case errors.Is(u.SignatureError, smime.ErrUnknownSigner):
		o.status, o.reason = spcrypto.StatusUnknownSigner, "S/MIME signature by a certificate that is neither in the message nor on file"
	case u.SignatureError != nil:
		o.status, o.reason = spcrypto.StatusBad, "S/MIME signature: "+u.SignatureError.Error()
	}
	return o
}

// smimeSignatureReason names why a signature that is present was
// refused for how it was made; OK when it was not (it verified, or it
// does not verify, or its signer is unknown). authenticated says whether
// the decrypted content had integrity of its own (AES-GCM): without it
// (CBC), a signature whose DER does not parse is what a changed
// ciphertext makes, and stays a matter of integrity.
func smimeSignatureReason(err error, authenticated bool) policy.Reason {
	switch {
	case err == nil, errors.Is(err, smime.ErrBadSignature), errors.Is(err, smime.ErrUnknownSigner):
		return policy.OK
	case errors.Is(err, smime.ErrWeak):
		return policy.WeakSignature
	case errors.Is(err, smime.ErrUnsupported):
		return policy.Unsupported
	case errors.Is(err, smime.ErrBadAttributes),
		errors.Is(err, smime.ErrMalformed) && authenticated:
		return policy.MalformedSignature
	}
	return policy.OK
}

// certify decides whether an S/MIME signer's certificate may speak for
// from: a member's pinned or harvested certificate by itself (valid now,
// and not revoked by a CRL of its issuer: RFC 5280 §3.3, a CRL covers
// every certificate its issuer signed), any other certificate only
// through a chain to the trust anchors, with the address and revocation
// checked (RFC 8550 §3, RFC 5280). It reports whether the signer was
// certified through a chain.
func (p *Pipeline) certify(ctx context.Context, list *store.List, o *opened, from string, r *roster) (bool, error) {
	if o.smime == nil || o.status != spcrypto.StatusGood {
		return false, nil
	}
	cert, now := o.smime.Signer, p.opt.Now()
	if _, known := r.certs[o.signer.Fingerprint]; known {
		if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
			o.status, o.reason, o.signer = spcrypto.StatusKeyInvalid, "member certificate expired", nil
			return false, nil
		}
		revoked, err := p.signerRevoked(ctx, list, o.smime)
		if err != nil {
			return false, err
		}
		if revoked {
			o.status, o.reason, o.signer = spcrypto.StatusKeyInvalid, "member certificate revoked by a CRL of its issuer", nil
		}
		return false, nil
	}
	roots, err := p.trustAnchors(ctx, list)
	if err != nil {
		return false, err
	}
	loaded, err := p.loadedCRLs(ctx)
	if err != nil {
		return false, err
	}
	err = smime.CheckCertificate(cert, from, smime.TrustOptions{
		Roots: roots, Intermediates: o.smime.Certificates, Now: now,
		CRLs: append(p.fetchCRLs(ctx, o.smime.Certificates), loaded...), RequireCRL: p.opt.RequireCRL,
	})
	if err != nil {
		o.status, o.reason, o.signer = spcrypto.StatusUntrusted, err.Error(), nil
		return false, nil
	}
	return true, nil
}

// fetchCRLs fetches the CRLs named in the distribution points of the
// message's certificates, when fetching is enabled. A CRL that cannot be
// fetched is logged and left out: with RequireCRL the certificate is then
// refused ("No CRL known").
func (p *Pipeline) fetchCRLs(ctx context.Context, certs []*x509.Certificate) []*x509.RevocationList {
	if p.opt.FetchCRL == nil {
		return nil
	}
	var out []*x509.RevocationList
	seen := map[string]bool{}
	for _, c := range certs {
		for _, url := range c.CRLDistributionPoints {
			if seen[url] {
				continue
			}
			seen[url] = true
			crl, err := p.opt.FetchCRL(ctx, url)
			if err != nil {
				p.opt.Logger.Warn("CRL not fetched", "url", url, "err", err)
				continue
			}
			out = append(out, crl)
		}
	}
	return out
}

// trustAnchors are the global anchors and the list's own.
func (p *Pipeline) trustAnchors(ctx context.Context, list *store.List) ([]*x509.Certificate, error) {
	anchors, err := p.listAnchors(ctx, list)
	if err != nil {
		return nil, err
	}
	return slices.Concat(anchors, p.opt.TrustAnchors), nil
}

// engineError is an engine's refusal with the policy reason it maps to.
type engineError struct {
	reason policy.Reason
	err    error
}

func (e *engineError) Error() string { return e.err.Error() }
func (e *engineError) Unwrap() error { return e.err }

// openClear reads a message that is not encrypted, for a list that takes
// such posts (on_unencrypted=accept): a PGP/MIME multipart/signed
// message, or a text/plain one that is cleartext-signed (RFC 9580 §7), is
// verified; anything else is unsigned.
func (p *Pipeline) openClear(r *roster, msg *mime.Part) *opened {
	u := pgp.VerifySigned(msg, r.pgpKeys, p.pgpOptions())
	return &opened{protection: u.Protection, status: u.Status, signer: u.Signer, reason: u.Reason,
		digest: u.SignatureDigest, intended: u.IntendedRecipients, content: u.Content, issuer: u.IssuerKeyID}
}

// pgpReason maps an OpenPGP engine error to a policy reason.
func pgpReason(err error) policy.Reason {
	switch {
	case errors.Is(err, pgp.ErrPartial):
		return policy.PartlyEncrypted
	case errors.Is(err, pgp.ErrNotEncrypted), errors.Is(err, pgp.ErrSymmetric):
		return policy.NotEncrypted
	case errors.Is(err, pgp.ErrIntegrity):
		return policy.NoIntegrity
	case errors.Is(err, pgp.ErrTooLarge):
		return policy.Inflated
	}
	return policy.Undecryptable
}

// smimeReason maps an S/MIME engine error to a policy reason.
func smimeReason(err error) policy.Reason {
	switch {
	case errors.Is(err, smime.ErrNotEncrypted):
		return policy.NotEncrypted
	case errors.Is(err, smime.ErrIntegrity):
		return policy.NoIntegrity
	case errors.Is(err, smime.ErrTooLarge):
		return policy.Inflated
	case errors.Is(err, smime.ErrWeak):
		// RFC 8551 §2.7: 3DES, DES, RC2 are refused by name.
		return policy.WeakCipher
	case errors.Is(err, smime.ErrUnsupported):
		return policy.Unsupported
	}
	return policy.Undecryptable
}

func isSMIME(p *mime.Part) bool {
	return p.MediaType == "application/pkcs7-mime" || p.MediaType == "application/x-pkcs7-mime"
}

// openClearAny reads a message that is not encrypted.
func (p *Pipeline) openClearAny(r *roster, msg *mime.Part) *opened {
	protocol := strings.ToLower(msg.Params["protocol"])
	switch {
	case msg.MediaType == "multipart/signed" && protocol == "application/pgp-signature",
		// Enigmail's "signed inline", RT's clear-signed mail.
		msg.MediaType == "text/plain" && !msg.IsMultipart():
		return p.openClear(r, msg)
	case msg.MediaType == "multipart/signed" && strings.HasSuffix(protocol, "pkcs7-signature"), smime.SignedOnly(msg):
		u := smime.VerifySigned(msg, p.smimeOptions(r))
		o := smimeOpened(u)
		o.refusal = smimeSignatureReason(u.SignatureError, true)
		return o
	}
	return &opened{content: msg.Raw}
}
