package pgp

import (
	"bytes"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// armorWriter is the one ASCII-armor writer (RFC 9580 §6.2) of everything
// Sealpost writes: messages, detached and cleartext signatures, keys.
// armor_test.go checks that nothing else in the package writes armor.
//
// RFC 9580 §6.1: the CRC24 footer "SHOULD NOT be generated, unless
// interoperability with implementations that require the CRC24 footer to
// be present is a concern". It is: without it GnuPG 2.2 (Debian 12's gpg,
// and so mutt, NeoMutt and notmuch, which verify through it) reads the
// armor tail as data, reports GOODSIG then NODATA and exits 2, which those
// clients show as "verification failed". Readers that do not need the
// footer must ignore it (same section), so it is always written.
func armorWriter(w io.Writer, blockType string) (io.WriteCloser, error) {
	return armor.EncodeWithChecksumOption(w, blockType, nil, true)
}

// armorBlock wraps data in an ASCII armor block of the given type,
// ending in a newline.
func armorBlock(blockType string, data []byte) ([]byte, error) {
	var b bytes.Buffer
	w, err := armorWriter(&b, blockType)
	if err == nil {
		_, err = w.Write(data)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return b.Bytes(), nil
}
