package api_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/sealpost/sealpost/internal/api"
)

// TestAddMemberWelcome: a member added through the API gets the welcome
// unless the form says welcome=false; a welcome that is no boolean is
// refused before anything is added.
func TestAddMemberWelcome(t *testing.T) {
	f := newFixture(t)
	const alice, list = "alice@example.org", "a@lists.example.org"
	form := func(email, welcome string) io.Reader {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		w.SetBoundary("sealpost-test-boundary")
		w.WriteField("email", email)
		if welcome != "" {
			w.WriteField("welcome", welcome)
		}
		fw, _ := w.CreateFormFile("key", "key.asc")
		fw.Write(memberKey(t, email))
		w.Close()
		return &b
	}
	for _, tc := range []struct {
		addr, welcome string
		status, want  int
	}{
		{"dave@example.org", "", http.StatusCreated, 1},
		{"erin@example.org", "false", http.StatusCreated, 0},
		{"frank@example.org", "true", http.StatusCreated, 1},
		{"gina@example.org", "perhaps", http.StatusUnprocessableEntity, 0},
	} {
		r := f.do(alice, "POST", api.Prefix+"/lists/"+list+"/members", form(tc.addr, tc.welcome), multipartType)
		if r.status != tc.status {
			t.Fatalf("add %s with welcome=%q: %d %s, want %d", tc.addr, tc.welcome, r.status, r.body, tc.status)
		}
		// What the owner sees in the API's queue.
		var queued []struct{ To string }
		f.get(alice, api.Prefix+"/queue?list="+list).json(t, &queued)
		n := 0
		for _, q := range queued {
			if q.To == tc.addr {
				n++
			}
		}
		if n != tc.want {
			t.Errorf("%s with welcome=%q: %d messages queued, want %d", tc.addr, tc.welcome, n, tc.want)
		}
	}
	if _, err := f.svc.Member(context.Background(), list, "gina@example.org"); err == nil {
		t.Error("gina was added with welcome=perhaps")
	}
}
