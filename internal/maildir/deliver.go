package maildir

import (
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
)

// Deliver stores msg for the envelope recipient rcpt, sent by the envelope
// sender from ("" for the null sender), and returns the new file's name in
// new/. When Deliver returns without error the file and its directory entry
// have been fsynced. msg is written unchanged after the Return-Path and
// Delivered-To fields; Deliver does not keep it.
//
// from and rcpt must not contain control characters (CR and LF included),
// '<' or '>', and rcpt must not be empty; otherwise the error wraps
// ErrInvalidAddress and nothing is written.
func (o *Outbox) Deliver(from, rcpt string, msg []byte) (string, error) {
	name, err := o.place(from, rcpt, msg)
	if err != nil {
		return "", err
	}
	if err := syncPath(filepath.Join(o.dir, "new")); err != nil {
		// The file is in new/ but may not survive a crash; the caller
		// retries, which can at worst duplicate the message (DESIGN §5).
		return "", fmt.Errorf("maildir: deliver: sync new/: %w", err)
	}
	return name, nil
}

// Message is one message for DeliverAll.
type Message struct {
	From, Rcpt string
	Data       []byte
}

// syncWriters is how many files DeliverAll fsyncs at once. A journalling
// file system (ext4, XFS) commits the fsyncs that wait together in one
// journal write, so the more wait together the fewer commits a batch
// costs; the writers wait on the disk, not on the CPU (each holds a
// thread while it waits).
const syncWriters = 128

// DeliverAll stores several messages like Deliver, but makes them durable
// together. Every file is written first, with its write-back to the disk
// started at once; then each file is fsynced (several at a time, so that
// the file system commits them together: most find their data on the disk
// already), moved into new/, and one fsync of new/ after all the renames
// replaces one per message. The cost depends on this batch only, not on
// what other programs write to the file system. errs[i] is the outcome of
// msgs[i]; a failed sync of new/ is reported for every message it covered.
func (o *Outbox) DeliverAll(msgs []Message) (errs []error) {
	errs = make([]error, len(msgs))
	names := make([]string, len(msgs))
	for i, m := range msgs {
		names[i], errs[i] = o.write(m.From, m.Rcpt, m.Data, false)
	}
	o.syncAll(names, errs)
	for i, name := range names {
		if errs[i] == nil {
			errs[i] = o.publish(name)
		}
	}
	if !slices.Contains(errs, nil) {
		return errs
	}
	if err := syncPath(filepath.Join(o.dir, "new")); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("maildir: deliver: sync new/: %w", err)
			}
		}
	}
	return errs
}

// syncAll fsyncs the files written in tmp/ (those whose errs[i] is nil),
// syncWriters at a time; a file that fails is removed and its error kept.
func (o *Outbox) syncAll(names []string, errs []error) {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(len(names), syncWriters) {
		wg.Go(func() {
			for i := range next {
				path := filepath.Join(o.dir, "tmp", names[i])
				if err := syncPath(path); err != nil {
					os.Remove(path)
					errs[i] = fmt.Errorf("maildir: deliver: %w", err)
				}
			}
		})
	}
	for i := range names {
		if errs[i] == nil {
			next <- i
		}
	}
	close(next)
	wg.Wait()
}

// place writes msg into tmp/, fsyncs it and moves it into new/; the
// caller syncs new/. tmp/ needs no sync: the rename is one change to both
// directories, made durable with new/.
func (o *Outbox) place(from, rcpt string, msg []byte) (string, error) {
	name, err := o.write(from, rcpt, msg, true)
	if err != nil {
		return "", err
	}
	return name, o.publish(name)
}

// write checks the envelope and writes the message into tmp/: fsynced
// when sync is set, else with its write-back started for a later fsync.
func (o *Outbox) write(from, rcpt string, msg []byte, sync bool) (string, error) {
	if err := checkAddress("sender", from); err != nil {
		return "", err
	}
	if rcpt == "" {
		return "", fmt.Errorf("%w: empty recipient", ErrInvalidAddress)
	}
	if err := checkAddress("recipient", rcpt); err != nil {
		return "", err
	}
	name, err := o.uniqueName()
	if err != nil {
		return "", fmt.Errorf("maildir: deliver: %w", err)
	}
	if err := writeFile(filepath.Join(o.dir, "tmp", name), header(from, rcpt), msg, sync); err != nil {
		return "", fmt.Errorf("maildir: deliver: %w", err)
	}
	return name, nil
}

// publish moves a written and synced file from tmp/ into new/.
func (o *Outbox) publish(name string) error {
	tmp := filepath.Join(o.dir, "tmp", name)
	// Maildir: after the file is written and synced in tmp/, it is moved
	// into new/ under the same unique name; readers never see a partial
	// file.
	if err := os.Rename(tmp, filepath.Join(o.dir, "new", name)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("maildir: deliver: %w", err)
	}
	return nil
}

// checkAddress refuses envelope addresses that would break out of the
// header field or its angle brackets (header injection).
func checkAddress(role, addr string) error {
	// RFC 5321 §4.1.2: a path is "<" Mailbox ">" and no part of a Mailbox
	// contains a control character; RFC 5322 §2.2: a header field body
	// must not contain CR or LF.
	if i := strings.IndexFunc(addr, func(r rune) bool {
		return r < 0x20 || r == 0x7f || r == '<' || r == '>'
	}); i >= 0 {
		return fmt.Errorf("%w: %s contains %q", ErrInvalidAddress, role, addr[i])
	}
	return nil
}

// header returns the two fields that precede every message in the outbox.
func header(from, rcpt string) []byte {
	// RFC 5321 §4.4: Return-Path: <reverse-path>, "<>" for the null sender.
	return []byte("Return-Path: <" + from + ">\r\n" +
		// RFC 9228 Delivered-To, in angle brackets per the outbox
		// contract (DESIGN §3).
		"Delivered-To: <" + rcpt + ">\r\n")
}

// uniqueName returns a Maildir name "time.pid_seq_random.host" that no
// other delivery, in this or another process, uses.
func (o *Outbox) uniqueName() (string, error) {
	// Maildir: the name is "time.unique.host". unique combines the process
	// ID, a per-Outbox counter (several deliveries in one second and one
	// process) and 64 random bits (several Outboxes in one process, or a
	// recycled process ID).
	var r [8]byte
	o.randMu.Lock()
	_, err := io.ReadFull(o.rand, r[:])
	o.randMu.Unlock()
	if err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	seq := o.seq.Add(1)
	return fmt.Sprintf("%d.%d_%d_%s.%s",
		o.now().Unix(), o.pid, seq, hex.EncodeToString(r[:]), o.host), nil
}

// writeFile creates path exclusively with mode 0600, writes head and body
// to it and, when sync is set, fsyncs it; otherwise it starts the file's
// write-back, for an fsync later. On any error the file is removed.
func writeFile(path string, head, body []byte, sync bool) (err error) {
	// O_EXCL: never overwrite a file another delivery owns.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if _, err = f.Write(head); err != nil {
		return err
	}
	if _, err = f.Write(body); err != nil {
		return err
	}
	if sync {
		// Maildir: the file is synced before it is moved into new/, so
		// that new/ never names a file whose data a crash could lose.
		err = f.Sync()
	} else {
		startWriteBack(f)
	}
	if err != nil {
		return err
	}
	return f.Close()
}
