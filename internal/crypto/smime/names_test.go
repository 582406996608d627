package smime

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

func TestNameString(t *testing.T) {
	utf8 := func(s string) asn1.RawValue { return asn1.RawValue{Tag: asn1.TagUTF8String, Bytes: []byte(s)} }
	ia5 := func(s string) asn1.RawValue { return asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(s)} }
	atv := func(oid asn1.ObjectIdentifier, v any) []pkix.AttributeTypeAndValue {
		return []pkix.AttributeTypeAndValue{{Type: oid, Value: v}}
	}
	for _, c := range []struct {
		name pkix.RDNSequence
		want string
	}{
		// The bug: pkix.Name.String shows 1.2.840.113549.1.9.1=#0c10....
		{pkix.RDNSequence{atv(asn1.ObjectIdentifier{2, 5, 4, 10}, utf8("Example")), atv(asn1.ObjectIdentifier{2, 5, 4, 3}, utf8("Alice")),
			atv(oidEmailAddress, utf8("alice@example.org"))}, "emailAddress=alice@example.org,CN=Alice,O=Example"},
		{pkix.RDNSequence{atv(oidEmailAddress, ia5("bob@example.org"))}, "emailAddress=bob@example.org"},
		// RFC 4514 §2.4: special characters escaped.
		{pkix.RDNSequence{atv(asn1.ObjectIdentifier{2, 5, 4, 3}, utf8("Doe, John+Co ")), atv(asn1.ObjectIdentifier{2, 5, 4, 11}, utf8("#1"))},
			`OU=\#1,CN=Doe\, John\+Co\ `},
		// An attribute it does not know stays OID=#hex.
		{pkix.RDNSequence{atv(asn1.ObjectIdentifier{1, 2, 3, 4}, utf8("x"))}, "1.2.3.4=#0c0178"},
	} {
		der, err := asn1.Marshal(c.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := NameString(der); got != c.want {
			t.Errorf("NameString = %q, want %q", got, c.want)
		}
	}
	if got := NameString([]byte{0x30, 0x03}); got != "(unreadable name)" {
		t.Errorf("NameString(truncated) = %q", got)
	}
}
