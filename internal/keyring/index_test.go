package keyring

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

func has(idx []store.IndexEntry, kind, value string) bool {
	for _, e := range idx {
		if e.Kind == kind && e.Value == value {
			return true
		}
	}
	return false
}

// TestRecordIndex: an OpenPGP key is indexed by its own and its subkeys'
// key IDs, its subkey fingerprints and its addresses; a certificate by
// issuer and serial, subject key identifier and address.
func TestRecordIndex(t *testing.T) {
	now := time.Now()
	k, err := pgp.GenerateKey("Alice", "Alice@Example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rec, info := OpenPGPRecord(k, now)
	if rec.Fingerprint != k.Fingerprint() || rec.Engine != store.EngineOpenPGP || rec.IndexVersion != IndexVersion || info.Fingerprint != rec.Fingerprint {
		t.Fatalf("record = %+v", rec)
	}
	if k.KeyID() != rec.Fingerprint[len(rec.Fingerprint)-16:] || !has(rec.Index, store.IndexKeyID, k.KeyID()) {
		t.Errorf("primary key ID %s not indexed: %+v", k.KeyID(), rec.Index)
	}
	if len(k.SubkeyIDs()) != 1 || !has(rec.Index, store.IndexKeyID, k.SubkeyIDs()[0]) || !has(rec.Index, store.IndexSubkey, k.SubkeyFingerprints()[0]) {
		t.Errorf("subkey not indexed: %+v", rec.Index)
	}
	if !has(rec.Index, store.IndexEmail, "alice@example.org") {
		t.Errorf("address not indexed in lower case: %+v", rec.Index)
	}
	// Describe reads the same record back from the stored bytes.
	again, _, err := Describe(rec.Data, now)
	if err != nil || again.Fingerprint != rec.Fingerprint || len(again.Index) != len(rec.Index) {
		t.Errorf("Describe = %+v, %v", again, err)
	}

	id, err := smime.GenerateIdentity("Team", "team@lists.example.org", now, nil)
	if err != nil {
		t.Fatal(err)
	}
	crec, _ := CertificateRecord(id.Cert)
	if crec.Fingerprint != smime.Fingerprint(id.Cert) || crec.Engine != store.EngineSMIME || !crec.Expires.Equal(id.Cert.NotAfter) {
		t.Fatalf("certificate record = %+v", crec)
	}
	if !has(crec.Index, store.IndexIssuerSerial, IssuerSerial(id.Cert.RawIssuer, id.Cert.SerialNumber)) ||
		!has(crec.Index, store.IndexEmail, "team@lists.example.org") {
		t.Errorf("certificate index = %+v", crec.Index)
	}
	if len(id.Cert.SubjectKeyId) > 0 && !has(crec.Index, store.IndexSKI, strings.ToUpper(hex.EncodeToString(id.Cert.SubjectKeyId))) {
		t.Errorf("SKI not indexed: %+v", crec.Index)
	}
	if _, _, err := Describe(crec.Data, now); err != nil {
		t.Errorf("Describe(DER) = %v", err)
	}
	if !IsCertificate(crec.Data) || !IsCertificate(smime.CertsPEM(id.Cert)) || IsCertificate(rec.Data) {
		t.Error("IsCertificate misjudges")
	}
}

// TestReindexKeepsData: re-indexing keeps the stored bytes and times.
func TestReindexKeepsData(t *testing.T) {
	k, err := pgp.GenerateKey("", "bob@example.org", pgp.Ed25519, pgp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	added := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := store.Key{Fingerprint: k.Fingerprint(), Engine: store.EngineOpenPGP, Data: k.PublicBytes(), AddedAt: added}
	rec, err := Reindex(stored, time.Now())
	if err != nil || !rec.AddedAt.Equal(added) || rec.IndexVersion != IndexVersion || !has(rec.Index, store.IndexEmail, "bob@example.org") {
		t.Errorf("Reindex = %+v, %v", rec, err)
	}
	stored.Fingerprint = "0000"
	if _, err := Reindex(stored, time.Now()); err == nil {
		t.Error("Reindex accepted data whose fingerprint differs")
	}
}
