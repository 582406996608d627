package admin

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/store"
)

// Outcome says what importing one key did.
type Outcome string

// Import outcomes.
const (
	Imported  Outcome = "new"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	Refused   Outcome = "refused"
)

// ImportResult reports one key or certificate found in an imported file.
type ImportResult struct {
	File        string
	Engine      crypto.Engine
	Fingerprint string // empty when the key could not be read far enough
	Addresses   []string
	Outcome     Outcome
	Reason      string   // why it was refused
	Notes       []string // what was dropped or done besides
}

// ImportOptions configure ImportKeys.
type ImportOptions struct {
	// List, when set, makes a secret key or PKCS#12 identity for the
	// list's address that list's key (ImportKeys refuses secret parts it
	// has no list for: only list keys are kept secret).
	List string
	// Passphrase returns the passphrase of a protected OpenPGP secret key
	// (what is its fingerprint) or the password of a PKCS#12 file (what
	// is the file name). Nil: protected keys are refused.
	Passphrase func(what string) ([]byte, error)
	// Progress, when set, is called as keys are stored, with the number
	// stored so far.
	Progress func(done int)
}

// importBatch is how many keys one store transaction writes.
const importBatch = 1000

// ImportKeys imports every key and certificate in data, read from the
// file name (used to recognise .p12/.pfx and in the report): OpenPGP
// keys armored or binary, public or secret, several per file; X.509
// certificates PEM or DER; PKCS#12 (DER, or PEM-armoured whatever the
// file's name) with its password. Third-party certifications are
// dropped and the rest capped on the way in (key flooding). Keys already in the keyring are merged with the new copy.
func (s *Service) ImportKeys(ctx context.Context, name string, data []byte, opt ImportOptions) ([]ImportResult, error) {
	// The keyring is shared by every list: a key in it may be used for
	// anyone it names, so only an admin may put keys there.
	if err := s.requireAdmin("import keys into the keyring"); err != nil {
		return nil, err
	}
	var l *store.List
	if opt.List != "" {
		var err error
		if l, err = s.List(ctx, opt.List); err != nil {
			return nil, err
		}
	}
	im := &importer{s: s, file: name, list: l, opt: opt}
	var rs []ImportResult
	var err error
	switch ext := strings.ToLower(filepath.Ext(name)); {
	case ext == ".p12" || ext == ".pfx" || smime.IsPKCS12PEM(data):
		rs, err = im.pkcs12(ctx, data)
	case keyring.IsCertificate(data):
		rs, err = im.certificates(ctx, data)
	default:
		rs, err = im.openpgp(ctx, data)
	}
	if err != nil {
		return rs, err
	}
	return rs, s.auditImport(ctx, opt.List, rs)
}

// auditImport records what an import changed: one entry for a few keys,
// a summary for a bulk import.
func (s *Service) auditImport(ctx context.Context, list string, rs []ImportResult) error {
	var changed []ImportResult
	for _, r := range rs {
		if r.Outcome == Imported || r.Outcome == Updated {
			changed = append(changed, r)
		}
	}
	if len(changed) > 10 {
		return s.audit(ctx, "key.import", list, "", fmt.Sprintf("%d keys imported or updated", len(changed)))
	}
	for _, r := range changed {
		if err := s.audit(ctx, "key.import", list, r.Fingerprint, string(r.Outcome)+" "+strings.Join(r.Addresses, " ")); err != nil {
			return err
		}
	}
	return nil
}

// importer imports the keys of one file.
type importer struct {
	s    *Service
	file string
	list *store.List
	opt  ImportOptions
	done int
}

func (im *importer) result(engine crypto.Engine, info crypto.KeyInfo) ImportResult {
	return ImportResult{File: im.file, Engine: engine, Fingerprint: info.Fingerprint, Addresses: info.Addresses}
}

func (im *importer) openpgp(ctx context.Context, data []byte) ([]ImportResult, error) {
	found, err := pgp.ReadKeys(data, pgp.ImportOptions{Now: im.s.now(), Passphrase: im.opt.Passphrase})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, im.file, err)
	}
	out := make([]ImportResult, 0, len(found))
	var batch []store.Key
	var slots []int
	flush := func() error {
		if err := im.put(ctx, batch, slots, out); err != nil {
			return err
		}
		batch, slots = batch[:0], slots[:0]
		return nil
	}
	for _, f := range found {
		r := ImportResult{File: im.file, Engine: crypto.OpenPGP, Fingerprint: f.Fingerprint, Notes: f.Notes}
		if f.DroppedThirdParty > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("dropped %d third-party certifications", f.DroppedThirdParty))
		}
		if f.DroppedSelfSigs > 0 {
			r.Notes = append(r.Notes, fmt.Sprintf("dropped %d surplus self-signatures", f.DroppedSelfSigs))
		}
		if f.Err != nil {
			r.Outcome, r.Reason = Refused, f.Err.Error()
			out = append(out, r)
			continue
		}
		rec, note, stored, err := im.openpgpKey(ctx, f.Key)
		if err != nil {
			r.Outcome, r.Reason = Refused, err.Error()
			out = append(out, r)
			continue
		}
		if note != "" {
			r.Notes = append(r.Notes, note)
		}
		r.Outcome = stored
		r.Addresses = rec.Addresses()
		out = append(out, r)
		batch, slots = append(batch, rec), append(slots, len(out)-1)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return out, err
			}
		}
	}
	return out, flush()
}

// openpgpKey prepares one key for the keyring: merged with the copy it
// holds, and, for a secret key, made the list's key. The merge comes
// first, so that a list key is judged with what the keyring knows (a
// revocation) and keeps it. When making it the list's key stored the
// key already, stored says what that changed.
func (im *importer) openpgpKey(ctx context.Context, k *pgp.Key) (rec store.Key, note string, stored Outcome, err error) {
	old, err := im.s.st.Key(ctx, k.Fingerprint())
	if err == nil {
		if prev, err := pgp.ParseKey(old.Data); err == nil {
			k, _ = pgp.Merge(prev, k)
		}
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Key{}, "", "", err
	}
	rec, _ = keyring.OpenPGPRecord(k, im.s.now())
	switch {
	case !k.HasSecret():
	case im.list == nil:
		note = "secret part not kept: only list keys are kept secret (give --list to make it a list's key)"
	default:
		replaces := im.list.KeyFingerprint != k.Fingerprint()
		if note, err = im.s.installListKey(ctx, im.list, k); err != nil {
			return store.Key{}, "", "", err
		}
		switch {
		case !replaces:
		case old == nil:
			stored = Imported
		case !bytes.Equal(old.Data, rec.Data):
			stored = Updated
		}
	}
	return rec, note, stored, nil
}

// put stores a batch of records and fills in their outcomes.
func (im *importer) put(ctx context.Context, batch []store.Key, slots []int, out []ImportResult) error {
	if len(batch) == 0 {
		return nil
	}
	res, err := im.s.st.PutKeys(ctx, batch)
	if err != nil {
		return err
	}
	for i, r := range res {
		o := &out[slots[i]].Outcome
		if r == store.KeyUnchanged && *o != "" {
			continue // stored already, as a list's key: *o says what that changed
		}
		*o = map[store.PutResult]Outcome{store.KeyNew: Imported, store.KeyUpdated: Updated, store.KeyUnchanged: Unchanged}[r]
	}
	im.done += len(batch)
	if im.opt.Progress != nil {
		im.opt.Progress(im.done)
	}
	return nil
}

func (im *importer) certificates(ctx context.Context, data []byte) ([]ImportResult, error) {
	first, rest, err := smime.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, im.file, err)
	}
	return im.putCerts(ctx, append([]*x509.Certificate{first}, rest...), "")
}

// putCerts stores certificates; note is added to the first one's report.
func (im *importer) putCerts(ctx context.Context, certs []*x509.Certificate, note string) ([]ImportResult, error) {
	out := make([]ImportResult, 0, len(certs))
	var batch []store.Key
	var slots []int
	for i, c := range certs {
		rec, info := keyring.CertificateRecord(c)
		r := im.result(crypto.SMIME, info)
		if i == 0 && note != "" {
			r.Notes = append(r.Notes, note)
		}
		if c.IsCA {
			r.Notes = append(r.Notes, "a CA certificate: kept, but not trusted (to trust it: add it as a trust anchor on the keys page, or for one list with sealpost list trust add)")
		}
		out = append(out, r)
		batch, slots = append(batch, rec), append(slots, len(out)-1)
	}
	return out, im.put(ctx, batch, slots, out)
}

func (im *importer) pkcs12(ctx context.Context, data []byte) ([]ImportResult, error) {
	var password []byte
	if im.opt.Passphrase != nil {
		p, err := im.opt.Passphrase(im.file)
		if err != nil {
			return nil, err
		}
		password = p
	}
	id, err := smime.ParsePKCS12(data, string(password))
	if err != nil {
		r := ImportResult{File: im.file, Engine: crypto.SMIME, Outcome: Refused, Reason: err.Error()}
		switch {
		case errors.Is(err, smime.ErrIntegrity) && len(password) > 0:
			r.Reason = "the PKCS#12 password is wrong, or the file is damaged"
		case password == nil:
			r.Reason = "PKCS#12 file needs its password (give it with --passphrase-file, SEALPOST_PASSPHRASE or a systemd credential): " + err.Error()
		}
		return []ImportResult{r}, nil
	}
	note := "private key not kept: only list keys are kept secret (give --list to make it a list's identity)"
	known := true
	if im.list != nil {
		_, err := im.s.st.Key(ctx, smime.Fingerprint(id.Cert))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		known = err == nil
		if _, err := im.s.SetSMIMEIdentity(ctx, im.list.Address, id); err != nil {
			info := smime.CertInfo(id.Cert)
			r := im.result(crypto.SMIME, info)
			r.Outcome, r.Reason = Refused, err.Error()
			return []ImportResult{r}, nil
		}
		note = "now the S/MIME identity of " + im.list.Address + " (one it replaced reads posts for " +
			strconv.Itoa(int(DefaultGrace/(24*time.Hour))) + " more days)"
	}
	out, err := im.putCerts(ctx, append([]*x509.Certificate{id.Cert}, id.Chain...), note)
	if err == nil && !known {
		out[0].Outcome = Imported // SetSMIMEIdentity stored it first
	}
	return out, err
}

// KeyDetails is a key of the keyring as it stands now, with who uses it.
type KeyDetails struct {
	store.Key
	Info crypto.KeyInfo
	// Status is why the key cannot be used, or keyring.Usable.
	Status keyring.Status
	// Weak is keyring.Weakness of the key ("Weak key (1024 bits)"), or "".
	Weak string
	// Users are "list" (a list's own key) or "member@address on list".
	Users []string
	// Lists are the addresses of the lists that use the key.
	Lists []string
	// Chain is, for a certificate, its path to a trust anchor (the
	// certificate first) when one is known, else the certificate alone;
	// ChainStatus says which.
	Chain       []*x509.Certificate
	ChainStatus string
}

// FindKey returns the keys matching query: a fingerprint, an OpenPGP key
// ID (16 hex digits, with or without 0x) or an email address. The
// keyring is shared by every list, so an actor limited to one list may
// not search it (a key names who uses it, on every list).
func (s *Service) FindKey(ctx context.Context, query string) ([]KeyDetails, error) {
	if err := s.requireUnlimited("search the keyring"); err != nil {
		return nil, err
	}
	q := strings.TrimPrefix(strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(query), " ", "")), "0X")
	var keys []store.Key
	var err error
	switch {
	case strings.Contains(query, "@"):
		addr, aerr := mail.Normalize(query)
		if aerr != nil {
			return nil, fmt.Errorf("%w: %q is not an email address", ErrInvalid, query)
		}
		keys, err = s.st.FindKeys(ctx, store.IndexEmail, addr)
	case !isHex(q):
		return nil, fmt.Errorf("%w: %q is neither a fingerprint, a key ID nor an email address", ErrInvalid, query)
	case len(q) == 16:
		keys, err = s.st.FindKeys(ctx, store.IndexKeyID, q)
	default:
		var k *store.Key
		if k, err = s.st.Key(ctx, q); err == nil {
			keys = []store.Key{*k}
		} else if errors.Is(err, store.ErrNotFound) {
			keys, err = s.st.FindKeys(ctx, store.IndexSubkey, q)
		}
	}
	if err != nil {
		return nil, err
	}
	out := make([]KeyDetails, 0, len(keys))
	for _, k := range keys {
		d, err := s.details(ctx, k)
		if err != nil {
			return nil, err
		}
		if ok, err := s.maySeeKey(ctx, d); err != nil {
			return nil, err
		} else if ok {
			out = append(out, d)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no key or certificate matches %s", ErrNotFound, query)
	}
	return out, nil
}

// maySeeKey reports whether the actor may see a key of the keyring: an
// admin sees all of it, anyone else the keys of their lists and of
// their lists' members.
func (s *Service) maySeeKey(ctx context.Context, d KeyDetails) (bool, error) {
	if s.actor.IsAdmin() {
		return true, nil
	}
	lists, err := s.Lists(ctx)
	if err != nil {
		return false, err
	}
	for _, l := range lists {
		if slices.Contains(d.Lists, l.Address) {
			return true, nil
		}
	}
	return false, nil
}

func (s *Service) details(ctx context.Context, k store.Key) (KeyDetails, error) {
	d := KeyDetails{Key: k}
	_, info, err := keyring.Describe(k.Data, s.now())
	if err != nil {
		return d, fmt.Errorf("key %s: %w", k.Fingerprint, err)
	}
	d.Info = info
	d.Info.Notes = keyring.JoinNotes(k.Notes, info.Notes) // what was dropped before the key was stored
	users, err := s.st.KeyUsers(ctx, k.Fingerprint)
	if err != nil {
		return d, err
	}
	d.Users = userLabels(users)
	for _, u := range users {
		if !slices.Contains(d.Lists, u.List) {
			d.Lists = append(d.Lists, u.List)
		}
	}
	if k.Engine == store.EngineSMIME {
		if err := s.chain(ctx, &d); err != nil {
			return d, err
		}
	}
	d.Status = keyStatus(d.Info, s.now())
	d.Weak = keyring.Weakness(d.Info)
	return d, nil
}

// chain finds a certificate's path to a trust anchor: the global ones
// (the configuration's and the installation's), those of the lists that
// use it, or the system's; and marks the certificate revoked when a
// loaded CRL revokes it. Without a path it names the issuer where it
// knows it (issuerStatus).
func (s *Service) chain(ctx context.Context, d *KeyDetails) error {
	c, err := x509.ParseCertificate(d.Data)
	if err != nil {
		return fmt.Errorf("certificate %s: %w", d.Fingerprint, err)
	}
	roots, err := x509.SystemCertPool()
	if err != nil {
		roots = x509.NewCertPool()
	}
	var lists []*store.List
	for _, addr := range d.Lists {
		if l, err := s.st.ListByAddress(ctx, addr); err == nil {
			lists = append(lists, l)
		}
	}
	anchors, err := s.anchorsOf(ctx, lists...)
	if err != nil {
		return err
	}
	inst, err := s.installationAnchors(ctx)
	if err != nil {
		return err
	}
	trusted := slices.Concat(s.anchors, inst, anchors)
	for _, a := range trusted {
		roots.AddCert(a)
	}
	d.Chain = []*x509.Certificate{c}
	chains, verr := c.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: s.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if verr != nil {
		// An ML-DSA signature in the chain (RFC 9881), which
		// crypto/x509 cannot verify.
		if pq, involved, err := smime.MLDSAChain(c, trusted, nil, s.now()); involved {
			if verr = err; err == nil {
				chains = [][]*x509.Certificate{pq}
			}
		}
	}
	switch {
	case verr == nil && len(chains) > 0:
		d.Chain = chains[0]
		d.ChainStatus = "chains to a trusted certification authority"
	case bytes.Equal(c.RawIssuer, c.RawSubject) && smime.IssuedBy(c, c):
		d.ChainStatus = "self-signed: trusted only as pinned for its holder"
	default:
		issuer, status, err := s.issuerStatus(ctx, c, trusted, verr)
		if err != nil {
			return err
		}
		if issuer != nil {
			d.Chain = append(d.Chain, issuer)
		}
		d.ChainStatus = status
	}
	rev, err := s.revocations(ctx, anchors, d.Chain[1:])
	markRevoked(rev, d.Data, &d.Info)
	return err
}

// issuerStatus looks for the issuer of a certificate that does not chain
// to a trust anchor of its users where issuers are: the trust anchors
// (trusted, those that apply to it; then every list's), the certificates
// loaded beside the CRLs, and the keyring (by the authority key
// identifier). It returns the issuer it found, if any, and what to say.
func (s *Service) issuerStatus(ctx context.Context, c *x509.Certificate, trusted []*x509.Certificate, verr error) (*x509.Certificate, string, error) {
	signed := func(cand *x509.Certificate) bool { return smime.IssuedBy(c, cand) }
	why := "the chain does not verify"
	var cie x509.CertificateInvalidError
	var te *smime.TrustError
	if errors.As(verr, &cie) && cie.Reason == x509.Expired || errors.As(verr, &te) && te.Reason == smime.Expired {
		why = "but the certificate or its issuer is expired or not yet valid"
	}
	for _, a := range trusted {
		if signed(a) {
			return a, "issued by " + smime.NameString(a.RawSubject) + ", a trust anchor, " + why, nil
		}
	}
	others, err := s.st.ListAnchors(ctx)
	if err != nil {
		return nil, "", err
	}
	for _, la := range others {
		if a, err := x509.ParseCertificate(la.Cert); err == nil && signed(a) {
			return a, "issued by " + smime.NameString(a.RawSubject) + ", a trust anchor of " + la.List + " only (no list that uses it trusts it)", nil
		}
	}
	for _, a := range s.crlIssuers {
		if signed(a) {
			return a, "issued by " + smime.NameString(a.RawSubject) + ", known as a CRL issuer only, not a trust anchor", nil
		}
	}
	if len(c.AuthorityKeyId) > 0 {
		keys, err := s.st.FindKeys(ctx, store.IndexSKI, strings.ToUpper(hex.EncodeToString(c.AuthorityKeyId)))
		if err != nil {
			return nil, "", err
		}
		for _, k := range keys {
			if cand, err := x509.ParseCertificate(k.Data); err == nil && signed(cand) {
				return cand, "issued by " + smime.NameString(cand.RawSubject) + ", in the keyring but not a trust anchor", nil
			}
		}
	}
	return nil, "issuer not known: " + smime.NameString(c.RawIssuer), nil
}

// keyStatus judges a key of the keyring on its own: it must sign or
// encrypt.
func keyStatus(info crypto.KeyInfo, now time.Time) keyring.Status {
	return standaloneStatus(info, now, info.CanEncrypt || info.CanSign)
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// ExportKey returns one key by its fingerprint: an OpenPGP key armored,
// a certificate in PEM. With secret, only a list's own key can be
// exported (its secret key armored, or its S/MIME certificate, chain and
// private key in PEM), as a backup or to move the list elsewhere.
func (s *Service) ExportKey(ctx context.Context, fpr string, secret bool) ([]byte, error) {
	ds, err := s.FindKey(ctx, fpr)
	if err != nil {
		return nil, err
	}
	if len(ds) != 1 {
		return nil, fmt.Errorf("%w: %s matches %d keys; give the full fingerprint", ErrInvalid, fpr, len(ds))
	}
	k := ds[0].Key
	if secret {
		if err := s.requireAdmin("export a list's secret key"); err != nil {
			return nil, err
		}
		data, err := s.exportSecret(ctx, k)
		if err != nil {
			return nil, err
		}
		return data, s.audit(ctx, "key.export-secret", strings.Join(ds[0].Lists, " "), k.Fingerprint, "")
	}
	if k.Engine == store.EngineSMIME {
		c, err := x509.ParseCertificate(k.Data)
		if err != nil {
			return nil, err
		}
		return smime.CertsPEM(c), nil
	}
	pk, err := pgp.ParseKey(k.Data)
	if err != nil {
		return nil, err
	}
	return pk.Armored(), nil
}

func (s *Service) exportSecret(ctx context.Context, k store.Key) ([]byte, error) {
	lists, err := s.st.Lists(ctx)
	if err != nil {
		return nil, err
	}
	for i := range lists {
		l := &lists[i]
		switch {
		case k.Engine == store.EngineOpenPGP && l.KeyFingerprint == k.Fingerprint:
			key, err := s.sealer.OpenListKey(l)
			if err != nil {
				return nil, err
			}
			return key.ArmoredSecret()
		case k.Engine == store.EngineSMIME && bytes.Equal(l.SMIMECert, k.Data):
			id, err := s.sealer.OpenListIdentity(l)
			if err != nil {
				return nil, err
			}
			return id.MarshalSecret()
		}
	}
	return nil, fmt.Errorf("%w: %s is not the key of a list; Sealpost keeps no other secret keys", ErrNotFound, k.Fingerprint)
}

// ReindexKeys brings the keyring's index up to date: keys indexed by an
// older indexer (or moved from an older schema) are indexed again, and
// every list's own key and certificate is in the keyring. It returns how
// many keys it indexed; keys it cannot read are reported in errs and
// left unindexed (they are not retried until the indexer changes). A
// server job: only an admin (the operator) may run it.
func (s *Service) ReindexKeys(ctx context.Context) (n int, errs []error, err error) {
	if err := s.requireAdmin("reindex the keyring"); err != nil {
		return 0, nil, err
	}
	lists, err := s.st.Lists(ctx)
	if err != nil {
		return 0, nil, err
	}
	for i := range lists {
		if _, err := s.st.Key(ctx, lists[i].KeyFingerprint); errors.Is(err, store.ErrNotFound) {
			if err := s.keepListKeys(ctx, &lists[i]); err != nil {
				return 0, nil, err
			}
		}
	}
	for {
		keys, err := s.st.KeysToIndex(ctx, keyring.IndexVersion, importBatch)
		if err != nil || len(keys) == 0 {
			return n, errs, err
		}
		indexed := len(keys)
		for i, k := range keys {
			rec, rerr := keyring.Reindex(k, s.now())
			if rerr != nil {
				errs = append(errs, rerr)
				rec.Index, rec.IndexVersion = []store.IndexEntry{}, keyring.IndexVersion
				indexed--
			}
			keys[i] = rec
		}
		if _, err := s.st.PutKeys(ctx, keys); err != nil {
			return n, errs, err
		}
		n += indexed
	}
}

// keepListKeys puts a list's public key and certificate into the keyring.
func (s *Service) keepListKeys(ctx context.Context, l *store.List) error {
	var recs []store.Key
	if k, err := pgp.ParseKey(l.PublicKey); err == nil {
		rec, _ := keyring.OpenPGPRecord(k, s.now())
		recs = append(recs, rec)
	}
	if c, err := x509.ParseCertificate(l.SMIMECert); err == nil {
		rec, _ := keyring.CertificateRecord(c)
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		return nil
	}
	_, err := s.st.PutKeys(ctx, recs)
	return err
}

// userLabels says who uses a key, for people: "list ADDRESS" (its own
// key, or a replaced one that still decrypts) or "EMAIL on LIST".
func userLabels(users []store.KeyUser) []string {
	out := make([]string, 0, len(users))
	for _, u := range users {
		switch {
		case !u.RetiredUntil.IsZero():
			out = append(out, "list "+u.List+" (replaced; decrypts until "+u.RetiredUntil.Format(time.DateOnly)+")")
		case u.Email == "":
			out = append(out, "list "+u.List)
		default:
			out = append(out, u.Email+" on "+u.List)
		}
	}
	return out
}

// KeyInUseError refuses to delete a key that lists or members use; it
// is an ErrInvalid.
type KeyInUseError struct {
	Fingerprint string
	Users       []string // as KeyDetails.Users
}

func (e *KeyInUseError) Error() string {
	return fmt.Sprintf("key %s is in use, by %s: remove it from them first", e.Fingerprint, strings.Join(e.Users, ", "))
}

// Unwrap makes a KeyInUseError an ErrInvalid.
func (e *KeyInUseError) Unwrap() error { return ErrInvalid }

// DeleteKey removes a key from the keyring, unless a list or member uses
// it (a *KeyInUseError names them). Only an admin may.
func (s *Service) DeleteKey(ctx context.Context, fpr string) error {
	if err := s.requireAdmin("delete keys from the keyring"); err != nil {
		return err
	}
	fpr = strings.ToUpper(strings.TrimPrefix(strings.TrimPrefix(strings.ReplaceAll(fpr, " ", ""), "0x"), "0X"))
	users, err := s.st.KeyUsers(ctx, fpr)
	if err != nil {
		return err
	}
	labels := userLabels(users)
	lists, err := s.st.Lists(ctx)
	if err != nil {
		return err
	}
	for _, l := range lists {
		if c, err := x509.ParseCertificate(l.SMIMECert); err == nil && smime.Fingerprint(c) == fpr {
			labels = append(labels, "list "+l.Address+" (its S/MIME certificate)")
		}
	}
	if len(labels) > 0 {
		return &KeyInUseError{Fingerprint: fpr, Users: labels}
	}
	switch err := s.st.DeleteKey(ctx, fpr); {
	case errors.Is(err, store.ErrInUse):
		return &KeyInUseError{Fingerprint: fpr, Users: []string{"a member"}} // one was added meanwhile
	case errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("%w: the keyring has no key %s", ErrNotFound, fpr)
	case err != nil:
		return err
	}
	return s.audit(ctx, "key.delete", "", fpr, "")
}
