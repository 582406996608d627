package pipeline

import (
	"strings"

	"github.com/sealpost/sealpost/internal/mime"
)

// encryptedLayer finds the encrypted entity a post carries at its top
// level, looking through the two shapes real clients and servers produce
// around it. Anything else is returned unchanged for the engines to
// judge, which refuse what is not encrypted at the top level (EFAIL:
// ciphertext beside or inside attacker MIME is never decrypted into a
// post).
func encryptedLayer(msg *mime.Part) *mime.Part {
	if inner := transportSigned(msg); inner != nil {
		msg = inner
	}
	if repaired := exchangeRepair(msg); repaired != nil {
		return repaired
	}
	return msg
}

// transportSigned returns the first part of a multipart/signed whose
// first part is an encrypted entity. QUIRK(transport-signature): MTAs
// and gateways sign what they relay; a signature over ciphertext says
// nothing about the plaintext, so it is ignored (as Thunderbird does
// since bug 1806161), and the encrypted part is processed as if it were
// the whole message. Only one such layer is looked through.
func transportSigned(msg *mime.Part) *mime.Part {
	if msg.MediaType != "multipart/signed" || len(msg.Children) != 2 {
		return nil
	}
	if inner := msg.Children[0]; isEncrypted(inner) {
		return inner
	}
	return nil
}

func isEncrypted(p *mime.Part) bool {
	switch p.MediaType {
	case "multipart/encrypted":
		return true
	case "application/pkcs7-mime", "application/x-pkcs7-mime":
		return !strings.EqualFold(p.Params["smime-type"], "signed-data")
	}
	return false
}

// exchangeRepair recognises PGP/MIME that Microsoft Exchange turned into
// multipart/mixed — an empty text part, then the application/pgp-encrypted
// version part and the encrypted data as attachments — and returns the
// multipart/encrypted it was. QUIRK(exchange): Thunderbird and Enigmail
// repair exactly this pattern; nothing else is rearranged, and the text
// part must be empty so that no attacker text travels beside the
// ciphertext.
func exchangeRepair(msg *mime.Part) *mime.Part {
	if msg.MediaType != "multipart/mixed" || len(msg.Children) != 3 {
		return nil
	}
	text, version, data := msg.Children[0], msg.Children[1], msg.Children[2]
	if text.MediaType != "text/plain" || version.MediaType != "application/pgp-encrypted" ||
		data.MediaType != "application/octet-stream" {
		return nil
	}
	body, err := text.Decoded(1024)
	if err != nil || strings.TrimSpace(string(body)) != "" {
		return nil
	}
	// RFC 3156 §4 wants "Version: 1" in clear; Exchange base64-encodes it.
	v, err := version.Decoded(1024)
	if err != nil || !strings.Contains(string(v), "Version: 1") {
		return nil
	}
	// The engine decodes the version part itself (its transfer encoding
	// does not matter), so it is passed on as it came.
	return &mime.Part{
		Header:    msg.Header,
		MediaType: "multipart/encrypted",
		Params:    map[string]string{"protocol": "application/pgp-encrypted"},
		Children:  []*mime.Part{version, data},
	}
}
