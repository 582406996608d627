package web

import (
	"bytes"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sealpost/sealpost/internal/admin"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/store"
)

// archiveLimit is how many conversations the archive page lists.
const archiveLimit = 200

// maxShownText bounds the text of one archived message shown on a page;
// the mbox has all of it.
const maxShownText = 1 << 20

type archiveData struct {
	L       *store.List
	Threads []store.Thread
}

// gateway returns the path's list, which must be a gateway: lists keep
// no archive.
func (q *request) gateway() (*store.List, error) {
	l, err := q.svc.List(q.r.Context(), q.list())
	if err != nil {
		return nil, err
	}
	if !l.IsGateway() {
		return nil, fmt.Errorf("%w: %s is a list; only gateways keep an archive", admin.ErrNotFound, l.Address)
	}
	return l, nil
}

func archivePage(q *request) error {
	l, err := q.gateway()
	if err != nil {
		return err
	}
	ts, err := q.svc.Conversations(q.r.Context(), l.Address, archiveLimit)
	if err != nil {
		return err
	}
	return q.render("archive", "Archive · "+l.Address, "lists", archiveData{L: l, Threads: ts})
}

// messageView is one archived message as the conversation page shows it.
type messageView struct {
	Reply                   bool // from the helpdesk, not to it
	At                      time.Time
	From, To, Date, Subject string
	Text                    string
	NoText, Cut             bool
}

type conversationData struct {
	L        *store.List
	Thread   string
	Messages []messageView
}

func conversationPage(q *request) error {
	l, err := q.gateway()
	if err != nil {
		return err
	}
	thread := q.r.PathValue("thread")
	ms, err := q.svc.Conversation(q.r.Context(), l.Address, thread)
	if err != nil {
		return err
	}
	d := conversationData{L: l, Thread: thread}
	for _, m := range ms {
		d.Messages = append(d.Messages, viewMessage(m))
	}
	return q.render("conversation", "Conversation · "+l.Address, "lists", d)
}

func mboxFile(q *request) error {
	l, err := q.gateway()
	if err != nil {
		return err
	}
	ms, err := q.svc.Conversation(q.r.Context(), l.Address, q.r.PathValue("thread"))
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := admin.WriteMbox(&b, ms); err != nil {
		return err
	}
	return q.download("application/mbox", "conversation.mbox", b.Bytes())
}

// viewMessage reads the headers and the text of an archived message.
func viewMessage(m admin.ArchivedMessage) messageView {
	v := messageView{Reply: m.Direction == "out", At: m.CreatedAt}
	msg, err := mime.Parse(m.Data, mime.Limits{})
	if err != nil {
		v.NoText = true
		return v
	}
	h := msg.Header
	v.From, v.To, v.Date, v.Subject = decodeHeader(h.Get("From")), decodeHeader(h.Get("To")), h.Get("Date"), decodeHeader(h.Get("Subject"))
	p := textPart(msg)
	if p == nil {
		v.NoText = true
		return v
	}
	body, err := p.Decoded(maxShownText)
	if err != nil {
		var cut []byte
		if cut, err = p.Decoded(int64(len(p.Body))); err != nil {
			v.NoText = true
			return v
		}
		body, v.Cut = cut[:min(len(cut), maxShownText)], true
	}
	v.Text = toUTF8(body, p.Params["charset"])
	return v
}

// textPart finds the first text/plain part that is not an attachment.
func textPart(p *mime.Part) *mime.Part {
	if p.IsMultipart() {
		for _, c := range p.Children {
			if t := textPart(c); t != nil {
				return t
			}
		}
		return nil
	}
	if p.MediaType == "text/plain" && !strings.HasPrefix(strings.ToLower(strings.TrimSpace(p.Header.Get("Content-Disposition"))), "attachment") {
		return p
	}
	return nil
}

// toUTF8 converts text in charset to UTF-8: Latin-1 is converted, what is
// not valid UTF-8 otherwise is replaced.
func toUTF8(b []byte, charset string) string {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "iso_8859-1", "windows-1252", "cp1252":
		if !utf8.Valid(b) {
			r := make([]rune, len(b))
			for i, c := range b {
				r[i] = rune(c)
			}
			return string(r)
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}
