package smime

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"testing"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// TestChoose: the member's setting, then what their client announced,
// then the list's and the server's defaults, then what every client
// reads; cipher and key transport each on their own.
func TestChoose(t *testing.T) {
	openssl := []string{"aes256-cbc", "aes128-cbc"} // `openssl cms -sign`, Thunderbird: CBC, no key transport
	modern := []string{"aes256-gcm", "aes128-gcm", "aes256-cbc", "rsa-oaep-sha256", "rsa-pkcs1v15"}
	tests := []struct {
		name string
		p    Preferences
		c    Cipher
		kt   KeyTransport
	}{
		{"nothing known", Preferences{}, AES256CBC, RSAPKCS1v15},
		{"auto everywhere", Preferences{Cipher: "auto", KeyTransport: "auto", ListCipher: "auto", ListKeyTransport: "auto"}, AES256CBC, RSAPKCS1v15},
		{"announced CBC only", Preferences{Announced: openssl}, AES256CBC, RSAPKCS1v15},
		{"announced 128-bit CBC only", Preferences{Announced: []string{"aes128-cbc"}}, AES128CBC, RSAPKCS1v15},
		{"announced GCM and OAEP", Preferences{Announced: modern}, AES256GCM, RSAOAEPSHA256},
		{"strongest announced, not first", Preferences{Announced: []string{"aes128-cbc", "rsa-pkcs1v15", "aes128-gcm", "rsa-oaep-sha1"}}, AES128GCM, RSAOAEPSHA1},
		{"announced PKCS#1 v1.5 only", Preferences{Announced: []string{"rsa-pkcs1v15"}, ListKeyTransport: "rsa-oaep-sha256"}, AES256CBC, RSAPKCS1v15},
		{"list default for an unknown client", Preferences{ListCipher: "aes256-gcm", ListKeyTransport: "rsa-oaep-sha256"}, AES256GCM, RSAOAEPSHA256},
		{"server key transport for an unknown client", Preferences{ServerKeyTransport: "rsa-oaep-sha256"}, AES256CBC, RSAOAEPSHA256},
		{"list before server", Preferences{ListKeyTransport: "rsa-pkcs1v15", ServerKeyTransport: "rsa-oaep-sha256"}, AES256CBC, RSAPKCS1v15},
		{"announcement before list", Preferences{Announced: openssl, ListCipher: "aes128-gcm"}, AES256CBC, RSAPKCS1v15},
		{"announcement without key transport leaves it to the list", Preferences{Announced: openssl, ListKeyTransport: "rsa-oaep-sha256"}, AES256CBC, RSAOAEPSHA256},
		{"member before announcement", Preferences{Cipher: "aes256-cbc", KeyTransport: "rsa-pkcs1v15", Announced: modern}, AES256CBC, RSAPKCS1v15},
		{"member cipher, announced key transport", Preferences{Cipher: "aes128-cbc", Announced: modern}, AES128CBC, RSAOAEPSHA256},
		{"member key transport, list cipher", Preferences{KeyTransport: "rsa-oaep-sha256", ListCipher: "aes256-gcm", ServerKeyTransport: "rsa-pkcs1v15"}, AES256GCM, RSAOAEPSHA256},
		{"unknown names say nothing", Preferences{Cipher: "3des", KeyTransport: "rsa-kem", ListCipher: "chacha20"}, AES256CBC, RSAPKCS1v15},
	}
	for _, tt := range tests {
		got := Choose(tt.p)
		if got.Cipher != tt.c || got.KeyTransport != tt.kt {
			t.Errorf("%s: Choose(%+v) = cipher %d, key transport %d; want %d, %d", tt.name, tt.p, got.Cipher, got.KeyTransport, tt.c, tt.kt)
		}
	}
}

// TestCapabilityNames: the capabilities Encrypt can act on, in the
// sender's order; OAEP by its parameters (RFC 3560 §5).
func TestCapabilityNames(t *testing.T) {
	oaep256, err := ktriOAEPSHA256Identifier()
	if err != nil {
		t.Fatal(err)
	}
	sha384 := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oaep384, err := asn1.Marshal(envOAEPParams{HashFunc: pkix.AlgorithmIdentifier{Algorithm: sha384, Parameters: asn1.NullRawValue}})
	if err != nil {
		t.Fatal(err)
	}
	caps := []Capability{
		{ID: oidAES256CBC}, {ID: asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}}, // des-ede3-cbc: not written
		{ID: oidAES128GCM}, {ID: oidAES192CBC},
		{ID: oidRSAOAEP, Params: oaep384}, // OAEP-SHA384: not written
		{ID: oidRSAOAEP, Params: oaep256.Parameters.FullBytes},
		{ID: oidRSAOAEP, Params: []byte{0x30, 0x00}}, // rSAES-OAEP-Default-Identifier
		{ID: oidRSAOAEP}, // parameters absent: the defaults
		{ID: oidRSAEncryption},
	}
	want := []string{"aes256-cbc", "aes128-gcm", "rsa-oaep-sha256", "rsa-oaep-sha1", "rsa-oaep-sha1", "rsa-pkcs1v15"}
	if got := CapabilityNames(caps); !slices.Equal(got, want) {
		t.Errorf("CapabilityNames = %v, want %v", got, want)
	}
	for _, n := range want {
		_, isCipher := ParseCipher(n)
		_, isKT := ParseKeyTransport(n)
		if isCipher == isKT {
			t.Errorf("%s: cipher %v, key transport %v", n, isCipher, isKT)
		}
	}
}

// TestCapabilitiesFromOpenSSL: what `openssl cms -sign` announces, read
// back as names: its AES-CBC ciphers and no key transport, so a member
// signing with it gets the default key transport.
func TestCapabilitiesFromOpenSSL(t *testing.T) {
	o := openssltest.New(t)
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	leaf := ca.Issue("a@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	o.WriteCert("a.pem", leaf.Cert)
	o.WriteKey("a.key", leaf.Key)
	o.Write("msg", []byte("Content-Type: text/plain\r\n\r\nhi\r\n"))
	der := o.MustRun(nil, "cms", "-sign", "-in", "msg", "-signer", "a.pem", "-inkey", "a.key", "-outform", "DER", "-nodetach").Stdout
	v, err := Verify(der, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := CapabilityNames(v.Capabilities)
	if !slices.Equal(names, []string{"aes256-cbc", "aes128-cbc"}) {
		t.Fatalf("openssl's capabilities read as %v", names)
	}
	if got := Choose(Preferences{Announced: names}); got.Cipher != AES256CBC || got.KeyTransport != RSAPKCS1v15 {
		t.Errorf("for openssl's announcement: %+v", got)
	}
}

// TestChooseMLKEM: an ML-KEM recipient gets AES-256-GCM over the list's
// setting and the default, which are for classical clients; the member's
// own setting and their client's announcement still come first.
func TestChooseMLKEM(t *testing.T) {
	cases := []struct {
		p    Preferences
		want Cipher
	}{
		{Preferences{MLKEM: true}, AES256GCM},
		{Preferences{MLKEM: true, ListCipher: "aes128-cbc"}, AES256GCM},
		{Preferences{MLKEM: true, Announced: []string{"aes128-gcm"}}, AES128GCM},
		{Preferences{MLKEM: true, Cipher: "aes256-cbc"}, AES256CBC},
		{Preferences{ListCipher: "aes128-cbc"}, AES128CBC},
		{Preferences{}, DefaultCipher},
	}
	for _, c := range cases {
		if got := Choose(c.p).Cipher; got != c.want {
			t.Errorf("Choose(%+v).Cipher = %v, want %v", c.p, got, c.want)
		}
	}
}
