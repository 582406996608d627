package pgp

import (
	openpgp "github.com/ProtonMail/go-crypto/openpgp/v2"

	"github.com/sealpost/sealpost/internal/mime"
)

// VerifySigned checks a message that is not encrypted, for lists that
// take such posts: a PGP/MIME multipart/signed message (RFC 3156 §5) is
// verified with signers and its Content is the signed part; any other
// message is StatusUnsigned and its Content is the whole message.
// Protection is zero: nothing was encrypted.
func VerifySigned(msg *mime.Part, signers []*Key, opt Options) *Unwrapped {
	u := &Unwrapped{}
	keyring := make(openpgp.EntityList, 0, len(signers))
	for _, k := range signers {
		keyring = append(keyring, k.e)
	}
	u.verifyInner(msg.Raw, keyring, opt)
	return u
}
