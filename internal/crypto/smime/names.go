package smime

import (
	"encoding/asn1"
	"encoding/hex"
	"strings"
)

// attributeNames are the short names of the DN attributes people meet in
// S/MIME certificates: RFC 4514 §3's, and the ones it leaves out that
// certificates carry (PKCS #9 emailAddress, RFC 4519's).
var attributeNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "SERIALNUMBER",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "STREET",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.13":                   "description",
	"2.5.4.17":                   "postalCode",
	"2.5.4.41":                   "name",
	"2.5.4.42":                   "GN",
	"2.5.4.43":                   "initials",
	"2.5.4.44":                   "generationQualifier",
	"2.5.4.46":                   "dnQualifier",
	"2.5.4.65":                   "pseudonym",
	"2.5.4.97":                   "organizationIdentifier",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "emailAddress",
}

// NameString renders a distinguished name (DER, as in a certificate's
// RawSubject or RawIssuer) for people, most significant attribute last
// as RFC 4514 §2.1 orders it, with the attributes it knows by name and
// their decoded text ("emailAddress=alice@example.org,CN=Alice") where
// pkix.Name.String shows emailAddress as an OID and hex DER. An
// attribute it does not know, or whose value is not text, stays in
// RFC 4514 §2.4's OID=#hex form.
func NameString(der []byte) string {
	var rdns []rawRDNSET
	if rest, err := asn1.Unmarshal(der, &rdns); err != nil || len(rest) > 0 {
		return "(unreadable name)"
	}
	parts := make([]string, 0, len(rdns))
	for i := len(rdns) - 1; i >= 0; i-- {
		atvs := make([]string, 0, len(rdns[i]))
		for _, atv := range rdns[i] {
			atvs = append(atvs, atv.String())
		}
		parts = append(parts, strings.Join(atvs, "+"))
	}
	return strings.Join(parts, ",")
}

// rawRDNSET is a RelativeDistinguishedName whose values keep their DER
// (encoding/asn1 reads a slice type named ...SET as a SET OF).
type rawRDNSET []rawATV

// rawATV is an AttributeTypeAndValue (RFC 5280 §4.1.2.4) as encoded.
type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

func (atv rawATV) String() string {
	oid := atv.Type.String()
	if name, known := attributeNames[oid]; known {
		var v any
		if _, err := asn1.Unmarshal(atv.Value.FullBytes, &v); err == nil {
			if s, text := v.(string); text {
				return name + "=" + escapeDNValue(s)
			}
		}
	}
	return oid + "=#" + hex.EncodeToString(atv.Value.FullBytes)
}

// escapeDNValue escapes an attribute value as RFC 4514 §2.4 requires.
func escapeDNValue(s string) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case strings.ContainsRune(`,+"\<>;`, r),
			i == 0 && (r == ' ' || r == '#'),
			i == len(s)-1 && r == ' ':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
