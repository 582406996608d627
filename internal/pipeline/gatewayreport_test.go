package pipeline_test

import (
	"context"
	"fmt"
	stdmime "mime"
	"slices"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/mime"
	"github.com/sealpost/sealpost/internal/pipeline"
	"github.com/sealpost/sealpost/internal/store"
)

// submitReply hands the gateway a helpdesk reply with the given extra
// header fields and returns its deliveries, opened.
func submitReply(t *testing.T, f *fixture, gw *store.List, ref, envFrom string, rcpts []string, fields ...string) []store.Delivery {
	t.Helper()
	raw := "From: Support <" + gw.Address + ">\r\nTo: " + strings.Join(rcpts, ", ") + "\r\n"
	for _, fl := range fields {
		raw += fl + "\r\n"
	}
	if !strings.Contains(raw, "\r\nMessage-ID:") {
		raw += "Message-ID: <" + ref + "@helpdesk.example.org>\r\n"
	}
	if !strings.Contains(raw, "\r\nContent-Type:") {
		raw += "Content-Type: text/plain; charset=utf-8\r\n"
	}
	body := "The answer. " + canary + "\r\n"
	if strings.Contains(raw, "boundary=b") {
		body = "--b\r\nContent-Type: text/plain\r\n\r\n" + body + "--b--\r\n"
	}
	raw += "\r\n" + body
	err := f.p.Submit(context.Background(), pipeline.Submission{Ref: ref, EnvelopeFrom: envFrom, Rcpts: rcpts,
		Raw: []byte(raw), Authorized: func(*store.List) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Delivery
	for _, d := range f.deliveries(ref) {
		if d.Sealed {
			if d.Data, err = f.p.OpenDelivery(&d); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, d)
	}
	return out
}

// reports returns the deliveries that are reports handed to gw's
// helpdesk.
func reports(ds []store.Delivery) []store.Delivery {
	var out []store.Delivery
	for _, d := range ds {
		if d.Kind == store.KindHelpdesk {
			out = append(out, d)
		}
	}
	return out
}

// TestRefusedReplyReportInTicket: issue 16 item 2. The report about the
// recipients a reply was not sent to goes to the helpdesk the way mail
// to the gateway does (deliver_to), with a null envelope sender, under
// the reply's Subject (its ticket tag with it) and answering the reply,
// so that the helpdesk files it in the reply's ticket; nothing goes to
// the reply's envelope sender.
func TestRefusedReplyReportInTicket(t *testing.T) {
	f := newFixture(t)
	gw, _ := gatewayFixture(t, f)
	gw.Gateway.EncryptReplies = store.EncryptAlways
	if err := f.db.UpdateList(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	ds := submitReply(t, f, gw, "r1", "root@helpdesk.example.org", []string{"erin@example.com"},
		"Subject: Re: [example.org #7] =?utf-8?q?Drucker_br=C3=A4nnt?=", "In-Reply-To: <erin-1@example.com>",
		"References: <erin-0@example.com> <erin-1@example.com>")
	rs := reports(ds)
	if len(rs) != 1 {
		t.Fatalf("%d reports to the helpdesk, want 1 (deliveries %+v)", len(rs), ds)
	}
	d := rs[0]
	if d.From != "" || d.To != gw.Address || d.Route != gw.Gateway.DeliverTo || !d.Sealed {
		t.Errorf("report %q -> %q route %q sealed %v; want <> -> %s through %s, sealed", d.From, d.To, d.Route, d.Sealed, gw.Address, gw.Gateway.DeliverTo)
	}
	for _, o := range ds {
		if o.To == "root@helpdesk.example.org" {
			t.Errorf("something went to the reply's envelope sender: %s", o.Kind)
		}
	}
	msg, err := mime.Parse(d.Data, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(stdmime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		"In-Reply-To":    "<r1@helpdesk.example.org>",
		"References":     "<erin-0@example.com> <erin-1@example.com> <r1@helpdesk.example.org>",
		"Auto-Submitted": "auto-replied",
		"Subject":        "Reply not sent: [example.org #7] Drucker brännt",
	} {
		got := msg.Header.Get(field)
		if field == "Subject" {
			got = subject
		}
		if got != want {
			t.Errorf("%s = %q, want %q", field, got, want)
		}
	}
	if msg.MediaType != "multipart/report" || msg.Params["report-type"] != "delivery-status" {
		t.Errorf("report is %s %v", msg.MediaType, msg.Params)
	}
	if _, from, _ := mail.ParseAddress(msg.Header.Get("From")); from == gw.Address || !strings.HasPrefix(from, "mailer-daemon@") {
		t.Errorf("report From %q: a helpdesk drops mail from its own address, and must see it is automatic", from)
	}
	if hasCanary(d.Data) {
		t.Error("the report carries the reply's content")
	}
	var status []mail.DSNRecipient
	for _, c := range msg.Children {
		if c.MediaType == "message/delivery-status" {
			status = mail.ParseDSN(c.Body)
		}
	}
	if len(status) != 1 || status[0].Recipient != "erin@example.com" || status[0].Status != "5.7.4" {
		t.Errorf("report recipients %+v", status)
	}
	// The report joins the reply's conversation.
	if th, err := f.db.FindThread(context.Background(), gw.ID, []string{msg.Header.Get("Message-Id")}); err != nil || th == nil {
		t.Errorf("the report's Message-ID is not in the conversation: %v %v", th, err)
	}
}

// TestRefusedReplyReportNoLoop: a helpdesk that mails what its ticket got
// on, through the gateway (RT sends a report in a ticket to its
// privileged watchers, In-Reply-To the report), must not make the
// gateway write reports forever: a submission that answers one of the
// gateway's reports, is automatic or is a report itself gets none.
func TestRefusedReplyReportNoLoop(t *testing.T) {
	f := newFixture(t)
	gw, _ := gatewayFixture(t, f)
	gw.Gateway.EncryptReplies = store.EncryptAlways
	if err := f.db.UpdateList(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	first := reports(submitReply(t, f, gw, "l0", "rt@helpdesk.example.org", []string{"erin@example.com"}, "Subject: [example.org #7] x"))
	if len(first) != 1 {
		t.Fatalf("%d reports for the first reply, want 1", len(first))
	}
	hdr, err := mime.ParseHeader(first[0].Data, mime.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	reportID := hdr.Header.Get("Message-Id")
	forged := strings.Replace(reportID, ".", ".0", 2) // the form, not the tag
	tests := []struct {
		name   string
		from   string
		fields []string
		want   int
	}{
		{"the helpdesk forwards the report (In-Reply-To)", "rt@helpdesk.example.org",
			[]string{"Subject: [example.org #7] Reply not sent: x", "In-Reply-To: " + reportID, "References: <l0@helpdesk.example.org> " + reportID}, 0},
		{"the helpdesk forwards the report (References only)", "rt@helpdesk.example.org",
			[]string{"Subject: [example.org #7] x", "References: <l0@helpdesk.example.org> " + reportID}, 0},
		{"Auto-Submitted: auto-generated", "rt@helpdesk.example.org", []string{"Subject: x", "Auto-Submitted: auto-generated"}, 0},
		{"Auto-Submitted: auto-replied with a parameter", "rt@helpdesk.example.org", []string{"Subject: x", "Auto-Submitted: auto-replied; owner-email=a@b.example"}, 0},
		{"a report itself", "rt@helpdesk.example.org", []string{"Subject: x", "Content-Type: multipart/report; report-type=delivery-status; boundary=b"}, 0},
		{"a null envelope sender", "", []string{"Subject: x"}, 0},
		{"Auto-Submitted: no", "rt@helpdesk.example.org", []string{"Subject: x", "Auto-Submitted: no"}, 1},
		{"Precedence: bulk (RT marks every reply so)", "rt@helpdesk.example.org", []string{"Subject: x", "Precedence: bulk"}, 1},
		{"a forged report ID", "rt@helpdesk.example.org", []string{"Subject: x", "In-Reply-To: " + forged}, 1},
		{"a reply later in the conversation", "rt@helpdesk.example.org",
			[]string{"Subject: x", "In-Reply-To: <erin-2@example.com>", "References: " + reportID + " <erin-2@example.com>"}, 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := submitReply(t, f, gw, fmt.Sprintf("l%d", i+1), tt.from, []string{"erin@example.com"}, tt.fields...)
			if got := len(reports(ds)); got != tt.want {
				t.Errorf("%d reports, want %d", got, tt.want)
			}
			// The refused recipient is told all the same.
			if !slices.ContainsFunc(ds, func(d store.Delivery) bool { return d.Kind == store.KindNotice && d.To == "erin@example.com" }) {
				t.Error("no notice to the refused recipient")
			}
		})
	}
}

// TestGatewayStaffAddresses: issue 16 item 3. Staff are named addresses
// and whole domains; an address that only looks like one is not staff.
// With staff_without_key=clear a staff address without a key gets a
// signed copy in clear; any other address is refused as before (and
// told), so a look-alike never gets the reply in clear.
func TestGatewayStaffAddresses(t *testing.T) {
	f := newFixture(t)
	gw, _ := gatewayFixture(t, f)
	gw.Gateway.EncryptReplies = store.EncryptAlways
	gw.Gateway.Staff = []string{"*@example.org", "bob@example.net"}
	gw.Gateway.StaffWithoutKey = store.StaffClear
	if err := f.db.UpdateList(context.Background(), gw); err != nil {
		t.Fatal(err)
	}
	for i, tt := range []struct {
		rcpt  string
		staff bool
	}{
		{"joe@example.org", true},
		{"bob@example.net", true},
		{"x@sub.example.org", false},
		{"evil@example.org.attacker.test", false},
		{"joe@notexample.org", false},
		{"bob@example.net.attacker.test", false},
		{"bobby@example.net", false},
		{"alice@example.net", false},
	} {
		t.Run(tt.rcpt, func(t *testing.T) {
			ds := submitReply(t, f, gw, fmt.Sprintf("s%d", i), "helpdesk@example.org", []string{tt.rcpt}, "Subject: x")
			var clear, notices, rs int
			for _, d := range ds {
				switch {
				case d.Kind == store.KindReply && d.To == tt.rcpt:
					clear++
					if !hasCanary(d.Data) || !strings.Contains(outputKind(t, d), "multipart/signed") {
						t.Errorf("the staff copy is not the reply, signed in clear: %s", outputKind(t, d))
					}
				case d.Kind == store.KindNotice && d.To == tt.rcpt:
					notices++
				case d.Kind == store.KindHelpdesk:
					rs++
				}
			}
			want := [3]int{0, 1, 1} // refused: a notice, and a report to the helpdesk
			if tt.staff {
				want = [3]int{1, 0, 0}
			}
			if got := [3]int{clear, notices, rs}; got != want {
				t.Errorf("copies in clear, notices, reports = %v, want %v", got, want)
			}
		})
	}
}
