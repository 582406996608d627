package pipeline

import (
	"context"
	"crypto/x509"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	spcrypto "github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// recipient is how one member receives the list's mail: PGP/MIME to an
// OpenPGP key or S/MIME to a certificate. The zero value means neither
// can be used and the member gets a notice instead (DESIGN §4.5).
type recipient struct {
	pgp  *pgp.Key
	cert *x509.Certificate
	// cipher and keyTransport, for cert, are how the copy is encrypted:
	// what the member's client reads (smimeEncryption).
	cipher       smime.Cipher
	keyTransport smime.KeyTransport
	inline       bool // for pgp: inline PGP instead of PGP/MIME
	// fingerprint names the key or certificate used, for notices.
	fingerprint string
	// status says why a member has no usable key (RT's reasons).
	status keyring.Status
	// noListCert is set when the member's certificate is usable but the
	// list has no S/MIME certificate to sign their copies with: the real
	// reason they get none, whatever status says.
	noListCert bool
}

// roster is a list's members with their parsed keys and how each one is
// to receive the post.
type roster struct {
	members []policy.Member
	pgpKeys []*pgp.Key                   // every member's OpenPGP key, to verify signatures
	certs   map[string]*x509.Certificate // member certificates by fingerprint
	to      map[string]recipient         // by member address
	// keys are the keys on file by address (gateway rosters only).
	keys map[string][]store.MemberKey
	// usable are the engines (store.EngineOpenPGP, store.EngineSMIME) of
	// which a member has a key that can be encrypted to, by address,
	// whether or not the list sends in that format.
	usable map[string][]string
}

// roster loads the list's members and decides each one's format: the
// list's preference when both are usable, else whichever is.
func (p *Pipeline) roster(ctx context.Context, list *store.List) (*roster, error) {
	ms, loaded, err := p.members.get(ctx, p.store, list)
	if err != nil {
		return nil, err
	}
	if loaded {
		p.warmKeys(ms)
	}
	rev, err := p.revocations(ctx, list, nil, nil)
	if err != nil {
		return nil, err
	}
	return p.rosterOf(list, ms, rev), nil
}

// memberCache keeps each list's members, as last loaded, between posts:
// loading them was two queries and a fifth of a post's intake. An entry
// serves a list whose RosterVersion is the one it was loaded under; the
// store changes the version with every change to the list's members,
// their keys or those keys' data, whichever process makes it (migration
// 022), so a member removed or a key replaced is seen by the next post
// as before. What is cached is what the store returned, read only; who
// may receive what is decided from it on every post (rosterOf), at that
// post's time. Bounded to maxCachedRosters lists.
type memberCache struct {
	mu      sync.Mutex
	entries map[int64]cachedMembers
}

type cachedMembers struct {
	version int64
	members []store.Member
}

// maxCachedRosters bounds memberCache; past it, the cache starts over.
const maxCachedRosters = 1000

// get returns list's members: cached, or loaded from st (loaded) and
// kept.
func (c *memberCache) get(ctx context.Context, st Store, list *store.List) (ms []store.Member, loaded bool, err error) {
	if list.RosterVersion == 0 { // a store that keeps no version
		ms, err = st.Members(ctx, list.ID)
		return ms, true, err
	}
	c.mu.Lock()
	e, ok := c.entries[list.ID]
	c.mu.Unlock()
	if ok && e.version == list.RosterVersion {
		return e.members, false, nil
	}
	// Loaded after list was: at least as new as its version says.
	if ms, err = st.Members(ctx, list.ID); err != nil {
		return nil, false, err
	}
	c.mu.Lock()
	if c.entries == nil || len(c.entries) >= maxCachedRosters {
		c.entries = map[int64]cachedMembers{}
	}
	if cur, ok := c.entries[list.ID]; !ok || cur.version < list.RosterVersion {
		c.entries[list.ID] = cachedMembers{version: list.RosterVersion, members: ms}
	}
	c.mu.Unlock()
	return ms, true, nil
}

// warmKeys parses and checks the members' OpenPGP keys that the key
// cache does not hold yet, on every core, before rosterOf goes through
// them one by one: checking a key's self-signatures is most of what a
// roster costs when its keys are new to the process (every run of
// `process`, serve's first post to a list): 0.13 ms a key, 1.3 s of CPU
// for 10,000. A key that does not parse is left to rosterOf, which says
// why.
func (p *Pipeline) warmKeys(ms []store.Member) {
	var keys []*store.MemberKey
	for i := range ms {
		for j := range ms[i].Keys {
			if mk := &ms[i].Keys[j]; mk.Engine == store.EngineOpenPGP {
				keys = append(keys, mk)
			}
		}
	}
	if cores := runtime.GOMAXPROCS(0); cores < 2 || len(keys) < 4*cores {
		return
	}
	onCores(len(keys), func(i int) { p.memberKey(keys[i]) })
}

// rosterOf is the roster of the members ms of list; a certificate that
// rev revokes gets no copy encrypted to it.
func (p *Pipeline) rosterOf(list *store.List, ms []store.Member, rev *smime.Revocations) *roster {
	r := &roster{certs: map[string]*x509.Certificate{}, to: make(map[string]recipient, len(ms)), usable: map[string][]string{}}
	canSMIME := len(list.SMIMECert) > 0 // S/MIME copies are signed with the list's certificate
	for i := range ms {
		m := &ms[i]
		pm := policy.Member{Email: m.Email, Admin: m.Admin, Disabled: !m.DisabledAt.IsZero()}
		var viaPGP, viaSMIME, blocked recipient // blocked: a certificate usable but for the list's own
		var newest keyAges                      // when the member got their newest usable key of each engine
		for j := range m.Keys {
			mk := &m.Keys[j]
			pm.Fingerprints = append(pm.Fingerprints, mk.Fingerprint)
			switch mk.Engine {
			case store.EngineOpenPGP:
				if k := p.usablePGP(list, m, mk); k != nil {
					r.pgpKeys = append(r.pgpKeys, k)
					if p.encryptable(k) {
						viaPGP = recipient{pgp: k, fingerprint: k.Fingerprint()}
						newest.saw(store.EngineOpenPGP, mk.CreatedAt)
					}
				}
			case store.EngineSMIME:
				if c := p.usableCert(list, m, mk); c != nil {
					r.certs[mk.Fingerprint] = c
					usable := certEncryptable(c, m.Email, p.opt.Now()) && rev.Check(c) == nil
					if usable {
						newest.saw(store.EngineSMIME, mk.CreatedAt)
					}
					if usable && !canSMIME {
						blocked = recipient{fingerprint: mk.Fingerprint, status: keyring.PolicyMismatch, noListCert: true}
					}
					if canSMIME && usable && (viaSMIME.cert == nil || betterCert(c, viaSMIME.cert)) {
						enc := p.smimeEncryption(list, m, mk, c)
						viaSMIME = recipient{cert: c, fingerprint: mk.Fingerprint, cipher: enc.Cipher, keyTransport: enc.KeyTransport}
					}
				}
			}
		}
		r.usable[m.Email] = newest.engines()
		format := m.Format
		if format == "" && list.IsGateway() {
			format = newest.format()
		}
		choice := chooseFormat(viaPGP, viaSMIME, format, list.Settings.OutgoingFormat)
		if choice.pgp == nil && choice.cert == nil && len(pm.Fingerprints) > 0 {
			choice.fingerprint = pm.Fingerprints[len(pm.Fingerprints)-1]
		}
		pm.Usable = choice.pgp != nil || choice.cert != nil
		switch {
		case !pm.Usable && blocked.noListCert:
			choice = blocked // giving the list a certificate is what would serve them
		case !pm.Usable:
			choice.status = p.unusableStatus(m, rev)
		}
		r.members = append(r.members, pm)
		r.to[m.Email] = choice
	}
	return r
}

// keyAges are when a member got their newest usable OpenPGP key and
// S/MIME certificate, if they have one.
type keyAges struct {
	pgp, smime       time.Time
	hasPGP, hasSMIME bool
}

// saw notes a usable key of engine that the member got at.
func (k *keyAges) saw(engine string, at time.Time) {
	if engine == store.EngineSMIME {
		k.hasSMIME, k.smime = true, later(k.smime, at)
		return
	}
	k.hasPGP, k.pgp = true, later(k.pgp, at)
}

// later returns the later of t and u.
func later(t, u time.Time) time.Time {
	if u.After(t) {
		return u
	}
	return t
}

// engines are the engines of which there is a usable key.
func (k keyAges) engines() []string {
	var out []string
	if k.hasPGP {
		out = append(out, store.EngineOpenPGP)
	}
	if k.hasSMIME {
		out = append(out, store.EngineSMIME)
	}
	return out
}

// format is how a gateway answers a correspondent who has not been given
// a format: in the engine of the key it learnt (or was given) last, as
// the one the correspondent's mail program uses now; S/MIME when that is
// the certificate, else the list's format (PGP/MIME).
func (k keyAges) format() string {
	if k.hasSMIME && (!k.hasPGP || k.smime.After(k.pgp)) {
		return store.FormatSMIME
	}
	return ""
}

// chooseFormat picks the copy format: the member's, else the list's
// (PGP/MIME by default), falling back to whichever key is usable at all.
func chooseFormat(viaPGP, viaSMIME recipient, memberFormat, listFormat string) recipient {
	format := memberFormat
	if format == "" {
		format = listFormat
	}
	if format == store.FormatSMIME && viaSMIME.cert != nil || viaPGP.pgp == nil {
		return viaSMIME
	}
	viaPGP.inline = format == store.FormatInline
	return viaPGP
}

// usablePGP parses a member's OpenPGP key; nil when it does not parse.
func (p *Pipeline) usablePGP(list *store.List, m *store.Member, mk *store.MemberKey) *pgp.Key {
	k, err := p.memberKey(mk)
	if err != nil {
		p.opt.Logger.Warn("member key unusable", "list", list.Address, "member", m.Email, "err", err)
		return nil
	}
	return k
}

func (p *Pipeline) encryptable(k *pgp.Key) bool {
	now := p.opt.Now()
	info := k.Info(now)
	return info.CanEncrypt && !info.Revoked && !info.Expired(now)
}

// usableCert parses a member's certificate; nil when it does not parse.
func (p *Pipeline) usableCert(list *store.List, m *store.Member, mk *store.MemberKey) *x509.Certificate {
	c, err := p.memberCert(mk)
	if err != nil {
		p.opt.Logger.Warn("member certificate unusable", "list", list.Address, "member", m.Email, "err", err)
		return nil
	}
	return c
}

// certEncryptable reports whether a certificate may be encrypted to for
// addr at now: valid, issued for addr, allowed for email encryption.
func certEncryptable(c *x509.Certificate, addr string, now time.Time) bool {
	info := smime.CertInfo(c)
	return info.CanEncrypt && !info.Expired(now) && !now.Before(c.NotBefore) && slices.Contains(info.Addresses, addr)
}

// betterCert reports whether a member's certificate c is to be
// encrypted to rather than old: an ML-KEM one (post-quantum) before a
// classical one, else the one that expires last.
func betterCert(c, old *x509.Certificate) bool {
	_, pq := smime.MLKEMAlgorithm(c)
	_, oldPQ := smime.MLKEMAlgorithm(old)
	if pq != oldPQ {
		return pq
	}
	return c.NotAfter.After(old.NotAfter)
}

// smimeEncryption is how a copy to member m's certificate mk is
// encrypted (smime.Choose): the member's own setting, else what their
// client announced in the SMIMECapabilities of their signed posts
// (RFC 8551 §2.7.1), else the list's setting, else, for the key
// transport, the server's [smime] key_transport, else what every client
// reads: AES-256-CBC with RSA PKCS#1 v1.5. An ML-KEM certificate c
// changes the last levels (smime.Preferences.MLKEM).
func (p *Pipeline) smimeEncryption(list *store.List, m *store.Member, mk *store.MemberKey, c *x509.Certificate) smime.EncryptOptions {
	_, pq := smime.MLKEMAlgorithm(c)
	return smime.Choose(smime.Preferences{
		MLKEM:              pq,
		Cipher:             m.SMIMECipher,
		KeyTransport:       m.SMIMEKeyTransport,
		Announced:          splitCaps(mk.Capabilities),
		ListCipher:         list.Settings.SMIMECipher,
		ListKeyTransport:   list.Settings.SMIMEKeyTransport,
		ServerKeyTransport: p.opt.SMIMEKeyTransport,
	})
}

func splitCaps(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// unusableStatus says why none of a member's keys can be encrypted to,
// judging their newest key (a certificate revoked by a CRL is revoked).
func (p *Pipeline) unusableStatus(m *store.Member, rev *smime.Revocations) keyring.Status {
	now := p.opt.Now()
	if len(m.Keys) == 0 {
		return keyring.NotFound
	}
	newest := &m.Keys[0]
	for i := range m.Keys {
		if m.Keys[i].CreatedAt.After(newest.CreatedAt) {
			newest = &m.Keys[i]
		}
	}
	var info spcrypto.KeyInfo
	if newest.Engine == store.EngineSMIME {
		c, err := p.memberCert(newest)
		if err != nil {
			return keyring.NoSpecificReason
		}
		_, info = keyring.CertificateRecord(c)
		info.Revoked = info.Revoked || rev.Check(c) != nil
	} else {
		k, err := p.memberKey(newest)
		if err != nil {
			return keyring.NoSpecificReason
		}
		info = k.Info(now)
	}
	if st := keyring.StatusOf(keyring.CheckMemberKey(info, m.Email, now)); st != keyring.Usable {
		return st
	}
	return keyring.PolicyMismatch // usable, but not in a format the list sends (a certificate, no list certificate)
}

// CopyKey is the key a member's copies are encrypted to.
type CopyKey struct {
	Fingerprint string
	// PostQuantum reports that the copies are encrypted with ML-KEM, so
	// that a quantum computer could not open them (KeyInfo.PostQuantum).
	PostQuantum bool
}

// CopyKeys returns, by address, the key each of the members ms of list
// would have their copy of a post encrypted to now, chosen as the fan-out
// chooses it (rosterOf); members who would get no copy are absent. Only
// ms are judged: a page of a large list costs the page.
func (p *Pipeline) CopyKeys(ctx context.Context, list *store.List, ms []store.Member) (map[string]CopyKey, error) {
	rev, err := p.revocations(ctx, list, nil, nil)
	if err != nil {
		return nil, err
	}
	r := p.rosterOf(list, ms, rev)
	now := p.opt.Now()
	out := make(map[string]CopyKey, len(r.to))
	for addr, to := range r.to {
		switch {
		case to.pgp != nil:
			out[addr] = CopyKey{Fingerprint: to.fingerprint, PostQuantum: to.pgp.Info(now).PostQuantum}
		case to.cert != nil:
			out[addr] = CopyKey{Fingerprint: to.fingerprint, PostQuantum: smime.CertInfo(to.cert).PostQuantum}
		}
	}
	return out, nil
}
