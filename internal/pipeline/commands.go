package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"strings"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/policy"
	"github.com/sealpost/sealpost/internal/store"
)

// Commands runs the keywords of an authenticated member's request
// (Schleuder's X-SUBSCRIBE, X-LIST-KEYS, ...) and returns the reply to
// send them. It is given the request's text after the keywords and the
// OpenPGP keys attached to it.
type Commands interface {
	RunCommands(ctx context.Context, list *store.List, sender string, req Request) (reply Reply, err error)
	// AnswerSubscription answers, by mail, the challenge of a request
	// to join with its code: the person joins (with the welcome), or
	// the request waits for an owner.
	AnswerSubscription(ctx context.Context, code string) error
}

// SetCommands gives the pipeline what runs members' requests; the admin
// use cases, which are built after it, do.
func (p *Pipeline) SetCommands(c Commands) { p.opt.Commands = c }

// Request is a member's request by mail: its keywords, the text after
// them, and the keys it carries.
type Request struct {
	Keywords []mail.Keyword
	Text     string   // the text after the keywords
	Keys     [][]byte // OpenPGP keys attached or pasted (X-ADD-KEY)
}

// Reply is what a request's sender is sent back, encrypted to them.
type Reply struct {
	Text        string
	Attachments []Attachment
	// Deliveries are further messages the request caused (a new
	// member's welcome), committed with the reply, in the request's one
	// transaction.
	Deliveries []store.Delivery
}

// maxRequestText bounds the text of a request read for keywords.
const maxRequestText = 1 << 20

// hasKeywords reports whether the content's text starts with keywords.
func hasKeywords(content *mime.Part) bool {
	kws, _ := mail.ParseKeywords(requestText(content))
	return len(kws) > 0
}

// listNames are the list addresses an X-LIST-NAME line at the top of the
// content names (Schleuder's keyword), which bind it to that list
// (DESIGN §4.4).
func listNames(content *mime.Part) []string {
	kws, _ := mail.ParseKeywords(requestText(content))
	var out []string
	for _, kw := range kws {
		if kw.Name == "LIST-NAME" {
			for _, a := range kw.Args {
				if n, err := mail.Normalize(strings.Trim(a, "<>,")); err == nil {
					out = append(out, n)
				}
			}
		}
	}
	return out
}

// requestText is the first text/plain part of the content, decoded.
func requestText(part *mime.Part) string {
	if part.IsMultipart() {
		for _, c := range part.Children {
			if t := requestText(c); t != "" {
				return t
			}
		}
		return ""
	}
	if part.MediaType != "text/plain" {
		return ""
	}
	body, err := part.Decoded(maxRequestText)
	if err != nil {
		return ""
	}
	return string(body)
}

// attachedKeys are the OpenPGP keys in the content: application/pgp-keys
// parts and every armored key block in text parts.
func attachedKeys(part *mime.Part) [][]byte {
	if part.IsMultipart() {
		var out [][]byte
		for _, c := range part.Children {
			out = append(out, attachedKeys(c)...)
		}
		return out
	}
	if part.MediaType == "text/plain" {
		body, err := part.Decoded(maxAttachedKey)
		if err != nil {
			return nil
		}
		return armoredKey().FindAll(body, maxRequestKeys)
	}
	if k := findKey(part); k != nil {
		return [][]byte{k}
	}
	return nil
}

// maxRequestKeys bounds the keys one request may carry.
const maxRequestKeys = 100

// commands runs a member's keywords and sends them the reply, encrypted.
// The signature's replay mark is committed first, so that a replayed
// request never runs twice; a crash after that loses the reply, not
// the guarantee.
func (p *Pipeline) commands(ctx context.Context, log *slog.Logger, list *store.List, in *store.Inbound, dec policy.Decision, content *mime.Part, out store.Outcome) error {
	email := dec.Sender.Email
	if len(out.Replay) > 0 {
		err := p.commit(ctx, store.Outcome{ListID: list.ID, Replay: out.Replay})
		if errors.Is(err, store.ErrReplay) {
			log.Info("request rejected", "reason", policy.Replay.String(), "sender", email)
			return p.refuse(ctx, list, in, policy.Replay)
		}
		if err != nil {
			return err
		}
		out.Replay = nil
	}
	// The reply goes to the key the sender has now, even when the request
	// unsubscribes them or changes their key.
	r, err := p.roster(ctx, list)
	if err != nil {
		return err
	}
	to := &directRecipient{email: email, to: r.to[email]}
	kws, rest := mail.ParseKeywords(requestText(content))
	reply, err := p.opt.Commands.RunCommands(ctx, list, email, Request{Keywords: kws, Text: rest, Keys: attachedKeys(content)})
	if err != nil {
		return err
	}
	subject, text, err := p.render(list, "request-reply", map[string]any{"Answer": reply.Text})
	if err != nil {
		return err
	}
	ds, _, err := p.Announce(ctx, list, Announcement{direct: to, Ref: in.ID, Subject: subject, Text: text, Attachments: reply.Attachments})
	if err != nil {
		return err
	}
	out.Deliveries = append(ds, reply.Deliveries...)
	log.Info("request handled", "sender", email, "keywords", len(kws))
	return p.commit(ctx, out)
}
