package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/store"
)

// Two-factor sign-in: an account may add a time-based code (TOTP, RFC
// 6238, what every authenticator app makes) to its password, and
// Options.Require2FA may demand it. The secret is sealed with the master
// key; a code counts once (the last step used is kept); ten recovery
// codes, shown once and kept only as hashes, stand in for a lost phone.
// An admin (or the operator: `sealpost user set --reset-2fa`) turns it
// off for someone who lost both.

// SignInStep is what a sign-in needs after a right password.
type SignInStep string

const (
	// SignedIn: nothing more; the sign-in is complete.
	SignedIn SignInStep = ""
	// NeedCode: a code from the account's authenticator app, or one of
	// its recovery codes (VerifyCode).
	NeedCode SignInStep = store.SessionCode
	// NeedEnrol: two-factor sign-in is required of the account and not
	// set up yet: it may do that and nothing else.
	NeedEnrol SignInStep = store.SessionEnrol
)

// Whose sign-in needs a second factor (Options.Require2FA).
const (
	Require2FAAdmins = "admins"
	Require2FAAll    = "all"
)

// CheckRequire2FA says what is wrong with a Require2FA setting.
func CheckRequire2FA(v string) error {
	switch v {
	case "", Require2FAAdmins, Require2FAAll:
		return nil
	}
	return fmt.Errorf("%w: require_2fa is %q; it takes admins, all, or nothing (each account may choose)", ErrInvalid, v)
}

func (s *Service) requires2FA(role string) bool {
	return s.require2FA == Require2FAAll || (s.require2FA == Require2FAAdmins && role == store.RoleAdmin)
}

// totpOptions are the codes' parameters: six digits every 30 seconds
// from HMAC-SHA-1, which every authenticator app takes from a QR code.
var totpOptions = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpSkew is how many 30-second steps a code may be early or late (a
// phone's clock, the time it takes to type).
const totpSkew = 1

// recoveryCodeCount is how many recovery codes an account gets.
const recoveryCodeCount = 10

// TwoFactor is an account's two-factor sign-in, as its page shows it.
type TwoFactor struct {
	Enabled bool
	// RecoveryLeft counts the recovery codes not used yet.
	RecoveryLeft int
	// Required: Options.Require2FA asks it of the account.
	Required bool
}

// TwoFactor returns the two-factor sign-in of email's account.
func (s *Service) TwoFactor(ctx context.Context, email string) (*TwoFactor, error) {
	a, err := s.account(ctx, email, "see two-factor sign-in")
	if err != nil {
		return nil, err
	}
	tf := &TwoFactor{Enabled: len(a.TOTPSecret) > 0, Required: s.requires2FA(a.Role)}
	if tf.Enabled {
		if tf.RecoveryLeft, err = s.st.RecoveryCodesLeft(ctx, a.ID); err != nil {
			return nil, err
		}
	}
	return tf, nil
}

// self returns the actor's own account: two-factor sign-in is set up by
// the person who will type the codes, never for them.
func (s *Service) self(ctx context.Context, email, what string) (*store.Account, error) {
	a, err := s.account(ctx, email, what)
	if err != nil {
		return nil, err
	}
	if !strings.EqualFold(a.Email, s.actor.Email) {
		return nil, fmt.Errorf("%w: only the account's owner may %s", ErrForbidden, what)
	}
	return a, nil
}

// NewTOTP makes a two-factor secret for the actor's own account, for its
// authenticator app: key.URL() is what the QR code holds, key.Secret()
// what to type instead. It is a new secret, or secret (base32) again when
// given (the same QR code after a mistyped code). Nothing is kept until
// EnableTOTP.
func (s *Service) NewTOTP(ctx context.Context, email, secret string) (*otp.Key, error) {
	a, err := s.self(ctx, email, "set up two-factor sign-in")
	if err != nil {
		return nil, err
	}
	opts := totp.GenerateOpts{Issuer: "Sealpost", AccountName: a.Email, Period: totpOptions.Period,
		Digits: totpOptions.Digits, Algorithm: totpOptions.Algorithm, Rand: s.rand}
	if secret != "" {
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimSpace(secret)))
		if err != nil || len(raw) < 16 {
			return nil, fmt.Errorf("%w: that is not a two-factor secret Sealpost made", ErrInvalid)
		}
		opts.Secret = raw
	}
	return totp.Generate(opts)
}

// EnableTOTP turns two-factor sign-in on for the actor's own account with
// secret (from NewTOTP), once code shows that the app has it. It returns
// the recovery codes, to be shown this once.
func (s *Service) EnableTOTP(ctx context.Context, email, secret, code string) ([]string, error) {
	a, err := s.self(ctx, email, "set up two-factor sign-in")
	if err != nil {
		return nil, err
	}
	secret = strings.ToUpper(strings.TrimSpace(secret))
	now := s.now()
	step, ok := matchTOTP(secret, code, now)
	if !ok {
		return nil, fmt.Errorf("%w: that is not the code your app shows now; type the six digits it shows for Sealpost (and check that the phone's clock is right)", ErrInvalid)
	}
	sealed, err := s.sealer.Seal([]byte(secret), keyring.TOTPLabel(a.ID))
	if err != nil {
		return nil, err
	}
	codes, hashes, err := s.recoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := s.st.SetTOTP(ctx, a.ID, sealed, hashes); err != nil {
		return nil, err
	}
	// The code that turned it on does not sign in as well.
	if _, err := s.st.UseTOTPStep(ctx, a.ID, step); err != nil {
		return nil, err
	}
	return codes, s.audit(ctx, "user.2fa", "", a.Email, "two-factor sign-in on")
}

// DisableTOTP turns two-factor sign-in off for email's account: the
// account itself with its password (unless Require2FA asks it of the
// account), or an admin or the operator for anyone, without one (for
// someone who lost their phone and their recovery codes); that also ends
// the account's sessions.
func (s *Service) DisableTOTP(ctx context.Context, email, password string) error {
	a, err := s.account(ctx, email, "turn two-factor sign-in off")
	if err != nil {
		return err
	}
	own := strings.EqualFold(a.Email, s.actor.Email)
	if own {
		if s.requires2FA(a.Role) {
			return fmt.Errorf("%w: two-factor sign-in is required for your account; you may set it up again with a new phone, but not turn it off", ErrInvalid)
		}
		ok, err := checkPassword(a.PasswordHash, password)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%w: that is not your password", ErrInvalid)
		}
	} else if err := s.requireAdmin("turn off someone else's two-factor sign-in"); err != nil {
		return err
	}
	if len(a.TOTPSecret) == 0 {
		return nil
	}
	if err := s.st.SetTOTP(ctx, a.ID, nil, nil); err != nil {
		return err
	}
	if !own {
		if err := s.st.DeleteAccountSessions(ctx, a.ID); err != nil {
			return err
		}
	}
	return s.audit(ctx, "user.2fa", "", a.Email, "two-factor sign-in off")
}

// VerifyCode completes a sign-in that needed a code (SignIn's NeedCode):
// code is the one the account's app shows now, or one of its recovery
// codes, which then counts as used. A wrong code, one used before, and an
// account without two-factor sign-in are all ErrUnauthenticated.
func (s *Service) VerifyCode(ctx context.Context, accountID int64, code, via string) (Actor, error) {
	a, err := s.st.AccountByID(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, ErrUnauthenticated
	} else if err != nil {
		return Actor{}, err
	}
	if len(a.TOTPSecret) == 0 {
		return Actor{}, ErrUnauthenticated
	}
	actor := actorOf(a, via)
	now := s.now()
	code = strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' {
			return -1
		}
		return r
	}, strings.TrimSpace(code))
	if len(code) == int(totpOptions.Digits) {
		secret, err := s.sealer.Open(a.TOTPSecret, keyring.TOTPLabel(a.ID))
		if err != nil {
			return Actor{}, fmt.Errorf("account %s: two-factor secret: %w", a.Email, err)
		}
		step, ok := matchTOTP(string(secret), code, now)
		if !ok {
			return Actor{}, ErrUnauthenticated
		}
		if fresh, err := s.st.UseTOTPStep(ctx, a.ID, step); err != nil {
			return Actor{}, err
		} else if !fresh {
			return Actor{}, ErrUnauthenticated // a code already used
		}
		return actor, s.recordLogin(ctx, a, actor, "with a two-factor code")
	}
	used, err := s.st.UseRecoveryCode(ctx, a.ID, hashRecoveryCode(code), now)
	if err != nil {
		return Actor{}, err
	}
	if !used {
		return Actor{}, ErrUnauthenticated
	}
	left, err := s.st.RecoveryCodesLeft(ctx, a.ID)
	if err != nil {
		return Actor{}, err
	}
	return actor, s.recordLogin(ctx, a, actor, fmt.Sprintf("with a recovery code (%d left)", left))
}

// matchTOTP reports whether code is secret's code for the time step of
// now, or one step before or after, and which step it is.
func matchTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	period := time.Duration(totpOptions.Period) * time.Second
	for d := -totpSkew; d <= totpSkew; d++ {
		at := now.Add(time.Duration(d) * period)
		want, err := totp.GenerateCodeCustom(secret, at, totpOptions)
		if err != nil {
			return 0, false // not a secret: no code matches
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return at.Unix() / int64(totpOptions.Period), true
		}
	}
	return 0, false
}

// recoveryAlphabet has no letters that read alike (0/o, 1/l/i).
const recoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789"

// recoveryCodes makes an account's recovery codes ("xxxxx-xxxxx", 49
// bits each) and their hashes.
func (s *Service) recoveryCodes() (codes, hashes []string, err error) {
	// Bytes at or past the last whole multiple of the alphabet's size
	// are drawn again, so that every letter is as likely.
	limit := byte(256 / len(recoveryAlphabet) * len(recoveryAlphabet))
	var one [1]byte
	for range recoveryCodeCount {
		b := make([]byte, 0, 10)
		for len(b) < cap(b) {
			if _, err := io.ReadFull(s.rand, one[:]); err != nil {
				return nil, nil, err
			}
			if one[0] < limit {
				b = append(b, recoveryAlphabet[int(one[0])%len(recoveryAlphabet)])
			}
		}
		code := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, code)
		hashes = append(hashes, hashRecoveryCode(code))
	}
	return codes, hashes, nil
}

// hashRecoveryCode is what is kept of a recovery code: the SHA-256 of it
// without its dash, in lower case (as people type it).
func hashRecoveryCode(code string) string {
	h := sha256.Sum256([]byte(strings.ToLower(strings.ReplaceAll(code, "-", ""))))
	return hex.EncodeToString(h[:])
}

// SignInVerified signs in the account of email, whose address an
// identity provider verified (single sign-on: OpenID Connect), via via.
// Without an account, one is made with role when role is set (a random
// password, unknown to anyone: it signs in through the provider); else
// ErrUnauthenticated. issuer names the provider in the audit log. The
// provider's own second factor stands for Sealpost's.
func (s *Service) SignInVerified(ctx context.Context, email, role, issuer, via string) (Actor, error) {
	addr, err := mail.Normalize(email)
	if err != nil {
		return Actor{}, ErrUnauthenticated
	}
	a, err := s.st.Account(ctx, addr)
	if errors.Is(err, store.ErrNotFound) && role != "" {
		password, perr := s.NewPassword()
		if perr != nil {
			return Actor{}, perr
		}
		// Made by the person themselves, as the provider vouched for
		// them: the audit log says so (user.add by that address).
		a, err = s.As(Actor{Email: addr, Role: store.RoleAdmin, Via: via}).AddUser(ctx, addr, role, password)
	}
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, ErrUnauthenticated
	} else if err != nil {
		return Actor{}, err
	}
	actor := actorOf(a, via)
	return actor, s.recordLogin(ctx, a, actor, "through single sign-on ("+issuer+")")
}
