package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// MemberSettings returns the settings of a member that `member set`,
// the admin UI's member row and the API change, each with the values it
// takes, in the order shown.
func MemberSettings() []MemberSetting {
	return []MemberSetting{
		{"delivery", []string{"on", "off"}},
		{"admin", []string{"on", "off"}},
		{"format", []string{"auto", store.FormatPGPMIME, store.FormatInline, store.FormatSMIME}},
		{"smime_cipher", append([]string{"auto"}, smime.CipherNames()...)},
		{"smime_keytransport", append([]string{"auto"}, smime.KeyTransportNames()...)},
	}
}

// MemberSetting is one setting of a member and the values it takes.
type MemberSetting struct {
	Name    string
	Choices []string
}

// SetMember sets one of a member's MemberSettings by name: the one
// entry of `member set`, the UI and the API.
func (s *Service) SetMember(ctx context.Context, list, email, name, value string) error {
	// Access to the list first: someone who may not manage it learns
	// nothing, not even what was wrong with the request.
	if _, err := s.List(ctx, list); err != nil {
		return err
	}
	set := map[string]func(context.Context, string, string, string) error{
		"delivery": s.SetMemberDelivery, "admin": s.SetMemberAdmin, "format": s.SetMemberFormat,
		"smime_cipher": s.SetMemberCipher, "smime_keytransport": s.SetMemberKeyTransport,
	}[name]
	if set == nil {
		names := make([]string, 0, 5)
		for _, m := range MemberSettings() {
			names = append(names, m.Name)
		}
		return fmt.Errorf("%w: %q is not a member setting (%s)", ErrInvalid, name, strings.Join(names, ", "))
	}
	return set(ctx, list, email, value)
}

// MemberSettingValue is the current value of a member's setting name,
// as SetMember takes it.
func MemberSettingValue(m store.Member, name string) string {
	onOff := func(b bool) string {
		if b {
			return "on"
		}
		return "off"
	}
	switch name {
	case "delivery":
		return onOff(m.DisabledAt.IsZero())
	case "admin":
		return onOff(m.Admin)
	case "format":
		return orDefault(m.Format, "auto")
	case "smime_cipher":
		return orDefault(m.SMIMECipher, "auto")
	case "smime_keytransport":
		return orDefault(m.SMIMEKeyTransport, "auto")
	}
	return ""
}

// SetMemberAdmin makes a member a list admin ("on": they may send the
// request keywords only admins may, and post to an announcement list)
// or an ordinary member ("off").
func (s *Service) SetMemberAdmin(ctx context.Context, list, email, value string) error {
	l, addr, err := s.memberOf(ctx, list, email)
	if err != nil {
		return err
	}
	if value != "on" && value != "off" {
		return fmt.Errorf("%w: admin %q is not on or off", ErrInvalid, value)
	}
	if err := s.st.SetMemberAdmin(ctx, l.ID, addr, value == "on"); err != nil {
		return err
	}
	return s.audit(ctx, "member.set", l.Address, addr, "admin="+value)
}
