package api

import (
	"net/http"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/obs"
)

// holdContentJSON is a held message read by its moderator (admin.ReadHold).
type holdContentJSON struct {
	holdJSON
	Encrypted   bool                 `json:"encrypted"`
	Signature   string               `json:"signature"`
	Verified    bool                 `json:"verified"`
	Signer      string               `json:"signer"`
	Unreadable  string               `json:"unreadable"`
	Inner       []headerFieldJSON    `json:"inner_headers"`
	Texts       []string             `json:"texts"`
	Attachments []holdAttachmentJSON `json:"attachments"`
}

type headerFieldJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type holdAttachmentJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size int    `json:"size"`
}

func holdContentView(p *admin.HeldPost) holdContentJSON {
	h := p.Hold
	v := holdContentJSON{holdJSON: holdView(&h), Encrypted: p.Encrypted, Signature: p.Signature, Verified: p.Verified,
		Unreadable: p.Unreadable, Inner: []headerFieldJSON{}, Texts: []string{}, Attachments: []holdAttachmentJSON{}}
	v.Size, v.Headers = p.Size, p.Outer
	if p.Signer != nil {
		v.Signer = p.Signer.Fingerprint
	}
	for _, f := range p.Headers {
		v.Inner = append(v.Inner, headerFieldJSON{Name: f.Name, Value: f.Value})
	}
	v.Texts = append(v.Texts, p.Texts...)
	for _, a := range p.Attachments {
		v.Attachments = append(v.Attachments, holdAttachmentJSON{Name: a.Name, Type: a.Type, Size: a.Size})
	}
	return v
}

// holdContent reads a held message: decrypted for this request, audited.
func holdContent(c *call) (any, error) {
	id, err := c.pathID("id")
	if err != nil {
		return nil, err
	}
	p, err := c.svc.ReadHold(c.r.Context(), c.path("list"), id)
	if err != nil {
		return nil, err
	}
	return holdContentView(p), nil
}

// holdDecisionJSON is what became of one held message of a bulk decision.
type holdDecisionJSON struct {
	ID    int64  `json:"id"`
	Done  bool   `json:"done"`
	Error string `json:"error,omitempty"`
}

// maxHoldDecisions is the most held messages one bulk decision names.
const maxHoldDecisions = 500

// decideHolds releases, rejects or discards several held messages.
func decideHolds(c *call) (any, error) {
	var req struct {
		Action string  `json:"action"`
		IDs    []int64 `json:"ids"`
		Reason string  `json:"reason"`
	}
	if err := c.decode(&req); err != nil {
		return nil, err
	}
	if len(req.IDs) > maxHoldDecisions {
		return nil, invalid("at most %d held messages at once; this names %d", maxHoldDecisions, len(req.IDs))
	}
	rs, err := c.svc.DecideHolds(c.r.Context(), c.path("list"), req.Action, req.IDs, req.Reason)
	if err != nil {
		return nil, err
	}
	out := make([]holdDecisionJSON, 0, len(rs))
	done := false
	for _, r := range rs {
		d := holdDecisionJSON{ID: r.ID, Done: r.Err == nil}
		if r.Err != nil {
			d.Error = c.holdError(r.ID, r.Err)
		}
		done = done || d.Done
		out = append(out, d)
	}
	if done && req.Action == admin.HoldRelease && c.opt.Notify != nil {
		c.opt.Notify()
	}
	return out, nil
}

// holdError is the text for a held message a bulk decision could not
// decide: the use case's message, or for an unexpected error a reference
// that the log has with the cause.
func (c *call) holdError(id int64, err error) string {
	ae := classify(err)
	if ae.Status != http.StatusInternalServerError {
		return ae.Message
	}
	ref := obs.Ref()
	c.opt.Logger.Error("held message decision failed", "ref", ref, "hold", id, "err", err)
	return "internal error; the server log has the details under reference " + ref
}

// rejectOne rejects one held message, with the reason for the sender the
// optional JSON body gives.
func rejectOne(c *call, list string, id int64) error {
	var req struct {
		Reason string `json:"reason"`
	}
	if c.r.ContentLength != 0 {
		if err := c.decode(&req); err != nil {
			return err
		}
	}
	return c.svc.RejectHold(c.r.Context(), list, id, req.Reason)
}
