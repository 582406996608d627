package web

import (
	"crypto/x509"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
)

// Changing a list's keys from its page: a new OpenPGP key, announced to
// every member, the old one decrypting for the grace days; a new S/MIME
// certificate (made, or uploaded as PKCS#12), the old one decrypting for
// the grace days too.

// graceDays reads the form's grace_days (admin.DefaultGrace when empty).
func (q *request) graceDays() (time.Duration, error) {
	v := strings.TrimSpace(q.r.PostFormValue("grace_days"))
	if v == "" {
		return admin.DefaultGrace, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 365 {
		return 0, fmt.Errorf("%w: grace days %q: give a number of days from 0 to 365", admin.ErrInvalid, v)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

func rotateListKey(q *request) (*done, error) {
	algo, err := pgp.ParseAlgorithm(q.r.PostFormValue("key_algo"))
	if err != nil {
		return nil, fmt.Errorf("%w: key algorithm: %v", admin.ErrInvalid, err)
	}
	grace, err := q.graceDays()
	if err != nil {
		return nil, err
	}
	r, err := q.svc.RotateListKey(q.r.Context(), q.list(), algo, grace)
	if err != nil {
		return nil, err
	}
	q.notify()
	msg := fmt.Sprintf("The list has a new key, %s, announced to %d members. The old key reads posts until %s.",
		crypto.FormatFingerprint(r.New.Fingerprint), r.Announced, r.DecryptUntil.UTC().Format(time.DateOnly))
	if len(r.Unreachable) > 0 {
		msg += fmt.Sprintf(" Not told (no usable key): %s.", strings.Join(r.Unreachable, ", "))
	}
	return &done{listPath(q.list()), msg}, nil
}

func replaceCertificate(q *request) (*done, error) {
	grace, err := q.graceDays()
	if err != nil {
		return nil, err
	}
	var id *smime.Identity
	switch q.r.PostFormValue("smime") {
	case "generate":
		l, err := q.svc.List(q.r.Context(), q.list())
		if err != nil {
			return nil, err
		}
		if id, err = smime.GenerateIdentity(l.Name, l.Address, time.Now(), nil); err != nil {
			return nil, err
		}
	case "upload":
		p12, err := q.uploaded("smime_p12")
		if err != nil {
			return nil, err
		}
		if len(p12) == 0 {
			return nil, fmt.Errorf("%w: choose the PKCS#12 file (.p12 or .pfx) with the list's new certificate and key", admin.ErrInvalid)
		}
		if id, err = smime.ParsePKCS12(p12, q.r.PostFormValue("smime_password")); err != nil {
			return nil, fmt.Errorf("%w: the PKCS#12 file: %v (is the password right?)", admin.ErrInvalid, err)
		}
	default:
		return nil, fmt.Errorf("%w: make a certificate or upload one", admin.ErrInvalid)
	}
	l, err := q.svc.ReplaceSMIMEIdentity(q.r.Context(), q.list(), id, grace)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(l.SMIMECert)
	if err != nil {
		return nil, err
	}
	return &done{listPath(q.list()), fmt.Sprintf("The list's S/MIME certificate is now %s; one it replaced reads posts for %d more days.",
		crypto.FormatFingerprint(smime.Fingerprint(c)), int(grace/(24*time.Hour)))}, nil
}
