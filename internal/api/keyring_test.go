package api_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/api"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestKeyringAPI: the keyring listed with filters and pages, a PKCS#12
// made by openssl imported as JSON with base64, a key in use refused
// with 409 naming its user, trust anchors added, listed and removed, and
// a CRL made by `openssl ca` loaded once its issuer is trusted; only an
// admin may.
func TestKeyringAPI(t *testing.T) {
	f := newFixture(t)
	o := openssltest.New(t)
	const adm, alice = "admin@example.org", "alice@example.org"
	ctx := context.Background()
	var keys [][]byte
	for i := range 7 {
		keys = append(keys, memberKey(t, fmt.Sprintf("user%d@example.net", i)))
	}
	r := f.do(adm, "POST", api.Prefix+"/keys", bytes.NewReader(bytes.Join(keys, nil)), map[string]string{"Content-Type": "application/pgp-keys"})
	if r.status != http.StatusOK {
		t.Fatalf("import: %d %s", r.status, r.body)
	}

	type page struct {
		Keys []struct {
			Fingerprint string
			Addresses   []string
		}
		Total, Offset, Limit int
		NextOffset           *int `json:"next_offset"`
	}
	var p page
	f.get(adm, api.Prefix+"/keyring?address=example.net&engine=openpgp&limit=3").json(t, &p)
	if len(p.Keys) != 3 || p.Total != 7 || p.Limit != 3 || p.NextOffset == nil || *p.NextOffset != 3 {
		t.Fatalf("first page: %+v", p)
	}
	f.get(adm, api.Prefix+"/keyring?address=example.net&limit=3&offset=6").json(t, &p)
	if len(p.Keys) != 1 || p.NextOffset != nil {
		t.Errorf("last page: %+v", p)
	}
	f.get(adm, api.Prefix+"/keyring?status=valid&address=USER3").json(t, &p)
	if len(p.Keys) != 1 || p.Keys[0].Addresses[0] != "user3@example.net" {
		t.Errorf("filtered: %+v", p)
	}
	if r := f.get(adm, api.Prefix+"/keyring?status=lost"); r.status != http.StatusUnprocessableEntity {
		t.Errorf("unknown status: %d", r.status)
	}
	// An owner lists the keys of their lists only: list A's own key.
	f.get(alice, api.Prefix+"/keyring").json(t, &p)
	if l, _ := f.svc.List(ctx, "a@lists.example.org"); p.Total != 1 || p.Keys[0].Fingerprint != l.KeyFingerprint {
		t.Errorf("the owner's keyring: %+v", p)
	}

	// A PKCS#12 file as JSON, base64-encoded; the wrong password first.
	ca := openssltest.NewCA(t, openssltest.P256)
	leaf := ca.Issue("carol@example.org", openssltest.P256, openssltest.LeafOptions{})
	p12 := o.PKCS12(leaf.Cert, leaf.Key, "p12 pass")
	var results []struct{ Fingerprint, Outcome, Reason string }
	f.sendJSON(adm, "POST", api.Prefix+"/keys", map[string]any{"name": "carol.p12", "data": p12, "password": "nope"}).json(t, &results)
	if len(results) != 1 || results[0].Outcome != "refused" || results[0].Reason != "the PKCS#12 password is wrong, or the file is damaged" {
		t.Errorf("wrong password: %+v", results)
	}
	f.sendJSON(adm, "POST", api.Prefix+"/keys", map[string]any{"name": "carol.p12", "data": p12, "password": "p12 pass"}).json(t, &results)
	if len(results) != 1 || results[0].Outcome != "new" || results[0].Fingerprint != smime.Fingerprint(leaf.Cert) {
		t.Fatalf("PKCS#12: %+v", results)
	}

	// Delete: in use is 409 naming the user; unused is 204.
	if _, _, err := f.svc.AddMember(ctx, "a@lists.example.org", "user0@example.net", keys[0], false); err != nil {
		t.Fatal(err)
	}
	f.get(adm, api.Prefix+"/keyring?address=user0@").json(t, &p)
	r = f.do(adm, "DELETE", api.Prefix+"/keys/"+p.Keys[0].Fingerprint, nil, nil)
	if r.status != http.StatusConflict || r.code(t) != "in_use" || !strings.Contains(string(r.body), "user0@example.net on a@lists.example.org") {
		t.Errorf("delete in use: %d %s", r.status, r.body)
	}
	f.get(adm, api.Prefix+"/keyring?address=user1@").json(t, &p)
	if r := f.do(alice, "DELETE", api.Prefix+"/keys/"+p.Keys[0].Fingerprint, nil, nil); r.status != http.StatusForbidden {
		t.Errorf("an owner deleted a key: %d", r.status)
	}
	if r := f.do(adm, "DELETE", api.Prefix+"/keys/"+p.Keys[0].Fingerprint, nil, nil); r.status != http.StatusNoContent {
		t.Errorf("delete unused: %d %s", r.status, r.body)
	}

	// Trust anchors and CRLs.
	crl := o.CRL(ca, 7, leaf.Cert)
	r = f.do(adm, "POST", api.Prefix+"/crls", bytes.NewReader(crl), map[string]string{"Content-Type": "application/x-pem-file"})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(string(r.body), "signed by no certification authority Sealpost knows") {
		t.Errorf("CRL of an unknown issuer: %d %s", r.status, r.body)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
	if r := f.do(alice, "POST", api.Prefix+"/trust-anchors", bytes.NewReader(caPEM), map[string]string{"Content-Type": "application/x-pem-file"}); r.status != http.StatusForbidden {
		t.Errorf("an owner added a trust anchor: %d", r.status)
	}
	var anchors []struct{ Fingerprint, Subject, Source string }
	r = f.sendJSON(adm, "POST", api.Prefix+"/trust-anchors", map[string]any{"name": "ca.pem", "data": caPEM})
	if r.status != http.StatusCreated {
		t.Fatalf("add trust anchor: %d %s", r.status, r.body)
	}
	f.get(adm, api.Prefix+"/trust-anchors").json(t, &anchors)
	if len(anchors) != 1 || anchors[0].Subject != "CN=Sealpost Test CA p256" || anchors[0].Source != "added" {
		t.Errorf("trust anchors: %+v", anchors)
	}
	r = f.do(adm, "POST", api.Prefix+"/crls", bytes.NewReader(crl), map[string]string{"Content-Type": "application/x-pem-file"})
	if r.status != http.StatusCreated {
		t.Fatalf("CRL: %d %s", r.status, r.body)
	}
	var crls []struct {
		Issuer     string
		Revoked    int
		NextUpdate *string `json:"next_update"`
	}
	f.get(adm, api.Prefix+"/crls").json(t, &crls)
	if len(crls) != 1 || crls[0].Revoked != 1 || crls[0].NextUpdate == nil {
		t.Errorf("CRLs: %+v", crls)
	}
	var key struct{ Revoked bool }
	f.get(adm, api.Prefix+"/keys/"+smime.Fingerprint(leaf.Cert)).json(t, &key)
	if !key.Revoked {
		t.Error("the loaded CRL does not revoke carol's certificate")
	}
	if r := f.do(adm, "POST", api.Prefix+"/crls", bytes.NewReader(crl), map[string]string{"Content-Type": "application/x-pem-file"}); r.status != http.StatusConflict {
		t.Errorf("the same CRL again: %d %s", r.status, r.body)
	}
	if r := f.do(adm, "DELETE", api.Prefix+"/trust-anchors/"+anchors[0].Fingerprint, nil, nil); r.status != http.StatusNoContent {
		t.Errorf("remove trust anchor: %d %s", r.status, r.body)
	}
	if r := f.do(adm, "DELETE", api.Prefix+"/trust-anchors/"+anchors[0].Fingerprint, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("remove it again: %d %s", r.status, r.body)
	}
}
