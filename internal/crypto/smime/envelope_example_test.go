package smime_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/smime"
)

// A message is encrypted to a member's certificate (AES-256-GCM by
// default) and the member decrypts it.
func ExampleEncrypt() {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber:   big.NewInt(1),
		Subject:        pkix.Name{CommonName: "member@example.org"},
		EmailAddresses: []string{"member@example.org"},
		NotBefore:      time.Now().Add(-time.Hour),
		NotAfter:       time.Now().Add(time.Hour),
		KeyUsage:       x509.KeyUsageKeyAgreement,
	}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)

	content := []byte("Content-Type: text/plain\r\n\r\nHello, list.\r\n")
	enveloped, err := smime.Encrypt(content, []*x509.Certificate{cert}, smime.EncryptOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	plaintext, info, err := smime.Decrypt(enveloped, cert, key)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%q\n%s, authenticated %v, %s\n", plaintext, info.Cipher, info.Authenticated, info.KeyTransport)
	// Output:
	// "Content-Type: text/plain\r\n\r\nHello, list.\r\n"
	// AES-256-GCM, authenticated true, ECDH-P256-SHA256
}
