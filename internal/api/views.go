package api

import (
	"crypto/x509"
	"time"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/crypto"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/store"
)

// The JSON shapes of the API's resources. Field names are part of the
// API's contract (openapi.json documents them).

type keyJSON struct {
	Engine      string   `json:"engine"`
	Fingerprint string   `json:"fingerprint"`
	Algorithm   string   `json:"algorithm,omitempty"`
	Addresses   []string `json:"addresses"`
	Created     *string  `json:"created"`
	Expires     *string  `json:"expires"`
	Revoked     bool     `json:"revoked"`
	CanEncrypt  bool     `json:"can_encrypt"`
	CanSign     bool     `json:"can_sign"`
	PostQuantum bool     `json:"post_quantum"`
	Notes       []string `json:"notes,omitempty"`
}

func keyView(info crypto.KeyInfo) keyJSON {
	addrs := info.Addresses
	if addrs == nil {
		addrs = []string{}
	}
	return keyJSON{Engine: string(info.Engine), Fingerprint: info.Fingerprint, Algorithm: info.Algorithm, Addresses: addrs,
		Created: stamp(info.Created), Expires: stamp(info.Expires), Revoked: info.Revoked, CanEncrypt: info.CanEncrypt, CanSign: info.CanSign,
		PostQuantum: info.PostQuantum, Notes: info.Notes}
}

type listJSON struct {
	Address   string            `json:"address"`
	Mode      string            `json:"mode"`
	Name      string            `json:"name"`
	Owner     string            `json:"owner"`
	Key       *keyJSON          `json:"key"`
	SMIME     *keyJSON          `json:"smime_certificate"`
	SMIMEKEM  *keyJSON          `json:"smime_kem_certificate"`
	Options   map[string]string `json:"options"`
	CreatedAt *string           `json:"created_at"`
}

func listView(svc *admin.Service, l *store.List) listJSON {
	v := listJSON{Address: l.Address, Mode: store.ModeList, Name: l.Name, Owner: l.Owner, Options: map[string]string{},
		CreatedAt: stamp(l.CreatedAt)}
	if l.IsGateway() {
		v.Mode = store.ModeGateway
	}
	if info, err := svc.KeyInfo(l); err == nil {
		k := keyView(info)
		v.Key = &k
	}
	if c, err := x509.ParseCertificate(l.SMIMECert); err == nil {
		k := keyView(smime.CertInfo(c))
		v.SMIME = &k
	}
	if c, err := x509.ParseCertificate(l.SMIMEKEMCert); err == nil {
		k := keyView(smime.CertInfo(c))
		v.SMIMEKEM = &k
	}
	for _, o := range admin.OptionsFor(l) {
		v.Options[o.Name] = o.Value(l)
	}
	return v
}

type memberKeyJSON struct {
	keyJSON
	Source string `json:"source"`
	Badge  string `json:"badge"`
}

type memberJSON struct {
	Email      string          `json:"email"`
	Admin      bool            `json:"admin"`
	Format     string          `json:"format"`
	Badge      string          `json:"badge"`
	Copies     string          `json:"copies"`
	Keys       []memberKeyJSON `json:"keys"`
	Disabled   *string         `json:"delivery_disabled"`
	DisabledBy string          `json:"delivery_disabled_reason,omitempty"`
	// SMIMECipher and SMIMEKeyTransport are the member's S/MIME
	// settings, "auto" when they follow their client and the list.
	SMIMECipher       string  `json:"smime_cipher"`
	SMIMEKeyTransport string  `json:"smime_keytransport"`
	CreatedAt         *string `json:"created_at"`
}

func memberView(m admin.MemberView, now time.Time) memberJSON {
	v := memberJSON{Email: m.Email, Admin: m.Admin, Format: m.Format, Badge: m.Badge(now), Copies: m.Copies(), Keys: []memberKeyJSON{},
		Disabled: stamp(m.DisabledAt), DisabledBy: m.DisabledReason, CreatedAt: stamp(m.CreatedAt),
		SMIMECipher:       admin.MemberSettingValue(m.Member, "smime_cipher"),
		SMIMEKeyTransport: admin.MemberSettingValue(m.Member, "smime_keytransport")}
	if v.Format == "" {
		v.Format = "auto"
	}
	for i, mk := range m.Member.Keys {
		info := m.Keys[i]
		if info.Fingerprint == "" {
			info.Fingerprint, info.Engine = mk.Fingerprint, crypto.Engine(mk.Engine)
		}
		v.Keys = append(v.Keys, memberKeyJSON{keyJSON: keyView(info), Source: mk.Source, Badge: admin.KeyBadge(info, m.Email, now)})
	}
	return v
}

type holdJSON struct {
	ID        int64             `json:"id"`
	Ref       string            `json:"ref"`
	Sender    string            `json:"sender"`
	Reason    string            `json:"reason"`
	Size      int               `json:"size"`
	Headers   map[string]string `json:"headers"`
	CreatedAt *string           `json:"created_at"`
}

func holdView(h *store.Hold) holdJSON {
	return holdJSON{ID: h.ID, Ref: h.Ref, Sender: h.EnvelopeFrom, Reason: h.Reason, Size: len(h.Raw),
		Headers: admin.HoldHeaders(h), CreatedAt: stamp(h.CreatedAt)}
}

type deliveryJSON struct {
	ID          int64   `json:"id"`
	List        string  `json:"list"`
	Kind        string  `json:"kind"`
	To          string  `json:"to"`
	State       string  `json:"state"`
	Attempts    int     `json:"attempts"`
	NextAttempt *string `json:"next_attempt"`
	LastError   string  `json:"last_error"`
	Size        int     `json:"size"`
	Ref         string  `json:"ref"`
	CreatedAt   *string `json:"created_at"`
	PurgedAt    *string `json:"purged_at"`
}

func deliveryView(d admin.QueueItem) deliveryJSON {
	v := deliveryJSON{ID: d.ID, List: d.List, Kind: d.Kind, To: d.To, State: string(d.State), Attempts: d.Attempts,
		LastError: d.LastError, Size: d.Size, Ref: d.Ref, CreatedAt: stamp(d.CreatedAt), PurgedAt: stamp(d.Purged)}
	if d.State == store.Pending {
		v.NextAttempt = stamp(d.NextAttempt)
	}
	return v
}

type auditJSON struct {
	ID     int64   `json:"id"`
	At     *string `json:"at"`
	Actor  string  `json:"actor"`
	Via    string  `json:"via"`
	Action string  `json:"action"`
	List   string  `json:"list"`
	Target string  `json:"target"`
	Detail string  `json:"detail"`
}

func auditView(e store.AuditEntry) auditJSON {
	return auditJSON{ID: e.ID, At: stamp(e.At), Actor: e.Actor, Via: e.Via, Action: e.Action, List: e.List, Target: e.Target, Detail: e.Detail}
}

// statusJSON is the installation's state (admin.Status); its field
// names are those of `sealpost status --json`.
type statusJSON struct {
	Database string         `json:"database"`
	Nodes    []nodeJSON     `json:"nodes"`
	Queue    map[string]int `json:"queue"`
	Jobs     []jobRunJSON   `json:"jobs"`
}

type nodeJSON struct {
	ID        string  `json:"id"`
	Hostname  string  `json:"hostname"`
	PID       int64   `json:"pid"`
	Version   string  `json:"version"`
	SMTP      string  `json:"smtp"`
	StartedAt *string `json:"started_at"`
	SeenAt    *string `json:"seen_at"`
	Holds     int     `json:"holds"`
}

type jobRunJSON struct {
	Name    string  `json:"name"`
	LastRun *string `json:"last_run"`
	Node    string  `json:"node"`
}

// statusView shows every delivery state in the queue, those with no
// delivery as 0.
func statusView(st *admin.Status) statusJSON {
	out := statusJSON{Database: st.Database, Nodes: make([]nodeJSON, 0, len(st.Nodes)), Jobs: make([]jobRunJSON, 0, len(st.Jobs)),
		Queue: map[string]int{string(store.Pending): 0, string(store.Failed): 0, string(store.Sent): 0}}
	for _, n := range st.Nodes {
		out.Nodes = append(out.Nodes, nodeJSON{ID: n.ID, Hostname: n.Hostname, PID: n.PID, Version: n.Version, SMTP: n.SMTP,
			StartedAt: stamp(n.StartedAt), SeenAt: stamp(n.SeenAt), Holds: n.Holds})
	}
	for state, n := range st.Queue {
		out.Queue[string(state)] = n
	}
	for _, j := range st.Jobs {
		out.Jobs = append(out.Jobs, jobRunJSON{Name: j.Name, LastRun: stamp(j.LastRun), Node: j.Node})
	}
	return out
}

type userJSON struct {
	Email     string  `json:"email"`
	Role      string  `json:"role"`
	CreatedAt *string `json:"created_at"`
	LastLogin *string `json:"last_login"`
}

func userView(a *store.Account) userJSON {
	return userJSON{Email: a.Email, Role: a.Role, CreatedAt: stamp(a.CreatedAt), LastLogin: stamp(a.LastLogin)}
}

type tokenJSON struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	List      string  `json:"list"`
	CreatedAt *string `json:"created_at"`
	LastUsed  *string `json:"last_used"`
	// Token is the secret, in the response that creates it only.
	Token string `json:"token,omitempty"`
}

func tokenView(t admin.TokenView) tokenJSON {
	return tokenJSON{ID: t.ID, Name: t.Name, List: t.List, CreatedAt: stamp(t.CreatedAt), LastUsed: stamp(t.LastUsed)}
}

type keyDetailsJSON struct {
	keyJSON
	Status string     `json:"status"`
	Users  []string   `json:"users"`
	Lists  []string   `json:"lists"`
	Chain  []certJSON `json:"certificate_chain,omitempty"`
	Trust  string     `json:"chain_status,omitempty"`
	Weak   string     `json:"weak,omitempty"`
}

type certJSON struct {
	Subject     string  `json:"subject"`
	Issuer      string  `json:"issuer"`
	Serial      string  `json:"serial"`
	Fingerprint string  `json:"fingerprint"`
	NotBefore   *string `json:"not_before"`
	NotAfter    *string `json:"not_after"`
	CA          bool    `json:"ca"`
}

func keyDetailsView(d admin.KeyDetails) keyDetailsJSON {
	v := keyDetailsJSON{keyJSON: keyView(d.Info), Status: d.Status.String(), Users: d.Users, Lists: d.Lists}
	if v.Users == nil {
		v.Users = []string{}
	}
	if v.Lists == nil {
		v.Lists = []string{}
	}
	for _, c := range d.Chain {
		v.Chain = append(v.Chain, certJSON{Subject: smime.NameString(c.RawSubject), Issuer: smime.NameString(c.RawIssuer), Serial: c.SerialNumber.Text(16),
			Fingerprint: smime.Fingerprint(c), NotBefore: stamp(c.NotBefore), NotAfter: stamp(c.NotAfter), CA: c.IsCA})
	}
	v.Trust, v.Weak = d.ChainStatus, d.Weak
	return v
}

type templateJSON struct {
	Name   string `json:"name"`
	Lang   string `json:"lang"`
	Custom bool   `json:"custom"`
	Fields string `json:"fields"`
	Text   string `json:"text,omitempty"`
}

type threadJSON struct {
	ID        string  `json:"id"`
	Encrypted bool    `json:"encrypted"`
	Messages  int     `json:"messages"`
	Tag       string  `json:"tag,omitempty"`
	CreatedAt *string `json:"created_at"`
	UpdatedAt *string `json:"updated_at"`
}

type importJSON struct {
	Engine      string   `json:"engine"`
	Fingerprint string   `json:"fingerprint"`
	Addresses   []string `json:"addresses"`
	Outcome     string   `json:"outcome"`
	Reason      string   `json:"reason,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}
