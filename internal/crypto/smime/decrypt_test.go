package smime

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/openssltest"
)

// envTestFixture is one recipient of each kind and a second RSA
// certificate that no test message is encrypted to.
type envTestFixture struct {
	rsa, ec, other *openssltest.Leaf
}

func envTestNewFixture(t *testing.T) envTestFixture {
	ca := openssltest.NewCA(t, openssltest.RSA2048)
	return envTestFixture{
		rsa:   ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{}),
		ec:    ca.Issue("ec@example.org", openssltest.P256, openssltest.LeafOptions{}),
		other: ca.Issue("other@example.org", openssltest.RSA2048, openssltest.LeafOptions{}),
	}
}

func envTestEncrypt(t *testing.T, leaf *openssltest.Leaf, opt EncryptOptions) []byte {
	t.Helper()
	der, err := Encrypt(envTestContent, []*x509.Certificate{leaf.Cert}, opt)
	envMust(t, err)
	return der
}

// envTestFlip returns a copy of der with byte i of the ciphertext (i < 0:
// counted from the end) XORed with x.
func envTestFlip(t *testing.T, der []byte, i int, x byte) []byte {
	t.Helper()
	msg, err := envParse(der)
	envMust(t, err)
	at := bytes.Index(der, msg.ciphertext)
	if i < 0 {
		i += len(msg.ciphertext)
	}
	out := bytes.Clone(der)
	out[at+i] ^= x
	return out
}

// envTestWant checks that Decrypt failed with exactly want (no detail in
// the text for ErrIntegrity) and returned nothing.
func envTestWant(t *testing.T, name string, der []byte, leaf *openssltest.Leaf, want error) {
	t.Helper()
	pt, info, err := Decrypt(der, leaf.Cert, leaf.Key)
	if !errors.Is(err, want) || pt != nil || info != (DecryptInfo{}) {
		t.Errorf("%s: %q, %+v, %v; want %v", name, pt, info, err, want)
		return
	}
	if want == ErrIntegrity && err != ErrIntegrity {
		t.Errorf("%s: integrity failure carries detail: %q", name, err)
	}
}

func TestDecryptIntegrity(t *testing.T) {
	f := envTestNewFixture(t)
	cbc := envTestEncrypt(t, f.rsa, EncryptOptions{Cipher: AES256CBC})
	// The last byte of the next-to-last block is XORed into the last
	// padding byte: 0x80 makes it at least 0x80, never valid padding.
	envTestWant(t, "CBC, padding broken", envTestFlip(t, cbc, -17, 0x80), f.rsa, ErrIntegrity)

	// CBC has no integrity protection: a change in an early block
	// garbles that block and flips the same bit in the next one, and the
	// result still decrypts. This is why AES-GCM is the default and why
	// DecryptInfo.Authenticated exists.
	pt, info, err := Decrypt(envTestFlip(t, cbc, 0, 0x01), f.rsa.Cert, f.rsa.Key)
	if err != nil || bytes.Equal(pt, envTestContent) || info.Authenticated {
		t.Errorf("CBC early flip: %q, %+v, %v; want altered plaintext, unauthenticated", pt, info, err)
	}

	gcm := envTestEncrypt(t, f.rsa, EncryptOptions{})
	msg, _ := envParse(gcm)
	tagAt := bytes.Index(gcm, msg.mac)
	badTag := bytes.Clone(gcm)
	badTag[tagAt+5] ^= 0x01
	envTestWant(t, "GCM, tag byte flipped", badTag, f.rsa, ErrIntegrity)
	envTestWant(t, "GCM, ciphertext byte flipped", envTestFlip(t, gcm, 3, 0x01), f.rsa, ErrIntegrity)
	envTestWant(t, "GCM, last ciphertext byte flipped", envTestFlip(t, gcm, -1, 0x80), f.rsa, ErrIntegrity)

	// A changed encrypted key: OAEP fails, PKCS#1 v1.5 continues with a
	// random key (RFC 3218) and fails at the tag, the AES key unwrap
	// fails its check.
	for _, tc := range []struct {
		name string
		leaf *openssltest.Leaf
		opt  EncryptOptions
	}{
		{"RSA-OAEP-SHA256", f.rsa, EncryptOptions{}},
		{"RSA-OAEP-SHA1", f.rsa, EncryptOptions{KeyTransport: RSAOAEPSHA1}},
		{"RSA-PKCS1v15", f.rsa, EncryptOptions{KeyTransport: RSAPKCS1v15}},
		{"ECDH", f.ec, EncryptOptions{}},
		{"ECDH, CBC", f.ec, EncryptOptions{Cipher: AES128CBC}},
	} {
		der := envTestEncrypt(t, tc.leaf, tc.opt)
		envTestWant(t, tc.name+", encrypted key changed", envTestChangeEncryptedKey(t, der), tc.leaf, ErrIntegrity)
	}
}

// envTestChangeEncryptedKey flips a bit in the middle of the (single)
// encryptedKey of der.
func envTestChangeEncryptedKey(t *testing.T, der []byte) []byte {
	t.Helper()
	msg, err := envParse(der)
	envMust(t, err)
	ri := msg.recipients[0]
	var ek []byte
	if ri.Tag == asn1.TagSequence {
		var kt ktriInfo
		envMust(t, envUnmarshal(ri.FullBytes, &kt, "", ""))
		ek = kt.EncryptedKey
	} else {
		var ka kariInfo
		envMust(t, envUnmarshal(ri.FullBytes, &ka, "tag:1", ""))
		var rek kariRecipientEncryptedKey
		envMust(t, envUnmarshal(ka.RecipientEncryptedKeys.Bytes, &rek, "", ""))
		ek = rek.EncryptedKey
	}
	out := bytes.Clone(der)
	out[bytes.Index(der, ek)+len(ek)/2] ^= 0x10
	return out
}

func TestDecryptRecipientAndKey(t *testing.T) {
	f := envTestNewFixture(t)
	for _, opt := range []EncryptOptions{{}, {Cipher: AES128CBC}} {
		der, err := Encrypt(envTestContent, []*x509.Certificate{f.rsa.Cert, f.ec.Cert}, opt)
		envMust(t, err)
		envTestWant(t, "another certificate", der, f.other, ErrNoRecipient)
		// The key must belong to the certificate: a caller's mistake,
		// reported before the message is looked at.
		_, _, err = Decrypt(der, f.rsa.Cert, f.other.Key)
		if err == nil || errors.Is(err, ErrIntegrity) || errors.Is(err, ErrNoRecipient) {
			t.Errorf("mismatched key: %v", err)
		}
		_, _, err = Decrypt(der, f.ec.Cert, f.rsa.Key)
		if err == nil || errors.Is(err, ErrIntegrity) {
			t.Errorf("key of another type: %v", err)
		}
		if _, _, err := Decrypt(der, nil, nil); err == nil {
			t.Error("nil certificate and key accepted")
		}
		// An *ecdh.PrivateKey works as well as the *ecdsa.PrivateKey.
		ek, err := f.ec.Key.(*ecdsa.PrivateKey).ECDH()
		envMust(t, err)
		if pt, _, err := Decrypt(der, f.ec.Cert, ek); err != nil || !bytes.Equal(pt, envTestContent) {
			t.Errorf("ecdh key: %q, %v", pt, err)
		}
	}
}

func TestDecryptMalformed(t *testing.T) {
	f := envTestNewFixture(t)
	der := envTestEncrypt(t, f.rsa, EncryptOptions{})
	for n := 0; n < len(der); n++ {
		pt, _, err := Decrypt(der[:n], f.rsa.Cert, f.rsa.Key)
		if !errors.Is(err, ErrMalformed) || pt != nil {
			t.Fatalf("truncated to %d bytes: %v", n, err)
		}
	}
	for _, garbage := range [][]byte{
		nil, []byte("hello"), []byte("-----BEGIN PKCS7-----"), {0x30, 0x80}, {0x30, 0x03, 0x06, 0x01, 0x00},
		bytes.Repeat([]byte{0x30, 0x80}, 100),
		append(bytes.Clone(der), 0x01),
	} {
		envTestWant(t, "garbage", garbage, f.rsa, ErrMalformed)
	}
	notEnveloped, _ := marshalContentInfo(oidSignedData, []byte{0x30, 0x00})
	envTestWant(t, "SignedData", notEnveloped, f.rsa, ErrUnsupported)
	if len(der) > 0 {
		big := make([]byte, envMaxInput+1)
		copy(big, der)
		envTestWant(t, "input over the limit", big, f.rsa, ErrMalformed)
	}
}

// envTestEditEnveloped parses an EnvelopedData, lets edit change it and
// marshals it again.
func envTestEditEnveloped(t *testing.T, der []byte, edit func(*envelopedData)) []byte {
	t.Helper()
	ci, err := parseContentInfo(der)
	envMust(t, err)
	var ed envelopedData
	envMust(t, envUnmarshal(ci.Content.Bytes, &ed, "", ""))
	edit(&ed)
	inner, err := asn1.Marshal(ed)
	envMust(t, err)
	out, err := marshalContentInfo(oidEnvelopedData, inner)
	envMust(t, err)
	return out
}

func TestDecryptStructureVariants(t *testing.T) {
	f := envTestNewFixture(t)
	cbc := envTestEncrypt(t, f.rsa, EncryptOptions{Cipher: AES128CBC})
	msg, _ := envParse(cbc)
	ct := msg.ciphertext

	// encryptedContent as a constructed [0] of OCTET STRING segments,
	// as OpenSSL streams it (here with definite lengths).
	segmented := envTestEditEnveloped(t, cbc, func(ed *envelopedData) {
		a, _ := asn1.Marshal(ct[:16])
		b, _ := asn1.Marshal(ct[16:])
		ed.EncryptedContentInfo.EncryptedContent = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(a, b...)}
	})
	if pt, _, err := Decrypt(segmented, f.rsa.Cert, f.rsa.Key); err != nil || !bytes.Equal(pt, envTestContent) {
		t.Errorf("segmented encryptedContent: %q, %v", pt, err)
	}

	tests := []struct {
		name string
		edit func(*envelopedData)
		want error
	}{
		{"GCM inside EnvelopedData", func(ed *envelopedData) {
			ed.EncryptedContentInfo.ContentEncryptionAlgorithm.Algorithm = oidAES128GCM
		}, ErrUnsupported},
		{"3DES", func(ed *envelopedData) {
			ed.EncryptedContentInfo.ContentEncryptionAlgorithm.Algorithm = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
		}, ErrUnsupported},
		{"inner content type not id-data", func(ed *envelopedData) {
			ed.EncryptedContentInfo.ContentType = oidSignedData
		}, ErrUnsupported},
		{"detached content", func(ed *envelopedData) {
			ed.EncryptedContentInfo.EncryptedContent = asn1.RawValue{}
		}, ErrUnsupported},
		{"short IV", func(ed *envelopedData) {
			ed.EncryptedContentInfo.ContentEncryptionAlgorithm.Parameters = asn1.RawValue{FullBytes: []byte{0x04, 0x01, 0x00}}
		}, ErrMalformed},
		{"partial block", func(ed *envelopedData) {
			ed.EncryptedContentInfo.EncryptedContent = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ct[:len(ct)-1]}
		}, ErrMalformed},
		{"no RecipientInfos", func(ed *envelopedData) {
			ed.RecipientInfos = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true}
		}, ErrMalformed},
		{"1001 RecipientInfos", func(ed *envelopedData) {
			ri := ed.RecipientInfos.Bytes
			ed.RecipientInfos = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Repeat(ri, envMaxRecipients+1)}
		}, ErrMalformed},
		{"only a KEKRecipientInfo", func(ed *envelopedData) {
			ed.RecipientInfos = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: []byte{0xa2, 0x00}}
		}, ErrNoRecipient},
	}
	for _, tt := range tests {
		envTestWant(t, tt.name, envTestEditEnveloped(t, cbc, tt.edit), f.rsa, tt.want)
	}

	// The limit on RecipientInfos is on their number: 1000 are read.
	thousand := envTestEditEnveloped(t, cbc, func(ed *envelopedData) {
		ri := ed.RecipientInfos.Bytes
		ed.RecipientInfos = asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: bytes.Repeat(ri, envMaxRecipients)}
	})
	if pt, _, err := Decrypt(thousand, f.rsa.Cert, f.rsa.Key); err != nil || !bytes.Equal(pt, envTestContent) {
		t.Errorf("1000 RecipientInfos: %v", err)
	}

	huge := envTestEditEnveloped(t, cbc, func(ed *envelopedData) {
		ed.EncryptedContentInfo.EncryptedContent = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: make([]byte, envMaxCiphertext+16)}
	})
	envTestWant(t, "ciphertext over 64 MiB", huge, f.rsa, ErrMalformed)
}

func TestDecryptGCMParameters(t *testing.T) {
	f := envTestNewFixture(t)
	der := envTestEncrypt(t, f.rsa, EncryptOptions{Cipher: AES128GCM})
	edit := func(params envGCMParams, mac []byte) []byte {
		aed := envTestParseAuth(t, der)
		p, err := asn1.Marshal(params)
		envMust(t, err)
		aed.AuthEncryptedContentInfo.ContentEncryptionAlgorithm.Parameters = asn1.RawValue{FullBytes: p}
		if mac != nil {
			aed.MAC = mac
		}
		return envTestMarshalAuth(t, aed)
	}
	aed := envTestParseAuth(t, der)
	var params envGCMParams
	envMust(t, envUnmarshal(aed.AuthEncryptedContentInfo.ContentEncryptionAlgorithm.Parameters.FullBytes, &params, "", ""))
	// aes-ICVlen absent means 12 (RFC 5084 §3.2). A GCM tag of 12 bytes
	// is the first 12 bytes of the full tag, so cutting ours and writing
	// the default still authenticates (at the 96-bit strength RFC 5084
	// allows); a changed byte within them does not.
	short := edit(envGCMParams{Nonce: params.Nonce, ICVLen: 12}, aed.MAC[:12])
	if pt, _, err := Decrypt(short, f.rsa.Cert, f.rsa.Key); err != nil || !bytes.Equal(pt, envTestContent) {
		t.Errorf("ICVlen 12 (default), tag cut to 12: %v", err)
	}
	badShort := bytes.Clone(aed.MAC[:12])
	badShort[11] ^= 1
	envTestWant(t, "ICVlen 12, changed tag", edit(envGCMParams{Nonce: params.Nonce, ICVLen: 12}, badShort), f.rsa, ErrIntegrity)
	envTestWant(t, "tag length differs from ICVlen", edit(envGCMParams{Nonce: params.Nonce, ICVLen: 16}, aed.MAC[:15]), f.rsa, ErrMalformed)
	envTestWant(t, "ICVlen 8", edit(envGCMParams{Nonce: params.Nonce, ICVLen: 8}, aed.MAC[:8]), f.rsa, ErrMalformed)
	// RFC 5084 §3.2: other nonce lengths (see TestDecryptGCMNonceLengths
	// for ones that decrypt); crypto/cipher cannot combine one with a
	// shortened tag.
	envTestWant(t, "16-byte nonce, 12-byte tag", edit(envGCMParams{Nonce: make([]byte, 16), ICVLen: 12}, aed.MAC[:12]), f.rsa, ErrUnsupported)
	envTestWant(t, "16-byte nonce, tag of another nonce", edit(envGCMParams{Nonce: make([]byte, 16), ICVLen: 16}, nil), f.rsa, ErrIntegrity)
	envTestWant(t, "empty nonce", edit(envGCMParams{Nonce: []byte{}, ICVLen: 16}, nil), f.rsa, ErrMalformed)
	envTestWant(t, "65-byte nonce", edit(envGCMParams{Nonce: make([]byte, envMaxGCMNonce+1), ICVLen: 16}, nil), f.rsa, ErrMalformed)
}

// FuzzDecrypt: Decrypt never panics, and whatever it accepts it reports
// fully. The fuzzed input is tried against an RSA, an EC and an ML-KEM-768
// recipient whose messages seed the corpus.
func FuzzDecrypt(f *testing.F) {
	ca := openssltest.NewCA(f, openssltest.P256)
	kem := kemTestIssue(f, ca, "pq@example.org", oidMLKEM768, true)
	rsaLeaf := ca.Issue("rsa@example.org", openssltest.RSA2048, openssltest.LeafOptions{})
	ecLeaf := ca.Issue("ec@example.org", openssltest.P256, openssltest.LeafOptions{})
	type recipient struct {
		Cert *x509.Certificate
		Key  crypto.PrivateKey
	}
	leaves := []recipient{{rsaLeaf.Cert, rsaLeaf.Key}, {ecLeaf.Cert, ecLeaf.Key}, {kem.Cert, kem.Key}}
	certs := []*x509.Certificate{leaves[0].Cert, leaves[1].Cert, kem.Cert}
	for _, opt := range []EncryptOptions{{}, {Cipher: AES128CBC, KeyTransport: RSAPKCS1v15}, {Cipher: AES256CBC, KeyTransport: RSAOAEPSHA1}} {
		der, err := Encrypt([]byte("Content-Type: text/plain\r\n\r\nfuzz\r\n"), certs, opt)
		envMust(f, err)
		f.Add(der)
		f.Add(der[:len(der)/2])
		// The same as BER: the outer SEQUENCE with indefinite length.
		if der[0] == 0x30 && der[1] == 0x82 {
			ber := append([]byte{0x30, 0x80}, der[4:]...)
			f.Add(append(ber, 0, 0))
		}
	}
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03, 0xa0, 0x80, 0x00, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, leaf := range leaves {
			pt, info, err := Decrypt(in, leaf.Cert, leaf.Key)
			if err != nil {
				if pt != nil || info != (DecryptInfo{}) {
					t.Fatalf("error %v with output %q, %+v", err, pt, info)
				}
				continue
			}
			if info.Cipher == "" || info.KeyTransport == "" || info.Authenticated != strings.HasSuffix(info.Cipher, "GCM") {
				t.Fatalf("accepted with incomplete info %+v", info)
			}
		}
	})
}
