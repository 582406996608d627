package web

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store"
)

// keyRoutes registers the keys pages and their forms.
func (s *server) keyRoutes(mux *http.ServeMux) {
	s.page(mux, "GET /keys", keysPage)
	s.action(mux, "POST /keys/import", importKeys, keysPage)
	s.action(mux, "POST /keys/anchors/{fingerprint}/remove", removeAnchor, keysPage)
	s.page(mux, "GET /keys/{fingerprint}", keyPage)
	s.page(mux, "GET /keys/{fingerprint}/download", keyFile)
	s.page(mux, "GET /keys/{fingerprint}/fingerprint.txt", keyFingerprintFile)
	s.action(mux, "POST /keys/{fingerprint}/delete", deleteKey, keyPage)
}

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
		// Subjects by attribute name with their text (emailAddress, not
		// its OID); serials grouped like fingerprints, so they wrap.
		r.Chain = append(r.Chain, certRow{Subject: smime.NameString(c.RawSubject), Issuer: smime.NameString(c.RawIssuer),
			Serial:      crypto.FormatFingerprint(strings.ToUpper(c.SerialNumber.Text(16))),
			Fingerprint: smime.Fingerprint(c), NotBefore: c.NotBefore, NotAfter: c.NotAfter, CA: c.IsCA})
	}
	return r
}

// keysData is the keys page: a search and the keyring listed (all of it
// for an admin, the keys of their lists for anyone else); for an admin
// also the import form, and the trust anchors and CRLs.
type keysData struct {
	Query   string
	Keys    []keyRow
	Problem string // why the search found nothing
	Admin   bool
	Listing keyListing
	Anchors []admin.TrustAnchor
	CRLs    []admin.CRLView
}

// keyListing is a page of the keyring with its filter and its pager.
type keyListing struct {
	Address, Engine, Status string
	Statuses                []string
	Keys                    []keyRow
	First, Last, Total      int // 1-based positions of the page's keys
	PerPage                 int
	Prev, Next              string // links, "" at either end
}

func keysPage(q *request) error {
	ctx := q.r.Context()
	d := keysData{Query: strings.TrimSpace(q.r.URL.Query().Get("q")), Admin: q.isAdmin()}
	if d.Query != "" {
		ds, err := q.svc.FindKey(ctx, d.Query)
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
	var err error
	if d.Listing, err = listKeys(q); err != nil {
		return err
	}
	if d.Admin {
		if d.Anchors, err = q.svc.GlobalTrustAnchors(ctx); err != nil {
			return err
		}
		if d.CRLs, err = q.svc.CRLs(ctx); err != nil {
			return err
		}
	}
	return q.render("keys", "Keys", "keys", d)
}

// listKeys is the page of the keyring the query's address, engine,
// status and offset select.
func listKeys(q *request) (keyListing, error) {
	v := q.r.URL.Query()
	kq := admin.KeyQuery{Address: strings.TrimSpace(v.Get("address")), Engine: v.Get("engine"), Status: v.Get("status")}
	if o := v.Get("offset"); o != "" {
		n, err := strconv.Atoi(o)
		if err != nil || n < 0 {
			return keyListing{}, fmt.Errorf("%w: offset %q is not a number of keys", admin.ErrInvalid, o)
		}
		kq.Offset = n
	}
	l, err := q.svc.ListKeys(q.r.Context(), kq)
	if err != nil {
		return keyListing{}, err
	}
	out := keyListing{Address: kq.Address, Engine: kq.Engine, Status: kq.Status, Statuses: admin.KeyStatuses,
		Total: l.Total, PerPage: l.Limit, First: l.Offset + 1, Last: l.Offset + len(l.Keys)}
	for _, k := range l.Keys {
		out.Keys = append(out.Keys, keyView(k, q.svc.Now()))
	}
	link := func(offset int) string {
		p := url.Values{}
		for k, val := range map[string]string{"address": kq.Address, "engine": kq.Engine, "status": kq.Status} {
			if val != "" {
				p.Set(k, val)
			}
		}
		if offset > 0 {
			p.Set("offset", strconv.Itoa(offset))
		}
		if len(p) == 0 {
			return "/keys#keyring"
		}
		return "/keys?" + p.Encode() + "#keyring"
	}
	if l.Offset > 0 {
		out.Prev = link(max(l.Offset-l.Limit, 0))
	}
	if l.Offset+len(l.Keys) < l.Total {
		out.Next = link(l.Offset + l.Limit)
	}
	return out, nil
}

// importKeys imports the uploaded file: keys and certificates (PKCS#12
// with its password), CA certificates as trust anchors, or CRLs.
func importKeys(q *request) (*done, error) {
	if err := q.svc.CheckAdmin("import into the keyring"); err != nil {
		return nil, err
	}
	data, err := q.uploaded("file")
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: choose the file to import", admin.ErrInvalid)
	}
	name := q.r.MultipartForm.File["file"][0].Filename
	ctx := q.r.Context()
	switch kind := q.r.PostFormValue("kind"); kind {
	case "anchor":
		as, err := q.svc.AddGlobalTrustAnchors(ctx, data)
		if err != nil {
			return nil, err
		}
		names := make([]string, len(as))
		for i, a := range as {
			names[i] = a.Subject
		}
		return &done{to: "/keys#trust", msg: "Every list now trusts " + strings.Join(names, "; ") + "."}, nil
	case "crl":
		views, err := q.svc.AddCRLs(ctx, data)
		if err != nil {
			return nil, err
		}
		msgs := make([]string, len(views))
		for i, v := range views {
			msgs[i] = fmt.Sprintf("the CRL of %s (%d revoked, next update %s)", v.Issuer, v.Entries, cmp.Or(v.NextUpdate, "not given"))
		}
		return &done{to: "/keys#trust", msg: "Loaded " + strings.Join(msgs, "; ") + "."}, nil
	case "", "keys":
		return importKeyFile(q, name, data)
	default:
		return nil, fmt.Errorf("%w: unknown kind of file %q", admin.ErrInvalid, kind)
	}
}

// importKeyFile imports the keys and certificates of one file into the
// keyring and says what became of each.
func importKeyFile(q *request, name string, data []byte) (*done, error) {
	password := q.r.PostFormValue("password")
	ext := strings.ToLower(filepath.Ext(name))
	if password == "" && (ext == ".p12" || ext == ".pfx" || smime.IsPKCS12PEM(data)) {
		return nil, fmt.Errorf("%w: the file %s is PKCS#12: give its password", admin.ErrInvalid, name)
	}
	rs, err := q.svc.ImportKeys(q.r.Context(), name, data, admin.ImportOptions{
		Passphrase: func(string) ([]byte, error) { return []byte(password), nil }})
	if err != nil {
		return nil, err
	}
	var ok, refused []string
	for _, r := range rs {
		what := strings.Join(r.Addresses, ", ")
		if what == "" {
			what = cmp.Or(crypto.FormatFingerprint(r.Fingerprint), name)
		}
		if r.Outcome == admin.Refused {
			refused = append(refused, what+": "+r.Reason)
			continue
		}
		ok = append(ok, what+" ("+string(r.Outcome)+")")
	}
	if len(ok) == 0 {
		return nil, fmt.Errorf("%w: nothing was imported: %s", admin.ErrInvalid, strings.Join(refused, "; "))
	}
	msg := "Imported " + summary(ok)
	if len(refused) > 0 {
		msg += "; refused " + summary(refused)
	}
	return &done{to: "/keys", msg: msg + "."}, nil
}

// summary joins the first few items of a report and counts the rest.
func summary(items []string) string {
	const shown = 5
	if len(items) <= shown {
		return strings.Join(items, "; ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(items[:shown], "; "), len(items)-shown)
}

func removeAnchor(q *request) (*done, error) {
	fpr := q.r.PathValue("fingerprint")
	if err := q.svc.RemoveGlobalTrustAnchor(q.r.Context(), fpr); err != nil {
		return nil, err
	}
	return &done{to: "/keys#trust", msg: "Lists no longer trust " + crypto.FormatFingerprint(fpr) + "."}, nil
}

func deleteKey(q *request) (*done, error) {
	fpr := q.r.PathValue("fingerprint")
	if err := q.svc.DeleteKey(q.r.Context(), fpr); err != nil {
		return nil, err
	}
	return &done{to: "/keys", msg: "Deleted " + crypto.FormatFingerprint(fpr) + " from the keyring."}, nil
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

// keyData is the key page.
type keyData struct {
	keyRow
	Admin bool // may delete it
}

func keyPage(q *request) error {
	d, err := q.oneKey()
	if err != nil {
		return err
	}
	return q.render("key", crypto.FormatFingerprint(d.Fingerprint), "keys", keyData{keyRow: keyView(d, q.svc.Now()), Admin: q.isAdmin()})
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
