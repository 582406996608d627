package web

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
)

// keyRow is a key of the keyring as the pages show it.
type keyRow struct {
	admin.KeyDetails
	Badge, StatusText string
	Chain             []certRow
}

// certRow is one certificate of an S/MIME chain.
type certRow struct {
	Subject, Issuer, Serial, Fingerprint string
	NotBefore, NotAfter                  time.Time
	CA                                   bool
}

func keyView(d admin.KeyDetails, now time.Time) keyRow {
	r := keyRow{KeyDetails: d}
	switch d.Status {
	case keyring.Usable:
		r.Badge, r.StatusText = admin.BadgeValid, "usable"
		if !d.Info.Expires.IsZero() && d.Info.Expires.Before(now.Add(admin.ExpiringWithin)) {
			r.Badge, r.StatusText = admin.BadgeExpiring, "usable, expires soon"
		}
	case keyring.KeyExpired:
		r.Badge, r.StatusText = admin.BadgeExpired, "expired"
	case keyring.KeyRevoked:
		r.Badge, r.StatusText = admin.BadgeRevoked, "revoked"
	default:
		r.Badge, r.StatusText = "unusable", strings.ToLower(d.Status.String())
	}
	for _, c := range d.Chain {
		r.Chain = append(r.Chain, certRow{Subject: c.Subject.String(), Issuer: c.Issuer.String(), Serial: strings.ToUpper(c.SerialNumber.Text(16)),
			Fingerprint: smime.Fingerprint(c), NotBefore: c.NotBefore, NotAfter: c.NotAfter, CA: c.IsCA})
	}
	return r
}

// keysData is the key search page.
type keysData struct {
	Query   string
	Keys    []keyRow
	Problem string // why the search found nothing
}

func keysPage(q *request) error {
	d := keysData{Query: strings.TrimSpace(q.r.URL.Query().Get("q"))}
	if d.Query != "" {
		ds, err := q.svc.FindKey(q.r.Context(), d.Query)
		switch {
		case errors.Is(err, admin.ErrNotFound):
			d.Problem = "No key or certificate you may see matches " + d.Query + "."
		case errors.Is(err, admin.ErrInvalid):
			d.Problem = userMessage(err)
		case err != nil:
			return err
		}
		for _, k := range ds {
			d.Keys = append(d.Keys, keyView(k, q.svc.Now()))
		}
	}
	return q.render("keys", "Keys", "keys", d)
}

// oneKey finds the key the path's fingerprint names.
func (q *request) oneKey() (admin.KeyDetails, error) {
	fpr := q.r.PathValue("fingerprint")
	ds, err := q.svc.FindKey(q.r.Context(), fpr)
	if err != nil {
		return admin.KeyDetails{}, err
	}
	if len(ds) != 1 {
		return admin.KeyDetails{}, fmt.Errorf("%w: %s matches %d keys; give the full fingerprint", admin.ErrInvalid, fpr, len(ds))
	}
	return ds[0], nil
}

func keyPage(q *request) error {
	d, err := q.oneKey()
	if err != nil {
		return err
	}
	return q.render("key", crypto.FormatFingerprint(d.Fingerprint), "keys", keyView(d, q.svc.Now()))
}

func keyFile(q *request) error {
	d, err := q.oneKey()
	if err != nil {
		return err
	}
	data, err := q.svc.ExportKey(q.r.Context(), d.Fingerprint, false)
	if err != nil {
		return err
	}
	if d.Engine == store.EngineSMIME {
		return q.download("application/x-pem-file", d.Fingerprint+".pem", data)
	}
	return q.download("application/pgp-keys", d.Fingerprint+".asc", data)
}

func keyFingerprintFile(q *request) error {
	d, err := q.oneKey()
	if err != nil {
		return err
	}
	return q.download("text/plain; charset=utf-8", d.Fingerprint+".fingerprint.txt", []byte(crypto.FormatFingerprint(d.Fingerprint)+"\n"))
}
