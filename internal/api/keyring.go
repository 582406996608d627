package api

import (
	"net/http"

	"github.com/sealpost/sealpost/internal/admin"
)

// keyringJSON is one page of the keyring.
type keyringJSON struct {
	Keys   []keyDetailsJSON `json:"keys"`
	Total  int              `json:"total"`
	Offset int              `json:"offset"`
	Limit  int              `json:"limit"`
	// NextOffset is the offset of the next page; null on the last.
	NextOffset *int `json:"next_offset"`
}

// trustAnchorJSON is a certification authority every list trusts.
type trustAnchorJSON struct {
	Fingerprint string  `json:"fingerprint"`
	Subject     string  `json:"subject"`
	NotBefore   *string `json:"not_before"`
	NotAfter    *string `json:"not_after"`
	Source      string  `json:"source"`
}

// crlJSON is a loaded certificate revocation list.
type crlJSON struct {
	Issuer     string  `json:"issuer"`
	ThisUpdate *string `json:"this_update"`
	NextUpdate *string `json:"next_update"`
	Revoked    int     `json:"revoked"`
	Source     string  `json:"source"`
}

func crlsView(vs []admin.CRLView) []crlJSON {
	out := make([]crlJSON, 0, len(vs))
	for _, v := range vs {
		out = append(out, crlJSON{Issuer: v.Issuer, ThisUpdate: stamp(v.CRL.ThisUpdate), NextUpdate: stamp(v.CRL.NextUpdate), Revoked: v.Entries, Source: v.Source})
	}
	return out
}

func anchorsView(as []admin.TrustAnchor) []trustAnchorJSON {
	out := make([]trustAnchorJSON, 0, len(as))
	for _, a := range as {
		out = append(out, trustAnchorJSON{Fingerprint: a.Fingerprint, Subject: a.Subject, NotBefore: stamp(a.Cert.NotBefore),
			NotAfter: stamp(a.Cert.NotAfter), Source: a.Source})
	}
	return out
}

func keyring(c *call) (any, error) {
	q := c.r.URL.Query()
	offset, err := c.queryInt("offset", 0)
	if err != nil {
		return nil, err
	}
	limit, err := c.queryInt("limit", admin.KeysPerPage)
	if err != nil {
		return nil, err
	}
	l, err := c.svc.ListKeys(c.r.Context(), admin.KeyQuery{Address: q.Get("address"), Engine: q.Get("engine"), Status: q.Get("status"),
		Offset: offset, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := keyringJSON{Keys: make([]keyDetailsJSON, 0, len(l.Keys)), Total: l.Total, Offset: l.Offset, Limit: l.Limit}
	for _, d := range l.Keys {
		out.Keys = append(out.Keys, keyDetailsView(d))
	}
	if next := l.Offset + len(l.Keys); next < l.Total {
		out.NextOffset = &next
	}
	return out, nil
}

func trustAnchors(c *call) (any, error) {
	as, err := c.svc.GlobalTrustAnchors(c.r.Context())
	if err != nil {
		return nil, err
	}
	return anchorsView(as), nil
}

func addTrustAnchors(c *call) (any, error) {
	data, err := c.adminUpload("change the installation's trust anchors")
	if err != nil {
		return nil, err
	}
	as, err := c.svc.AddGlobalTrustAnchors(c.r.Context(), data)
	if err != nil {
		return nil, err
	}
	return anchorsView(as), nil
}

func removeTrustAnchor(c *call) (any, error) {
	return nil, c.svc.RemoveGlobalTrustAnchor(c.r.Context(), c.path("fingerprint"))
}

func crls(c *call) (any, error) {
	vs, err := c.svc.CRLs(c.r.Context())
	if err != nil {
		return nil, err
	}
	return crlsView(vs), nil
}

func addCRLs(c *call) (any, error) {
	data, err := c.adminUpload("load CRLs")
	if err != nil {
		return nil, err
	}
	vs, err := c.svc.AddCRLs(c.r.Context(), data)
	if err != nil {
		return nil, err
	}
	return crlsView(vs), nil
}

// adminUpload reads an uploaded file (keyUpload) for an admin only:
// anyone else is refused before the body is read.
func (c *call) adminUpload(what string) ([]byte, error) {
	if err := c.svc.CheckAdmin(what); err != nil {
		return nil, err
	}
	data, _, _, err := c.keyUpload()
	return data, err
}

// keyInUse is the refusal to delete a key in use, naming its users.
func keyInUse(e *admin.KeyInUseError) *Error {
	return &Error{http.StatusConflict, "in_use", e.Error()}
}
