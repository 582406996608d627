package maildir

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
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

// Message is one message for DeliverAll: its envelope, and its bytes in
// Data or written by Write.
type Message struct {
	From, Rcpt string
	Data       []byte
	// Write, when set, writes the message into its file instead of Data:
	// a copy made while it is written (encrypted from one signed body)
	// never exists whole in memory. Several Writes run at once, each on
	// its own goroutine; an error fails that message only, and is
	// returned as it is (errors.As finds what it wraps).
	Write func(w io.Writer) error
}

// syncWriters is how many files DeliverAll fsyncs at once. A journalling
// file system (ext4, XFS) commits the fsyncs that wait together in one
// journal write, so the more wait together the fewer commits a batch
// costs; the writers wait on the disk, not on the CPU (each holds a
// thread while it waits).
const syncWriters = 128

// DeliverAll stores several messages like Deliver, but makes them durable
// together, and overlaps making them with writing them to the disk:
//
//   - writers (at least one per CPU) create each file in tmp/, unnamed
//     where the system can (openAnon: no directory entry to make and
//     remove, and the file systems that have it allocate several at
//     once), write it (Write encrypts while it writes) and hand the open
//     file on;
//   - up to syncWriters fsync the handed-on files at the same time (so the
//     file system commits them together, while the writers go on with the
//     next files), name an unnamed one in new/ and close them;
//   - a named file is moved into new/ once all are durable, and one fsync
//     of new/ after all the names are made replaces one per message.
//
// The cost depends on this batch only, not on what other programs write to
// the file system. errs[i] is the outcome of msgs[i]; a failed sync of
// new/ is reported for every message it covered.
func (o *Outbox) DeliverAll(msgs []Message) (errs []error) {
	errs = make([]error, len(msgs))
	names := make([]string, len(msgs))
	named := make([]bool, len(msgs)) // in new/ already
	handed := make(chan written, syncWriters)
	var syncs sync.WaitGroup
	for range min(len(msgs), syncWriters) {
		syncs.Go(func() {
			for w := range handed {
				err := w.f.Sync()
				if err == nil && w.anon {
					// Named only once its data is durable.
					err = linkAnon(w.f, filepath.Join(o.dir, "new", names[w.i]))
					named[w.i] = err == nil
				}
				// Once named, the message is delivered: its data was
				// synced, and closing cannot lose it.
				if cerr := w.f.Close(); err == nil && !named[w.i] {
					err = cerr
				}
				if err != nil {
					if !w.anon {
						os.Remove(w.f.Name())
					}
					errs[w.i] = fmt.Errorf("maildir: deliver: %w", err)
				}
			}
		})
	}
	var next atomic.Int64
	var writers sync.WaitGroup
	for range min(len(msgs), max(runtime.GOMAXPROCS(0), minWriters)) {
		writers.Go(func() {
			for i := int(next.Add(1) - 1); i < len(msgs); i = int(next.Add(1) - 1) {
				var w written
				names[i], w, errs[i] = o.create(&msgs[i])
				if w.f != nil {
					w.i = i
					handed <- w
				}
			}
		})
	}
	writers.Wait()
	close(handed)
	syncs.Wait()
	for i, name := range names {
		if errs[i] == nil && !named[i] {
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

// minWriters is the fewest writers DeliverAll runs, however few the
// CPUs: creating a file waits on the disk at times (the file system
// reading its inode tables), and other writers go on meanwhile.
const minWriters = 8

// written is a file DeliverAll wrote and has yet to fsync: msgs[i]'s,
// unnamed (anon) or named in tmp/.
type written struct {
	i    int
	f    *os.File
	anon bool
}

// create writes m into a new file in tmp/; the file is returned open, for the caller to fsync, name or move, and
// close. On an error nothing is left behind.
func (o *Outbox) create(m *Message) (name string, w written, err error) {
	if w.anon = o.canOpenAnon(); w.anon {
		if name, err = o.newName(m.From, m.Rcpt); err != nil {
			return "", written{}, err
		}
		if w.f, err = openAnon(filepath.Join(o.dir, "tmp")); err != nil {
			return "", written{}, fmt.Errorf("maildir: deliver: %w", err)
		}
	} else if name, w.f, err = o.open(m.From, m.Rcpt); err != nil {
		return "", written{}, err
	}
	if err := o.fill(w.f, m); err != nil {
		w.f.Close()
		if !w.anon {
			os.Remove(w.f.Name())
		}
		return "", written{}, err
	}
	return name, w, nil
}

// canOpenAnon reports whether unnamed files can be made in tmp/ and named
// in new/ (O_TMPFILE and /proc): tried once, with a file of its own.
func (o *Outbox) canOpenAnon() bool {
	o.anonOnce.Do(func() {
		f, err := openAnon(filepath.Join(o.dir, "tmp"))
		if err != nil {
			return
		}
		defer f.Close()
		name, err := o.uniqueName()
		if err != nil {
			return
		}
		probe := filepath.Join(o.dir, "tmp", name)
		if linkAnon(f, probe) == nil {
			o.anon = true
			os.Remove(probe)
		}
	})
	return o.anon
}

// fileBuffers are fill's buffers, 16 KiB each: enough for a small copy
// in one write (a large one's chunks go through unbuffered, its
// encryption buffers them already); kept between copies, as an outbox
// writes thousands a second.
var fileBuffers = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 16<<10) }}

// fill writes m, after the envelope's fields, into f.
func (o *Outbox) fill(f *os.File, m *Message) error {
	bw := fileBuffers.Get().(*bufio.Writer)
	bw.Reset(f)
	defer func() {
		bw.Reset(nil)
		fileBuffers.Put(bw)
	}()
	if _, err := bw.Write(header(m.From, m.Rcpt)); err != nil {
		return fmt.Errorf("maildir: deliver: %w", err)
	}
	if m.Write != nil {
		if err := m.Write(bw); err != nil {
			return err
		}
	} else if _, err := bw.Write(m.Data); err != nil {
		return fmt.Errorf("maildir: deliver: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("maildir: deliver: %w", err)
	}
	return nil
}

// place writes msg into tmp/, fsyncs it and moves it into new/; the
// caller syncs new/. tmp/ needs no sync: the rename is one change to both
// directories, made durable with new/.
func (o *Outbox) place(from, rcpt string, msg []byte) (string, error) {
	name, err := o.write(from, rcpt, msg)
	if err != nil {
		return "", err
	}
	return name, o.publish(name)
}

// write checks the envelope and writes the message into tmp/, fsynced.
func (o *Outbox) write(from, rcpt string, msg []byte) (string, error) {
	name, f, err := o.open(from, rcpt)
	if err != nil {
		return "", err
	}
	if err := writeFile(f, header(from, rcpt), msg); err != nil {
		return "", fmt.Errorf("maildir: deliver: %w", err)
	}
	return name, nil
}

// open checks the envelope and creates a new file in tmp/ under a unique
// name, exclusively with mode 0600.
func (o *Outbox) open(from, rcpt string) (string, *os.File, error) {
	name, err := o.newName(from, rcpt)
	if err != nil {
		return "", nil, err
	}
	// O_EXCL: never overwrite a file another delivery owns.
	f, err := os.OpenFile(filepath.Join(o.dir, "tmp", name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", nil, fmt.Errorf("maildir: deliver: %w", err)
	}
	return name, f, nil
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

// newName checks the envelope and returns a unique name for its message.
func (o *Outbox) newName(from, rcpt string) (string, error) {
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
	return name, nil
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

// writeFile writes head and body to the new file f, fsyncs and closes
// it. On any error the file is removed.
func writeFile(f *os.File, head, body []byte) (err error) {
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(head); err != nil {
		return err
	}
	if _, err = f.Write(body); err != nil {
		return err
	}
	// Maildir: the file is synced before it is moved into new/, so that
	// new/ never names a file whose data a crash could lose.
	if err = f.Sync(); err != nil {
		return err
	}
	return f.Close()
}
