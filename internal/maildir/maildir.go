// Package maildir owns Sealpost's outbox: the Maildir at DIR/outbox into
// which outbound mail is delivered when no relay is configured (DESIGN §3).
//
// The layout and the delivery protocol are the Maildir convention
// (https://cr.yp.to/proto/maildir.html; there is no RFC): a message is
// written under a unique name in tmp/, synced, and renamed into new/.
// DeliverAll, where the system allows (Linux's O_TMPFILE), writes it as an
// unnamed file in tmp/ instead and, once synced, links it into new/ under
// its unique name: a reader sees the same, whole files appearing in new/,
// and a crash leaves no stale file in tmp/. Each
// file holds one message for one recipient and starts with two added header
// fields, in this order and with CRLF line endings:
//
//	Return-Path: <envelope sender>      (RFC 5321 §4.4; "<>" for the null sender)
//	Delivered-To: <envelope recipient>  (RFC 9228)
//
// followed by the message bytes exactly as given.
//
// Known divergence: RFC 9228 writes Delivered-To as a bare addr-spec; the
// outbox contract (DESIGN §3) puts the recipient in angle brackets like
// Return-Path, and this package follows the contract.
//
// The package deliberately does not read or list the Maildir, move mail to
// cur/, set flags (the ":2," info suffix), enforce quotas, clean stale files
// from tmp/, or parse or canonicalise the message (line endings included).
package maildir

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrInvalidAddress is returned by Deliver for an envelope address that
// cannot be written into a header field without changing its meaning.
var ErrInvalidAddress = errors.New("maildir: invalid envelope address")

// Options configures an Outbox. The zero value is ready to use.
type Options struct {
	// Now is the clock used for file names; nil means time.Now.
	Now func() time.Time
	// Hostname is the host part of file names; empty means os.Hostname,
	// or "localhost" if that fails.
	Hostname string
	// Rand supplies the random part of file names; nil means
	// crypto/rand.Reader. Reads are serialised by the Outbox.
	Rand io.Reader
}

// Outbox is a Maildir that accepts deliveries. It is safe for concurrent
// use, and several Outboxes (in one process or many) may share a directory.
type Outbox struct {
	dir  string
	now  func() time.Time
	host string // already escaped for use in a file name
	pid  int

	randMu sync.Mutex // guards rand, which need not be safe for concurrent use
	rand   io.Reader

	seq atomic.Uint64 // per-Outbox delivery counter, part of each name

	anonOnce sync.Once
	anon     bool // DeliverAll makes unnamed files (canOpenAnon)
}

// Open returns the Outbox at dir, creating dir and its tmp/, new/ and cur/
// subdirectories with mode 0700 when they are missing. Existing directories
// keep their permissions.
func Open(dir string, opt Options) (*Outbox, error) {
	if dir == "" {
		return nil, errors.New("maildir: open: empty directory name")
	}
	dir = filepath.Clean(dir)
	created := false
	for _, sub := range []string{"tmp", "new", "cur"} {
		path := filepath.Join(dir, sub)
		if fi, err := os.Stat(path); err == nil && fi.IsDir() {
			continue
		}
		if err := os.MkdirAll(path, 0o700); err != nil {
			return nil, fmt.Errorf("maildir: open: %w", err)
		}
		created = true
	}
	if created {
		// Make the new directory entries themselves durable.
		if err := syncPath(dir); err != nil {
			return nil, fmt.Errorf("maildir: open: %w", err)
		}
	}
	o := &Outbox{
		dir:  dir,
		now:  opt.Now,
		host: escapeHost(hostname(opt.Hostname)),
		pid:  os.Getpid(),
		rand: opt.Rand,
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.rand == nil {
		o.rand = rand.Reader
	}
	return o, nil
}

// Dir returns the Maildir's directory, the one holding tmp/, new/ and cur/.
func (o *Outbox) Dir() string {
	return o.dir
}

// hostname returns name, or the system's host name when name is empty.
func hostname(name string) string {
	if name != "" {
		return name
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "localhost"
}

// escapeHost makes a host name safe as the last part of a Maildir name.
func escapeHost(host string) string {
	// Maildir: "replace / with \057 and : with \072" in the host name, since
	// '/' separates paths and ':' starts the info suffix.
	return strings.NewReplacer("/", `\057`, ":", `\072`).Replace(host)
}

// syncPath fsyncs a file, so that its data survives a crash, or a
// directory, so that entries created or renamed in it do.
func syncPath(name string) error {
	d, err := os.Open(name)
	if err != nil {
		return err
	}
	if err := d.Sync(); err != nil {
		d.Close()
		return err
	}
	return d.Close()
}
