// Package mail owns the address-level vocabulary of Sealpost: addr-specs
// and their comparison (RFC 5322 §3.4.1), the address forms a list
// answers to (post, -request, -owner, -bounce), message identifiers
// (RFC 5322 §3.6.4) and the list header fields of RFC 2369 and RFC 2919.
//
// It does no I/O. It deliberately does not implement internationalised
// local parts beyond what net/mail accepts.
package mail

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrBadAddress is returned for a string that is not a usable addr-spec.
var ErrBadAddress = errors.New("mail: not a valid email address")

// ParseAddress parses an address as found in a header or on a command line
// ("Alice <alice@example.org>" or "alice@example.org") and returns its
// display name and normalised addr-spec.
func ParseAddress(s string) (name, addr string, err error) {
	a, err := netmail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return "", "", fmt.Errorf("%w: %q", ErrBadAddress, s)
	}
	addr, err = Normalize(a.Address)
	return a.Name, addr, err
}

// Normalize checks that addr is a bare addr-spec with a domain and returns
// it lower-cased. Sealpost compares addresses case-insensitively throughout
// (see crypto.Signer.HasAddress for why).
func Normalize(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 || strings.ContainsAny(addr, " \t\r\n<>,;\"") {
		return "", fmt.Errorf("%w: %q", ErrBadAddress, addr)
	}
	if !strings.Contains(addr[at+1:], ".") && addr[at+1:] != "localhost" {
		return "", fmt.Errorf("%w: %q (domain has no dot)", ErrBadAddress, addr)
	}
	return strings.ToLower(addr), nil
}

// Split returns the local part and domain of a normalised addr-spec.
func Split(addr string) (local, domain string) {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr, ""
	}
	return addr[:at], addr[at+1:]
}

// Role is the function of one of a list's addresses.
type Role string

// The addresses a list answers to. RFC 2369 names -request for commands;
// -owner and -bounce are the conventions of Mailman and Schleuder.
const (
	RolePost    Role = "post"
	RoleRequest Role = "request"
	RoleOwner   Role = "owner"
	RoleBounce  Role = "bounce"
	RoleSendKey Role = "sendkey" // answers with the list's public key (Schleuder)
)

// RoleSuffixes are the roles whose addresses are LOCAL-ROLE@DOMAIN.
var RoleSuffixes = []Role{RoleRequest, RoleOwner, RoleBounce, RoleSendKey}

// RoleAddress returns the address of list that has the given role.
func RoleAddress(list string, r Role) string {
	if r == RolePost {
		return list
	}
	local, domain := Split(list)
	return local + "-" + string(r) + "@" + domain
}

// Target is one reading of a recipient address: a list and the role of
// the address within it.
type Target struct {
	List string // the list's post address
	Role Role
	// Member is the member a VERP bounce address names, for RoleBounce;
	// "" for the bare bounce address and the short form (see VERP).
	Member string
	// Token is the token a VERP bounce address carries, for RoleBounce;
	// "" for the bare bounce address and the old form without one.
	Token string
}

// VERPTokenLen is the length of a VERP token: 13 base32 characters, 64
// bits of a keyed tag.
const VERPTokenLen = 13

// verpEncoding is lower-case base32 (RFC 4648 §6, without padding), so a
// mailer that lower-cases local parts leaves the token intact.
var verpEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// VERPToken encodes the first 8 bytes of tag, a keyed tag of a list and
// one of its members that only Sealpost can make, as a VERP token.
func VERPToken(tag []byte) string {
	if len(tag) < 8 {
		panic("mail: VERP tag shorter than 8 bytes")
	}
	return verpEncoding.EncodeToString(tag[:8])
}

// maxLocalPart is the longest local part every server must accept (RFC
// 5321 §4.5.3.1.1: 64 octets).
const maxLocalPart = 64

// VERP returns the list's bounce address for one member's copies
// (variable envelope return path) with the member's token (VERPToken):
// LIST-bounce+LOCAL=DOMAIN=TOKEN@LISTDOMAIN, so that any bounce names the
// member, and only a bounce of a copy Sealpost sent names them with the
// right token. When that local part would be longer than RFC 5321
// §4.5.3.1.1 allows, the member's address is left out
// (LIST-bounce+TOKEN@LISTDOMAIN) and the token alone identifies the
// member among the list's.
func VERP(list, member, token string) string {
	local, domain := Split(list)
	mlocal, mdomain := Split(member)
	prefix := local + "-" + string(RoleBounce) + "+"
	if full := prefix + mlocal + "=" + mdomain + "=" + token; len(full) <= maxLocalPart {
		return full + "@" + domain
	}
	return prefix + token + "@" + domain
}

// isVERPToken reports whether s has the form of a VERP token.
func isVERPToken(s string) bool {
	if len(s) != VERPTokenLen {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// ListRoles returns the readings of rcpt: rcpt itself as a post address,
// and, when its local part ends in -request, -owner or -bounce, the base
// list address with that role, and the readings of a VERP bounce address.
// The caller decides which of them is a list it serves.
func ListRoles(rcpt string) []Target {
	out := []Target{{List: rcpt, Role: RolePost}}
	local, domain := Split(rcpt)
	for _, r := range RoleSuffixes {
		if base, ok := strings.CutSuffix(local, "-"+string(r)); ok && base != "" {
			out = append(out, Target{List: base + "@" + domain, Role: r})
		}
	}
	// A VERP bounce address, LIST-bounce+TAG. A member's local part may
	// hold "-bounce+" too, so every place it occurs is a reading, the
	// leftmost (the shortest list address) first.
	sep := "-" + string(RoleBounce) + "+"
	for i := 0; ; i++ {
		j := strings.Index(local[i:], sep)
		if j < 0 {
			break
		}
		i += j
		if t, ok := verpTag(local[i+len(sep):]); ok && i > 0 {
			t.List, t.Role = local[:i]+"@"+domain, RoleBounce
			out = append(out, t)
		}
	}
	return out
}

// verpTag reads the part of a VERP address after "LIST-bounce+": TOKEN,
// LOCAL=DOMAIN=TOKEN, or the old form LOCAL=DOMAIN. A domain holds no '='
// and a token no '=' or '.', so the forms cannot be mistaken for each
// other: the old form's DOMAIN needs a dot, which no token has.
func verpTag(tag string) (Target, bool) {
	if isVERPToken(tag) {
		return Target{Token: tag}, true
	}
	var t Target
	if j := strings.LastIndexByte(tag, '='); j > 0 && isVERPToken(tag[j+1:]) {
		tag, t.Token = tag[:j], tag[j+1:]
	}
	j := strings.LastIndexByte(tag, '=')
	if j <= 0 || j == len(tag)-1 {
		return Target{}, false
	}
	member, err := Normalize(tag[:j] + "@" + tag[j+1:])
	if err != nil {
		return Target{}, false
	}
	t.Member = member
	return t, true
}

// ListID returns the RFC 2919 List-Id field body for a list address:
// the address with '@' replaced by '.', in angle brackets, preceded by the
// list's display name when it has one.
func ListID(list, name string) string {
	// RFC 2919 §2: list-id = [phrase] "<" list-label "." list-id-namespace ">"
	id := "<" + strings.Replace(list, "@", ".", 1) + ">"
	if name == "" {
		return id
	}
	return quotePhrase(name) + " " + id
}

// ListPost returns the RFC 2369 §3.4 List-Post field body.
func ListPost(list string) string { return "<mailto:" + list + ">" }

// FormatAddress renders a display name and addr-spec for a header field,
// quoting the name when RFC 5322 §3.2.5 requires it and encoding it per
// RFC 2047 when it is not ASCII.
func FormatAddress(name, addr string) string {
	return (&netmail.Address{Name: name, Address: addr}).String()
}

// maxDisplayName bounds a display name Sealpost shows, in runes.
const maxDisplayName = 64

// DisplayName returns name made safe to show beside addr in a From field
// Sealpost writes, or "" when it must not be shown. A display name is text
// its holder chose (in a From field, a key's user ID, a certificate's
// common name), and mail clients show it instead of the address: one that
// contains an address, or anything that looks like one (an "@" or its
// Unicode look-alikes, angle brackets), could make a copy look as if it
// came from someone else, so it is dropped and the address shows instead.
// Invisible characters (control, format and bidirectional marks) are
// removed, spaces collapsed, and the name cut to 64 characters.
func DisplayName(name, addr string) string {
	var b strings.Builder
	space := false
	for _, r := range name {
		switch {
		case strings.ContainsRune(lookalikes, r):
			return ""
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r), !unicode.IsPrint(r):
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) > maxDisplayName {
		out = string([]rune(out)[:maxDisplayName])
	}
	if strings.EqualFold(out, addr) {
		return ""
	}
	return out
}

// lookalikes are the characters that make a display name read as an
// address: "@" and its look-alikes (fullwidth, small), and the angle
// brackets that enclose an address, with theirs (Unicode's confusables
// for these characters).
const lookalikes = "@\uFF20\uFE6B<>\uFF1C\uFF1E\uFE64\uFE65\u2039\u203A\u3008\u3009\u2329\u232A\u27E8\u27E9\u02C2\u02C3"

func quotePhrase(s string) string {
	// Render through net/mail and strip the address part to reuse its quoting.
	full := (&netmail.Address{Name: s, Address: "x@x"}).String()
	return strings.TrimSuffix(full, " <x@x>")
}

// NewMessageID returns a fresh Message-ID field body, "<random@domain>",
// taking its randomness from rand.
func NewMessageID(rand io.Reader, domain string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("mail: message-id: %w", err)
	}
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">", nil
}

// Autocrypt returns the Autocrypt header field body (Autocrypt Level 1
// §2.1) announcing key, a binary OpenPGP transferable public key, for
// addr with prefer-encrypt=mutual. The base64 keydata is broken by
// spaces, which the specification ignores, so the field can be folded.
func Autocrypt(addr string, key []byte) string {
	data := base64.StdEncoding.EncodeToString(key)
	var b strings.Builder
	b.WriteString("addr=" + addr + "; prefer-encrypt=mutual; keydata=")
	for len(data) > 72 {
		b.WriteString(data[:72] + " ")
		data = data[72:]
	}
	b.WriteString(data)
	return b.String()
}

// OpenPGPHeader returns the OpenPGP header field body
// (draft-josefsson-openpgp-mailnews-header) naming the key fingerprint
// that encrypted mail to this address should use.
func OpenPGPHeader(fingerprint string) string {
	return "id=" + fingerprint + "; preference=signencrypt"
}

// ErrBadAutocrypt is returned for an Autocrypt header that Level 1 §2.1
// says to ignore.
var ErrBadAutocrypt = errors.New("mail: unusable Autocrypt header")

// ParseAutocrypt reads an Autocrypt header field body (Autocrypt Level 1
// §2.1): the normalised addr and the decoded keydata. A header with an
// unknown attribute that does not start with "_", or without addr or
// keydata, is refused, as the specification requires.
func ParseAutocrypt(value string) (addr string, key []byte, err error) {
	var keydata string
	for _, attr := range strings.Split(value, ";") {
		name, v, ok := strings.Cut(strings.TrimSpace(attr), "=")
		if !ok {
			return "", nil, fmt.Errorf("%w: attribute %q", ErrBadAutocrypt, attr)
		}
		switch name = strings.ToLower(strings.TrimSpace(name)); {
		case name == "addr":
			if addr, err = Normalize(v); err != nil {
				return "", nil, fmt.Errorf("%w: addr", ErrBadAutocrypt)
			}
		case name == "keydata":
			keydata = v
		case name == "prefer-encrypt", strings.HasPrefix(name, "_"):
		default:
			return "", nil, fmt.Errorf("%w: unknown critical attribute %q", ErrBadAutocrypt, name)
		}
	}
	key, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(keydata), ""))
	if addr == "" || err != nil || len(key) == 0 {
		return "", nil, fmt.Errorf("%w: missing addr or keydata", ErrBadAutocrypt)
	}
	return addr, key, nil
}
