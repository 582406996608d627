package pgp

// The import side of the key store: ReadKeys turns a file of keys, as an
// admin hands it to "sealpost key import", into one verdict per
// transferable key (RFC 9580 §10.1, §10.2).
//
// Certificate flooding (the 2019 SKS attack: tens of thousands of
// third-party certifications appended to a key) is handled before
// go-crypto sees the key: the packet framing is walked here, each
// signature packet is read only for its issuer, never verified, those by
// other keys are dropped at once, and what is left is capped. Only then is
// an Entity built, so a flooded key costs one pass over its bytes and
// memory bounded by the caps.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"
)

// Import limits (DESIGN §4.8). A key's filtered size is bounded by
// maxKeyBytes, its user IDs and subkeys by maxUserIDs and maxSubkeys.
const (
	maxImportBytes = 64 << 20 // the whole input of ReadKeys
	maxSigsKept    = 16       // self-signatures kept per user ID, subkey or primary key
)

// Packet tags (RFC 9580 §5).
const (
	ptSignature     = 2
	ptSecretKey     = 5
	ptPublicKey     = 6
	ptSecretSubkey  = 7
	ptMarker        = 10
	ptTrust         = 12
	ptUserID        = 13
	ptPublicSubkey  = 14
	ptUserAttribute = 17
	ptPadding       = 21
)

// ErrLocked is wrapped by Imported.Err when a secret key is protected by a
// passphrase and none, or a wrong one, was given.
var ErrLocked = errors.New("pgp: secret key is locked by a passphrase")

// lockedError carries a message for the admin and unwraps to ErrLocked.
type lockedError struct{ msg string }

func (e *lockedError) Error() string { return "pgp: " + e.msg }
func (e *lockedError) Unwrap() error { return ErrLocked }

// ImportOptions control ReadKeys. The zero value reads public keys and
// refuses protected secret keys.
type ImportOptions struct {
	// Now is the time expiry and revocation are judged at; zero means
	// time.Now.
	Now time.Time
	// Passphrase returns the passphrase of the protected secret key with
	// the given fingerprint. Nil means protected secret keys are refused
	// with an error that wraps ErrLocked.
	Passphrase func(fingerprint string) ([]byte, error)
}

func (o ImportOptions) now() time.Time {
	if o.Now.IsZero() {
		return time.Now()
	}
	return o.Now
}

// Imported is the verdict on one transferable key found in the input.
type Imported struct {
	Key         *Key   // nil when the key was refused
	Fingerprint string // primary fingerprint (upper hex) when it could be read, even if refused
	Err         error  // why the key was refused; nil when Key is set
	// DroppedThirdParty counts certifications by other keys (or by no
	// key: issuer-less signatures) removed before the key was read.
	DroppedThirdParty int
	// DroppedSelfSigs counts self-signatures beyond maxSigsKept per user
	// ID, subkey or primary key; the oldest were dropped, revocations last.
	DroppedSelfSigs int
	// Notes say, for the admin, what else was dropped or is unusable.
	Notes []string
}

// ReadKeys reads every transferable key in data: ASCII-armored (one or more
// public or private key blocks, with any text between them) or binary (keys
// concatenated). Each key gets its own verdict; the error is for input that
// holds no OpenPGP key at all.
func ReadKeys(data []byte, opt ImportOptions) ([]Imported, error) {
	if len(data) > maxImportBytes {
		return nil, fmt.Errorf("pgp: import is %d bytes; the limit is %d", len(data), maxImportBytes)
	}
	if len(data) > 0 && data[0]&0x80 != 0 {
		return readKeyStreams([][]byte{data}, nil, opt)
	}
	// RFC 9580 §4.2: a binary packet starts with bit 7 set; text is armor.
	streams, bad, err := armoredKeyStreams(data)
	if err != nil {
		return nil, err
	}
	return readKeyStreams(streams, bad, opt)
}

// readKeyStreams reads the binary key streams and appends to out. A
// stream that holds no key is an error only when no stream holds one.
func readKeyStreams(streams [][]byte, out []Imported, opt ImportOptions) ([]Imported, error) {
	var errs []error
	for _, bin := range streams {
		keys, err := readKeyStream(bin, opt)
		out = append(out, keys...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(out) == 0 {
		if len(errs) == 0 {
			errs = append(errs, errors.New("pgp: no OpenPGP key found"))
		}
		return nil, errors.Join(errs...)
	}
	for _, err := range errs {
		out = append(out, Imported{Err: err})
	}
	return out, nil
}

// armoredKeyStreams decodes each PUBLIC or PRIVATE KEY BLOCK of an armored
// input (RFC 9580 §6.2). A block whose armor is damaged becomes a refused
// Imported so that the admin sees it.
func armoredKeyStreams(data []byte) (streams [][]byte, bad []Imported, err error) {
	var types []string
	for n := 1; ; n++ {
		start := bytes.Index(data, []byte("-----BEGIN PGP "))
		if start < 0 {
			break
		}
		block := data[start:]
		if end := bytes.Index(block, []byte("-----END PGP ")); end >= 0 {
			if nl := bytes.IndexByte(block[end:], '\n'); nl >= 0 {
				block = block[:end+nl+1]
			}
		}
		data = data[start+len(block):]
		b, err := armor.Decode(bytes.NewReader(block))
		if err == nil && b.Type != openpgp.PublicKeyType && b.Type != openpgp.PrivateKeyType {
			types = append(types, b.Type)
			continue
		}
		var bin []byte
		if err == nil {
			bin, err = io.ReadAll(b.Body)
		}
		if err != nil {
			bad = append(bad, Imported{Err: fmt.Errorf("pgp: armored block %d is damaged: %w", n, err)})
			continue
		}
		streams = append(streams, bin)
	}
	if len(streams) == 0 && len(bad) == 0 {
		if len(types) > 0 {
			return nil, nil, fmt.Errorf("pgp: no key block found, only %q", types)
		}
		return nil, nil, errors.New("pgp: neither an armored key block nor binary OpenPGP data")
	}
	return streams, bad, nil
}

// readKeyStream splits binary OpenPGP data into transferable keys at each
// primary key packet and reads each. Broken framing ends the stream: the
// key being read is refused, the keys before it stand.
func readKeyStream(bin []byte, opt ImportOptions) ([]Imported, error) {
	var out []Imported
	var cur *keyFilter
	stray := 0
	for off := 0; off < len(bin); {
		p, n, err := splitKeyPacket(bin[off:])
		if err != nil {
			err = fmt.Errorf("pgp: damaged packet at byte %d: %w", off, err)
			if cur == nil {
				return out, err
			}
			cur.imp.Err = err
			return append(out, cur.finish(opt)), nil
		}
		off += n
		switch {
		case p.tag == ptPublicKey || p.tag == ptSecretKey:
			if cur != nil {
				out = append(out, cur.finish(opt))
			}
			cur = newKeyFilter(p)
		case cur == nil:
			stray++
		default:
			cur.add(p)
		}
	}
	if cur == nil {
		return nil, fmt.Errorf("pgp: no key in the input, only %d other packets (a revocation certificate alone? import it into the key with gpg, then export the key)", stray)
	}
	return append(out, cur.finish(opt)), nil
}

// keyPacket is one packet as it appears in the input, header included.
type keyPacket struct {
	tag  byte
	raw  []byte
	body int // where the body starts in raw
}

// version is the first octet of the packet's body: a key packet's version.
func (p keyPacket) version() byte {
	if p.body >= len(p.raw) {
		return 0
	}
	return p.raw[p.body]
}

// librePGPKeyVersion is the key packet version of LibrePGP, the format
// GnuPG 2.5 writes its "Kyber" (ML-KEM) subkeys in. It is not OpenPGP
// (RFC 9580 has v4 and v6), and go-crypto's readers differ on it
// (openpgp.ReadKeyRing refuses the whole key, v2's ReadEntity skips the
// subkey): such subkeys are dropped on import, saying so, and the key's
// classical subkeys serve.
const librePGPKeyVersion = 5

// splitKeyPacket frames the first packet of data and returns it with its total
// length (RFC 9580 §4.2). Partial and indeterminate lengths are refused:
// they are for streamed data, never for key material (§4.2.1.4, §4.2.2.3).
func splitKeyPacket(data []byte) (keyPacket, int, error) {
	if len(data) < 2 || data[0]&0x80 == 0 {
		return keyPacket{}, 0, errors.New("not an OpenPGP packet header")
	}
	var tag byte
	var hdr, body int
	if data[0]&0x40 != 0 {
		tag = data[0] & 0x3f
		hdr, body = newFormatBodyLen(data[1:])
	} else {
		tag = data[0] >> 2 & 0x0f
		hdr, body = oldFormatBodyLen(data[0]&3, data[1:])
	}
	switch {
	case hdr < 0:
		return keyPacket{}, 0, errors.New("partial or indeterminate packet length in key material")
	case hdr == 0 || len(data)-1-hdr < body:
		return keyPacket{}, 0, errors.New("truncated packet")
	}
	n := 1 + hdr + body
	return keyPacket{tag: tag, raw: data[:n], body: 1 + hdr}, n, nil
}

// newFormatBodyLen decodes an RFC 9580 §4.2.1 length: the length octets
// used (0 when truncated, -1 for a partial length) and the body length.
func newFormatBodyLen(b []byte) (hdr, body int) {
	switch {
	case b[0] < 192:
		return 1, int(b[0])
	case b[0] < 224 && len(b) >= 2:
		return 2, (int(b[0])-192)<<8 + int(b[1]) + 192
	case b[0] == 255 && len(b) >= 5:
		return 5, int(binary.BigEndian.Uint32(b[1:5]))
	case b[0] >= 224 && b[0] < 255:
		return -1, 0
	}
	return 0, 0
}

// oldFormatBodyLen decodes an RFC 9580 §4.2.2 length of lengthType.
func oldFormatBodyLen(lengthType byte, b []byte) (hdr, body int) {
	switch {
	case lengthType == 0:
		return 1, int(b[0])
	case lengthType == 1 && len(b) >= 2:
		return 2, int(binary.BigEndian.Uint16(b))
	case lengthType == 2 && len(b) >= 4:
		return 4, int(binary.BigEndian.Uint32(b))
	case lengthType == 3:
		return -1, 0
	}
	return 0, 0
}

// keyElement is the primary key's own signatures (head nil), or one user ID
// or subkey packet with the self-signatures kept for it.
type keyElement struct {
	head []byte
	tag  byte
	sigs []keptSig
}

type keptSig struct {
	raw        []byte
	created    time.Time
	revocation bool
}

// keyFilter collects the packets of one transferable key that survive the
// flooding defence.
type keyFilter struct {
	imp     Imported
	primary *packet.PublicKey // nil when the primary key packet is unreadable
	head    []byte
	elems   []*keyElement
	cur     *keyElement // where signatures go; nil while skipping a dropped part
	counts  map[byte]int
	// dropped parts, for Notes
	overLimit, unsigned, attributes, unknown, unreadable, librePGP, unknownAlgo int
}

func newKeyFilter(p keyPacket) *keyFilter {
	f := &keyFilter{head: p.raw, counts: map[byte]int{}}
	if p.version() == librePGPKeyVersion {
		f.imp.Err = errors.New("pgp: a GnuPG 2.5 (LibrePGP) version 5 key, which is not OpenPGP (RFC 9580); " +
			"use a version 4 key (GnuPG makes them by default)")
		return f
	}
	pkt, err := packet.Read(bytes.NewReader(p.raw))
	switch k := pkt.(type) {
	case *packet.PublicKey:
		f.primary = k
	case *packet.PrivateKey:
		f.primary = &k.PublicKey
	default:
		f.imp.Err = fmt.Errorf("pgp: cannot read a primary key: %w", err)
		return f
	}
	f.imp.Fingerprint = fmt.Sprintf("%X", f.primary.Fingerprint)
	f.cur = &keyElement{}
	f.elems = []*keyElement{f.cur}
	return f
}

// add files one packet that follows the primary key packet.
func (f *keyFilter) add(p keyPacket) {
	switch p.tag {
	case ptSignature:
		f.addSignature(p)
	case ptUserID, ptPublicSubkey, ptSecretSubkey:
		f.open(p)
	case ptUserAttribute:
		// go-crypto does not keep user attributes (photo IDs); drop them
		// and their signatures here rather than carry their size.
		f.closeElement()
		f.attributes++
	case ptTrust, ptMarker, ptPadding:
		// RFC 9580 §5.10, §5.8, §5.14: nothing a key needs; trust
		// packets are private to the keyring that wrote them.
	default:
		f.closeElement()
		f.unknown++
	}
}

// open starts a user ID or subkey, unless the limit for its kind is reached.
func (f *keyFilter) open(p keyPacket) {
	f.closeElement()
	if f.primary == nil {
		return
	}
	kind := p.tag
	if kind == ptSecretSubkey {
		kind = ptPublicSubkey
	}
	if kind == ptPublicSubkey && !f.readableSubkey(p) {
		return // and its binding signature goes with it (f.cur is nil)
	}
	limit := map[byte]int{ptUserID: maxUserIDs, ptPublicSubkey: maxSubkeys}[kind]
	if f.counts[kind] >= limit {
		f.overLimit++
		return
	}
	f.counts[kind]++
	f.cur = &keyElement{head: p.raw, tag: kind}
	f.elems = append(f.elems, f.cur)
}

// readableSubkey reports whether go-crypto can read subkey packet p, which
// it needs to read the key at all: a LibrePGP subkey (GnuPG 2.5's
// "Kyber") or one of an algorithm it does not know is counted for Notes
// instead, to be dropped.
func (f *keyFilter) readableSubkey(p keyPacket) bool {
	librePGP, unknownAlgo := unreadableSubkey(p)
	switch {
	case librePGP:
		f.librePGP++
	case unknownAlgo:
		f.unknownAlgo++
	}
	return !librePGP && !unknownAlgo
}

// closeElement ends the current element; a user ID or subkey that kept no
// self-signature is useless and does not count against the limits.
func (f *keyFilter) closeElement() {
	if el := f.cur; el != nil && el.head != nil && len(el.sigs) == 0 {
		f.elems = f.elems[:len(f.elems)-1]
		f.counts[el.tag]--
		f.unsigned++
	}
	f.cur = nil
}

// addSignature keeps a signature when the primary key issued it. No
// signature is verified here: that is go-crypto's job on what is kept.
func (f *keyFilter) addSignature(p keyPacket) {
	if f.cur == nil {
		return // belongs to a part that was dropped
	}
	pkt, err := packet.Read(bytes.NewReader(p.raw))
	sig, ok := pkt.(*packet.Signature)
	if err != nil || !ok {
		f.unreadable++
		return
	}
	// RFC 9580 §5.2.3.12, §5.2.3.35: the issuer is named by key ID or
	// fingerprint, hashed or not; a signature naming no issuer is no
	// self-signature.
	if !sig.CheckKeyIdOrFingerprint(f.primary) {
		f.imp.DroppedThirdParty++
		return
	}
	revocation := sig.SigType == packet.SigTypeKeyRevocation ||
		sig.SigType == packet.SigTypeSubkeyRevocation ||
		sig.SigType == packet.SigTypeCertificationRevocation
	if f.cur.keep(keptSig{raw: p.raw, created: sig.CreationTime, revocation: revocation}) {
		f.imp.DroppedSelfSigs++
	}
}

// keep adds s and, over maxSigsKept, drops the least wanted signature:
// the oldest, revocations last. It reports whether one was dropped.
func (el *keyElement) keep(s keptSig) bool {
	el.sigs = append(el.sigs, s)
	if len(el.sigs) <= maxSigsKept {
		return false
	}
	worst := 0
	for i, c := range el.sigs {
		if c.lessWanted(el.sigs[worst]) {
			worst = i
		}
	}
	el.sigs = slices.Delete(el.sigs, worst, worst+1)
	return true
}

// lessWanted reports whether s is dropped before t: a certification
// before a revocation, an older signature before a newer one.
func (s keptSig) lessWanted(t keptSig) bool {
	if s.revocation != t.revocation {
		return !s.revocation
	}
	return s.created.Before(t.created)
}

// finish turns what the filter kept into a verdict.
func (f *keyFilter) finish(opt ImportOptions) Imported {
	f.closeElement()
	f.noteDrops()
	imp := f.imp
	if imp.Err != nil {
		return imp
	}
	bin, err := f.packets()
	if err != nil {
		imp.Err = err
		return imp
	}
	e, err := openpgp.ReadEntity(packet.NewReader(bytes.NewReader(bin)))
	if err != nil {
		imp.Err = fmt.Errorf("pgp: key %s cannot be read: %w", imp.Fingerprint, err)
		return imp
	}
	if err := vetKey(e, &imp, opt); err != nil {
		imp.Err = err
		return imp
	}
	imp.Key = &Key{e: e, notes: dropNotes(f.librePGP, f.unknownAlgo)}
	return imp
}

func (f *keyFilter) noteDrops() {
	for _, d := range []struct {
		n    int
		what string
	}{
		{f.overLimit, fmt.Sprintf("user IDs or subkeys beyond the limits (%d, %d) dropped", maxUserIDs, maxSubkeys)},
		{f.unsigned, "user IDs or subkeys without a self-signature dropped"},
		{f.attributes, "user attributes (photo IDs) dropped"},
		{f.unknown, "packets of an unexpected type dropped"},
		{f.unreadable, "unreadable signatures dropped"},
		{f.librePGP, "GnuPG 2.5 (LibrePGP) post-quantum \"Kyber\" subkeys dropped: that format is not OpenPGP's (RFC 9980); " +
			"the key's classical subkeys are used"},
		{f.unknownAlgo, "subkeys of an algorithm Sealpost does not know dropped"},
	} {
		if d.n > 0 {
			f.imp.Notes = append(f.imp.Notes, fmt.Sprintf("%d %s", d.n, d.what))
		}
	}
}

// packets serialises the kept packets, in their input order.
func (f *keyFilter) packets() ([]byte, error) {
	n := len(f.head)
	for _, el := range f.elems {
		n += len(el.head)
		for _, s := range el.sigs {
			n += len(s.raw)
		}
	}
	if n > maxKeyBytes {
		return nil, fmt.Errorf("pgp: key %s is %d bytes without third-party signatures; the limit is %d",
			f.imp.Fingerprint, n, maxKeyBytes)
	}
	out := make([]byte, 0, n)
	out = append(out, f.head...)
	for _, el := range f.elems {
		out = append(out, el.head...)
		for _, s := range el.sigs {
			out = append(out, s.raw...)
		}
	}
	return out, nil
}
