package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/queue"
	"github.com/sealpost/sealpost/internal/store"
)

// A list post's copies are rendered when the queue delivers them, not
// before the 250 (DESIGN §5: copies are encrypted from one signed body
// and never all held at once; the queue holds state and references). At
// the 250 the post is signed once per format and stored once, sealed
// (store.PostBody); each member's delivery holds the body's id and the
// member's recipient choice (which key, which format). Delivering a copy
// opens the body (a few bodies stay open in memory while their copies go
// out), loads the member's key by fingerprint and encrypts.
//
// A key that is gone or no longer usable when its copy is rendered fails
// the copy for good with errKeyGone's reason; CopyFailed then sends the
// member the notice a member without a usable key gets at the 250
// (member-missed) instead of counting a bounce.

// postBody is what rendering a member's copy needs: the post signed once
// in each format it is sent in, and the copies' outer header.
type postBody struct {
	signed signed
	// header is the outer header of every copy (outerHeader); its To is
	// filled per copy.
	header  []field
	allowV2 bool // the list allows SEIPD v2 (list.Settings.AllowSEIPDv2)
	size    int  // of the encoded body
	// keys are the keys on file of the list's members when the body was
	// opened, by address: one query for all of a post's copies, not one
	// per copy. Not stored (decodeBody leaves it nil).
	keys map[string][]store.MemberKey
}

// bodyVersion is the first byte of an encoded postBody.
const bodyVersion = 1

// encodeBody writes b in a simple length-prefixed form: the version, the
// flags, the OpenPGP signed packets, the S/MIME signed entity, the inline
// parts (text flag, charset, filename, packets) and the header fields;
// front bytes are left in front of it and room for back more after it,
// for sealing it in place.
func encodeBody(b *postBody, front, back int) []byte {
	size := 64 + front + back
	if b.signed.pgp != nil {
		size += len(b.signed.pgp.Bytes())
	}
	size += len(b.signed.smime)
	for _, part := range b.signed.inline {
		size += len(part.signed.Bytes()) + len(part.charset) + len(part.filename) + 16
	}
	for _, f := range b.header {
		size += len(f[0]) + len(f[1]) + 8
	}
	out := make([]byte, front, size)
	out = append(out, bodyVersion)
	flags := uint64(0)
	if b.allowV2 {
		flags |= 1
	}
	out = binary.AppendUvarint(out, flags)
	var packets []byte
	if b.signed.pgp != nil {
		packets = b.signed.pgp.Bytes()
	}
	out = appendBytes(out, packets)
	out = appendBytes(out, b.signed.smime)
	out = binary.AppendUvarint(out, uint64(len(b.signed.inline)))
	for _, part := range b.signed.inline {
		text := byte(0)
		if part.text {
			text = 1
		}
		out = append(out, text)
		out = appendBytes(out, []byte(part.charset))
		out = appendBytes(out, []byte(part.filename))
		out = appendBytes(out, part.signed.Bytes())
	}
	out = binary.AppendUvarint(out, uint64(len(b.header)))
	for _, f := range b.header {
		out = appendBytes(out, []byte(f[0]))
		out = appendBytes(out, []byte(f[1]))
	}
	return out
}

func appendBytes(out, b []byte) []byte {
	return append(binary.AppendUvarint(out, uint64(len(b))), b...)
}

// errBadBody is a stored body that does not decode.
var errBadBody = errors.New("pipeline: a stored post body is malformed")

// decodeBody reads what encodeBody wrote; the signed parts keep
// referring to data.
func (p *Pipeline) decodeBody(data []byte) (*postBody, error) {
	r := bodyReader{data: data}
	if r.byte() != bodyVersion {
		return nil, errBadBody
	}
	b := &postBody{allowV2: r.uvarint()&1 != 0}
	opt := p.pgpOptions()
	if packets := r.bytes(); len(packets) > 0 {
		b.signed.pgp = pgp.LoadSigned(packets, opt)
	}
	b.signed.smime = r.bytes()
	n := r.uvarint()
	if n > maxInlineParts {
		return nil, errBadBody
	}
	for range n {
		part := inlinePart{text: r.byte() == 1, charset: string(r.bytes()), filename: string(r.bytes())}
		part.signed = pgp.LoadSigned(r.bytes(), opt)
		b.signed.inline = append(b.signed.inline, part)
	}
	n = r.uvarint()
	if n > 64 {
		return nil, errBadBody
	}
	for range n {
		b.header = append(b.header, field{string(r.bytes()), string(r.bytes())})
	}
	if r.bad || len(r.data) != 0 {
		return nil, errBadBody
	}
	b.size = len(data)
	return b, nil
}

// bodyReader reads encodeBody's form; bad is set on any overrun.
type bodyReader struct {
	data []byte
	bad  bool
}

func (r *bodyReader) byte() byte {
	if len(r.data) == 0 {
		r.bad = true
		return 0
	}
	c := r.data[0]
	r.data = r.data[1:]
	return c
}

func (r *bodyReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.data)
	if n <= 0 {
		r.bad = true
		return 0
	}
	r.data = r.data[n:]
	return v
}

func (r *bodyReader) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.data)) {
		r.bad = true
		return nil
	}
	b := r.data[:n:n]
	r.data = r.data[n:]
	return b
}

// sealBody is the stored form of a post's body: sealed under the master
// key (DESIGN §4.6: it is plaintext), bound to its list and reference.
func (p *Pipeline) sealBody(list *store.List, ref string, b *postBody) (*store.PostBody, error) {
	// Sealed where it is encoded: a large post is not held twice more.
	front, back := p.sealer.SealRoom()
	sealed, err := p.sealer.SealInPlace(encodeBody(b, front, back), keyring.PostBodyLabel(list.ID, ref))
	if err != nil {
		return nil, fmt.Errorf("pipeline: sealing a post: %w", err)
	}
	return &store.PostBody{Ref: ref, ListID: list.ID, Sealed: sealed}, nil
}

// Recipient choices as a delivery keeps them: the format, the key's
// fingerprint and, for S/MIME, the cipher and key transport.
const (
	choicePGPMIME = "pgpmime"
	choiceInline  = "inline"
	choiceSMIME   = "smime"
)

// choiceOf writes down how to renders a copy for: enough to find the
// key again and encrypt as the policy decided at the 250.
func choiceOf(to recipient) string {
	switch {
	case to.cert != nil:
		return choiceSMIME + " " + to.fingerprint + " " + strconv.Itoa(int(to.cipher)) + " " + strconv.Itoa(int(to.keyTransport))
	case to.inline:
		return choiceInline + " " + to.fingerprint
	}
	return choicePGPMIME + " " + to.fingerprint
}

// choice is a parsed recipient choice.
type choice struct {
	format, fingerprint string
	cipher              smime.Cipher
	keyTransport        smime.KeyTransport
}

func parseChoice(s string) (choice, error) {
	f := strings.Fields(s)
	bad := fmt.Errorf("pipeline: malformed recipient choice %q", s)
	switch {
	case len(f) == 2 && (f[0] == choicePGPMIME || f[0] == choiceInline):
		return choice{format: f[0], fingerprint: f[1]}, nil
	case len(f) == 4 && f[0] == choiceSMIME:
		c, err1 := strconv.Atoi(f[2])
		kt, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			return choice{}, bad
		}
		return choice{format: f[0], fingerprint: f[1], cipher: smime.Cipher(c), keyTransport: smime.KeyTransport(kt)}, nil
	}
	return choice{}, bad
}

// KeyGoneReason starts the error of a copy whose member's key was
// removed or became unusable between the 250 and its delivery.
const KeyGoneReason = "the recipient's key is no longer on file or no longer usable"

// errKeyGone fails such a copy for good: retrying cannot bring the key back.
var errKeyGone = &queue.Permanent{Err: errors.New(KeyGoneReason)}

// errBodyGone fails a copy whose post body is no longer kept.
var errBodyGone = &queue.Permanent{Err: errors.New("the post is no longer kept")}

// OpenDelivery returns the message of a sealed delivery.
func (p *Pipeline) OpenDelivery(d *store.Delivery) ([]byte, error) {
	return p.sealer.Open(d.Data, keyring.DeliveryLabel(d.Ref, d.To))
}

// WriteDelivery writes the message of a delivery that is not stored as
// it is sent (the queue's Options.Render): a sealed one opened, a list
// post's copy encrypted from its body as it is written, never held whole
// in memory. An error is temporary unless it is a *queue.Permanent; on
// error part of the message may have been written.
func (p *Pipeline) WriteDelivery(ctx context.Context, d *store.Delivery, w io.Writer) error {
	if d.BodyID == 0 {
		msg, err := p.OpenDelivery(d)
		if err != nil {
			return err
		}
		_, err = w.Write(msg)
		return err
	}
	b, err := p.bodies.get(d.BodyID, d.Ref, func() (*postBody, error) { return p.openBody(ctx, d) })
	if err != nil {
		return err
	}
	to, err := p.recipientOf(b, d)
	if err != nil {
		return err
	}
	if b.size >= largeBody {
		// A large post's copies are rendered a few at a time whatever
		// the queue's workers: the CPUs are busy with two, and a copy
		// not made in place (inline, or into memory for a relay) takes
		// about three times its size while it is made.
		p.largeRenders <- struct{}{}
		defer func() { <-p.largeRenders }()
	}
	return p.renderCopy(w, b, to, d.To, d.From)
}

// largeBody is the size from which a post's copies are rendered at most
// largeRenders at a time.
const largeBody = 4 << 20

// openBody loads and opens the body of d.
func (p *Pipeline) openBody(ctx context.Context, d *store.Delivery) (*postBody, error) {
	sb, err := p.store.PostBody(ctx, d.BodyID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errBodyGone
	}
	if err != nil {
		return nil, err
	}
	// The delivery's own post only; opened where it was read, a large
	// post is not held twice.
	plain, err := p.sealer.OpenInPlace(sb.Sealed, keyring.PostBodyLabel(d.ListID, d.Ref))
	if err != nil {
		return nil, fmt.Errorf("pipeline: opening a post: %w", err)
	}
	b, err := p.decodeBody(plain)
	if err != nil {
		return nil, &queue.Permanent{Err: err}
	}
	// The members as posts see them (memberCache): while the list's
	// roster is unchanged since its post, no query at all, and the
	// copies waiting for this body are not held up by one.
	var ms []store.Member
	list, err := p.store.ListByID(ctx, d.ListID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// The list is gone, and its members with it: no copy has a key.
	case err != nil:
		return nil, err
	default:
		if ms, _, err = p.members.get(ctx, p.store, list); err != nil {
			return nil, err
		}
	}
	b.keys = make(map[string][]store.MemberKey, len(ms))
	for _, m := range ms {
		b.keys[m.Email] = m.Keys
	}
	return b, nil
}

// recipientOf finds again the key d's recipient choice names, among the
// member's keys on file when b was opened (a key removed while a post's
// copies are being delivered is noticed by its next post), and checks it
// can still be encrypted to.
func (p *Pipeline) recipientOf(b *postBody, d *store.Delivery) (recipient, error) {
	c, err := parseChoice(d.Recipient)
	if err != nil {
		return recipient{}, &queue.Permanent{Err: err}
	}
	var mk *store.MemberKey
	keys := b.keys[d.To]
	for i := range keys {
		if strings.EqualFold(keys[i].Fingerprint, c.fingerprint) {
			mk = &keys[i]
		}
	}
	if mk == nil {
		return recipient{}, errKeyGone
	}
	to := recipient{fingerprint: c.fingerprint, inline: c.format == choiceInline}
	if c.format == choiceSMIME {
		cert, err := p.memberCert(mk)
		if err != nil || !certEncryptable(cert, d.To, p.opt.Now()) {
			return recipient{}, errKeyGone
		}
		to.cert, to.cipher, to.keyTransport = cert, c.cipher, c.keyTransport
		return to, nil
	}
	k, err := p.memberKey(mk)
	if err != nil || !p.encryptable(k) {
		return recipient{}, errKeyGone
	}
	to.pgp = k
	return to, nil
}

// renderCopy encrypts the signed post b for one member in their format,
// writing the copy to w as it is made (PGP/MIME and S/MIME; an inline
// copy is made in memory first); from is the copy's envelope sender
// (writeOuterHeader).
func (p *Pipeline) renderCopy(w io.Writer, b *postBody, to recipient, addr, from string) error {
	switch {
	case to.inline:
		msg, err := p.inlineCopy(b.header, b.signed.inline, to, addr, from)
		if err != nil {
			return err
		}
		_, err = w.Write(msg)
		return err
	}
	e, err := p.encryption(b.signed, to, b.allowV2)
	if err != nil {
		return err
	}
	if err := writeOuterHeader(w, b.header, addr, from, e.contentType, e.fields...); err != nil {
		return err
	}
	return e.write(w)
}

// bodyCacheSize is how many opened post bodies stay in memory while
// their copies are delivered: posts are delivered one after the other,
// so a few are enough, and memory stays bounded by a few posts' size.
const bodyCacheSize = 2

// bodyCache keeps the most recently used opened post bodies.
type bodyCache struct {
	mu      sync.Mutex
	entries []*bodyEntry // least recently used first
}

type bodyEntry struct {
	id   int64
	ref  string
	once sync.Once
	body *postBody
	err  error
}

// get returns body id of the post ref, opening it with open once however
// many copies ask at the same time. A failure is not kept: the next copy
// tries again.
func (c *bodyCache) get(id int64, ref string, open func() (*postBody, error)) (*postBody, error) {
	c.mu.Lock()
	var e *bodyEntry
	for i, x := range c.entries {
		if x.id == id && x.ref == ref {
			e = x
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			break
		}
	}
	if e == nil {
		e = &bodyEntry{id: id, ref: ref}
		if len(c.entries) >= bodyCacheSize {
			c.entries = c.entries[1:]
		}
		c.entries = append(c.entries, e)
	}
	c.mu.Unlock()
	e.once.Do(func() { e.body, e.err = open() })
	if e.err != nil {
		c.mu.Lock()
		for i, x := range c.entries {
			if x == e {
				c.entries = append(c.entries[:i:i], c.entries[i+1:]...)
				break
			}
		}
		c.mu.Unlock()
	}
	return e.body, e.err
}
