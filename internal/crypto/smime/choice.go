package smime

// Which content encryption and RSA key transport a recipient's copy gets:
// what their client announced in SMIMECapabilities (RFC 8551 §2.5.2,
// §2.7.1), what the list owner set, and what every client reads.

import (
	"crypto"
	"encoding/asn1"
	"slices"
)

// Capability is one SMIMECapability (RFC 8551 §2.5.2) of a kind Sealpost
// acts on: an AES content encryption, rsaEncryption or RSAES-OAEP.
type Capability struct {
	ID asn1.ObjectIdentifier
	// Params is the DER of the capability's parameters; nil when absent.
	// RFC 3560 §5: RSAES-OAEP carries its RSAES-OAEP-params.
	Params []byte
}

// sigKnownCapabilities keeps the capabilities Sealpost acts on, in the
// sender's order.
func sigKnownCapabilities(caps []sigCapability) []Capability {
	known := []asn1.ObjectIdentifier{oidAES128CBC, oidAES192CBC, oidAES256CBC, oidAES128GCM, oidAES192GCM, oidAES256GCM,
		oidRSAEncryption, oidRSAOAEP}
	var out []Capability
	for _, c := range caps {
		if slices.ContainsFunc(known, c.ID.Equal) {
			out = append(out, Capability{ID: c.ID, Params: c.Params.FullBytes})
		}
	}
	return out
}

// Names of the content encryptions and key transports, as kept per
// member key, set by the list owner and written in the configuration.
var (
	cipherNames = []struct {
		name   string
		oid    asn1.ObjectIdentifier
		cipher Cipher
	}{
		// Strongest first: the order in which an announcement is read.
		{"aes256-gcm", oidAES256GCM, AES256GCM}, {"aes128-gcm", oidAES128GCM, AES128GCM},
		{"aes256-cbc", oidAES256CBC, AES256CBC}, {"aes128-cbc", oidAES128CBC, AES128CBC},
	}
	keyTransportNames = []struct {
		name string
		kt   KeyTransport
	}{
		{"rsa-oaep-sha256", RSAOAEPSHA256}, {"rsa-oaep-sha1", RSAOAEPSHA1}, {"rsa-pkcs1v15", RSAPKCS1v15},
	}
)

// CapabilityNames names the announced capabilities that Encrypt can act
// on, in the sender's order: "aes256-gcm", "aes128-gcm", "aes256-cbc",
// "aes128-cbc" for content encryption; "rsa-pkcs1v15" for rsaEncryption,
// "rsa-oaep-sha256" and "rsa-oaep-sha1" for RSAES-OAEP with the
// rSAES-OAEP-SHA256 or the default parameters (RFC 3560 §5, RFC 4055
// §4.1). Others, OAEP with other parameters among them, are left out.
func CapabilityNames(caps []Capability) []string {
	var out []string
	for _, c := range caps {
		if n := capabilityName(c); n != "" {
			out = append(out, n)
		}
	}
	return out
}

func capabilityName(c Capability) string {
	for _, n := range cipherNames {
		if c.ID.Equal(n.oid) {
			return n.name
		}
	}
	switch {
	case c.ID.Equal(oidRSAEncryption):
		return "rsa-pkcs1v15"
	case c.ID.Equal(oidRSAOAEP):
		// RFC 3560 §5: the parameters say which OAEP the client reads;
		// absent ones are read as the defaults (SHA-1).
		opts, _, err := ktriOAEPOptions(c.Params)
		switch {
		case err != nil || len(opts.Label) > 0:
		case opts.Hash == crypto.SHA256 && opts.MGFHash == crypto.SHA256:
			return "rsa-oaep-sha256"
		case opts.Hash == crypto.SHA1 && opts.MGFHash == crypto.SHA1:
			return "rsa-oaep-sha1"
		}
	}
	return ""
}

// ParseCipher maps a content-encryption name ("aes256-cbc", ...) to its
// Cipher.
func ParseCipher(name string) (Cipher, bool) {
	for _, n := range cipherNames {
		if n.name == name {
			return n.cipher, true
		}
	}
	return 0, false
}

// ParseKeyTransport maps a key-transport name ("rsa-pkcs1v15",
// "rsa-oaep-sha256", "rsa-oaep-sha1") to its KeyTransport.
func ParseKeyTransport(name string) (KeyTransport, bool) {
	for _, n := range keyTransportNames {
		if n.name == name {
			return n.kt, true
		}
	}
	return 0, false
}

// Preferences is everything that decides how one recipient's copy is
// encrypted, as names (ParseCipher, ParseKeyTransport). At each level ""
// and "auto" say nothing, and so does a name that does not parse.
type Preferences struct {
	// Cipher and KeyTransport are the member's own settings.
	Cipher, KeyTransport string
	// Announced is what the member's client announced (CapabilityNames);
	// empty when nothing is known.
	Announced []string
	// ListCipher and ListKeyTransport are the list's defaults.
	ListCipher, ListKeyTransport string
	// ServerKeyTransport is the server's default key transport.
	ServerKeyTransport string
	// MLKEM says the recipient's certificate is ML-KEM (RFC 9935): their
	// client is one that writes KEMRecipientInfo (RFC 9629), which the
	// list's cipher setting, made for the classical clients, does not
	// speak for.
	MLKEM bool
}

// Default content encryption and key transport for a recipient about
// whom nothing is known or set: what every deployed client reads.
// RFC 8551 §2.7 makes AES-GCM a MUST (AES-128-CBC a MUST-), but the
// clients in use implement S/MIME 3.2 (RFC 5751 §2.7: AES-128-CBC MUST,
// AES-256-CBC SHOULD+) and read no AuthEnvelopedData: gpgsm 2.2 (and
// with it mutt, NeoMutt and notmuch), and by their documentation
// Outlook and Apple Mail. RFC 8551 §2.3, like RFC 5751 §2.3, still
// requires RSA encryption (PKCS#1 v1.5) and only recommends RSAES-OAEP
// (SHOULD+), which gpgsm 2.2 does not read. CBC has no integrity
// protection of its own: Sealpost's copies carry the list's signature
// inside, which the reader checks.
const (
	DefaultCipher       = AES256CBC
	DefaultKeyTransport = RSAPKCS1v15
)

// Choose decides a recipient's content encryption and RSA key transport,
// each on its own, taking the first level that says something:
//
//  1. the member's own setting: the list owner's word, which holds even
//     when the client announces more than a member's other devices read;
//  2. what their client announced (RFC 8551 §2.7.1.1): the strongest
//     announced, AES-GCM before AES-CBC and 256 before 128 bits,
//     RSAES-OAEP before PKCS#1 v1.5, where the RFC takes the first
//     listed: an authenticated copy whenever the client reads one. An
//     announcement that lists no key transport (OpenSSL's, for one)
//     says nothing about it;
//  3. the list's setting, then, for the key transport, the server's;
//  4. DefaultCipher and DefaultKeyTransport.
//
// The key transport applies to RSA certificates only: EC certificates
// always get ECDH with the KDF and AES key wrap matching the cipher, and
// ML-KEM certificates a KEMRecipientInfo.
//
// For an ML-KEM certificate (p.MLKEM) levels 3 and 4 give way to
// AES-256-GCM: the list's setting and DefaultCipher exist for the
// classical clients that read no AuthEnvelopedData, while a client that
// reads KEMRecipientInfo implements RFC 8551, whose MUST is AES-GCM
// (§2.7), and AES-256 matches the post-quantum strength the certificate
// was chosen for (RFC 9936 §3 pairs ML-KEM-768/1024 with AES-256 key
// wrap); AuthEnvelopedData also needs no signature to detect a changed
// ciphertext, which CBC does.
func Choose(p Preferences) EncryptOptions {
	listCipher := p.ListCipher
	if p.MLKEM {
		listCipher = "aes256-gcm"
	}
	return EncryptOptions{
		Cipher: firstCipher(p.Cipher, strongest(p.Announced, CipherNames()), listCipher),
		KeyTransport: firstKeyTransport(p.KeyTransport, strongest(p.Announced, KeyTransportNames()),
			p.ListKeyTransport, p.ServerKeyTransport),
	}
}

func firstCipher(names ...string) Cipher {
	for _, n := range names {
		if c, ok := ParseCipher(n); ok {
			return c
		}
	}
	return DefaultCipher
}

func firstKeyTransport(names ...string) KeyTransport {
	for _, n := range names {
		if kt, ok := ParseKeyTransport(n); ok {
			return kt
		}
	}
	return DefaultKeyTransport
}

// strongest returns the first of order (strongest first) that announced
// contains, or "".
func strongest(announced, order []string) string {
	for _, n := range order {
		if slices.Contains(announced, n) {
			return n
		}
	}
	return ""
}

// CipherNames are the names of the content encryptions Encrypt writes,
// strongest first.
func CipherNames() []string {
	out := make([]string, len(cipherNames))
	for i, n := range cipherNames {
		out[i] = n.name
	}
	return out
}

// KeyTransportNames are the names of the RSA key transports Encrypt
// writes, strongest first.
func KeyTransportNames() []string {
	out := make([]string, len(keyTransportNames))
	for i, n := range keyTransportNames {
		out[i] = n.name
	}
	return out
}
