package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"log/syslog"
	"net/mail"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
	spmail "github.com/sealpost/sealpost/internal/mail"
	"github.com/sealpost/sealpost/internal/pipeline"
)

// ProcessLogFile is where `process` logs, inside the data directory,
// unless --log-file says otherwise.
const ProcessLogFile = "process.log"

func (e *env) processCmd() *cobra.Command {
	var sender, logFile string
	c := &cobra.Command{
		Use:   "process LIST < message.eml",
		Short: "Process one message for a list synchronously, as an MTA pipe",
		Long: `Read one message from standard input and process it for LIST (or one of its
-request, -owner, -bounce addresses, or a gateway) exactly as if it had
arrived by SMTP, then deliver the copies it produced.

Exit status (sysexits), and the one line written for the MTA, which copies
it into what the sender may see:

  0   accepted (distributed, or the same message already taken: "accepted,
      reference R"), or held for the list's moderator ("held for the
      moderator, reference R")
  65  refused by policy: the same uniform text as over SMTP, whatever the
      reason (the reason goes to the log and to the owner's notice)
  67  no such list or address here
  75  temporary failure: the MTA keeps the message and retries (also when
      the data directory, its configuration or database cannot be read, or
      there is no data directory where --data points: process makes none)

What went wrong, in detail, is written to the log, never to the MTA: by
default DATA/process.log (or syslog's mail facility when that file cannot be
written); --log-file - logs to standard error, for runs by hand.

The envelope sender is taken from --sender, else from a leading
Return-Path header.

The copies go out before it exits, into the outbox or to the relay. A copy
the relay does not take now (it is down, or answers 4xx) waits in the
queue, and 'process' still exits 0 (the message is taken; the log says how
many wait): a 'sealpost serve' must run beside the pipe to retry them, or,
without one, 'sealpost queue flush' from a timer every few minutes.

Memory: one run keeps its heap near 32 MiB plus three times
smtp.max_message_bytes (a soft limit: a message that needs more still goes
through, more slowly); set GOMEMLIMIT to choose another.`,
		Example: `  # Postfix master.cf:
  # sealpost unix - n n - - pipe
  #   user=sealpost argv=/usr/local/bin/sealpost --data /var/lib/sealpost process ${recipient} --sender ${sender}`,
		Args: args(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.process(cmd.Context(), a[0], sender, cmd.Flags().Changed("sender"), logFile)
		},
	}
	c.Flags().StringVar(&sender, "sender", "", "envelope sender of the message")
	c.Flags().StringVar(&logFile, "log-file", "", "where to log (default DATA/"+ProcessLogFile+"; - for standard error)")
	return c
}

// mtaAnswer is what `process` tells the MTA that runs it: one line, the
// same as the SMTP reply would be, and the exit status that goes with it.
// Its text is safe to show to the sender (DESIGN §4.3).
type mtaAnswer struct {
	exit int
	code int
	enh  [3]int
	text string
}

func (a *mtaAnswer) Error() string {
	return fmt.Sprintf("%d %d.%d.%d %s", a.code, a.enh[0], a.enh[1], a.enh[2], a.text)
}

// mtaTemporary is the answer to anything that is not a decision about the
// message: the MTA keeps it and tries again.
func mtaTemporary(ref string) *mtaAnswer {
	return &mtaAnswer{exit: ExitTempFail, code: 451, enh: [3]int{4, 3, 0},
		text: "Temporary failure, the message will be retried (reference " + ref + ")"}
}

// processMemoryLimit is the soft limit of the Go heap of a `process`
// that takes messages of up to max bytes (GOMEMLIMIT, when set, wins).
// One message per process: its decrypted content, inner entity, signed
// and sealed forms (each at most max: the inflated size counts against
// it) and a base for the rest. Without it the collector lets the heap
// grow to twice what is live, about 200 MiB for a post that inflates to
// 30 MB; with it, about 145 MiB in the same time: a large post's buffers
// hold no pointers, so collecting more often costs little. A soft limit
// is never a failure: past it the collector works harder (at most half
// the CPU), and a message that needs more still goes through.
func processMemoryLimit(max int64) int64 {
	return 32<<20 + 3*max
}

// process runs one message through the list, as an MTA's pipe transport
// does, and turns the outcome into an mtaAnswer (nil when accepted).
func (e *env) process(ctx context.Context, list, sender string, senderGiven bool, logFile string) error {
	ref := app.NewRef()
	// A pipe pointed at the wrong place makes no data directory of its
	// own (whose "no such list" would bounce the mail), nor a log file in
	// it: the MTA keeps the message until --data is right, and the log
	// (syslog, without a data directory) says where it looked.
	missing := e.missingData()
	log, closeLog := e.processLogger(logFile, missing == nil)
	defer closeLog()
	log = log.With("msgid", ref, "rcpt", list)
	if nd, ok := missing.(*noDataError); ok {
		log.Error("process: no data directory; the MTA will retry until --data names one", "err", nd.what, "data", nd.from)
		return mtaTemporary(ref)
	}
	cfg, err := e.config()
	if err != nil {
		log.Error("process: configuration cannot be read; the MTA will retry", "err", err)
		return mtaTemporary(ref)
	}
	limit := cfg.SMTP.MaxMessageBytes
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(processMemoryLimit(limit))
	}
	raw, err := readMessage(e.stdin, limit)
	switch {
	case err != nil:
		log.Error("process: reading the message", "err", err)
		return mtaTemporary(ref)
	case len(raw) == 0:
		return usagef("no message on standard input")
	case int64(len(raw)) > limit:
		log.Info("process: message refused", "reason", "too-large", "limit", limit)
		return &mtaAnswer{exit: ExitDataErr, code: 552, enh: [3]int{5, 3, 4}, text: "Message too large for this address"}
	}
	if !senderGiven {
		sender = returnPath(raw)
	}
	// Durability (DESIGN §5: no exit 0 before the message and its outcome
	// are durable). One run that takes a post for N members delivered to
	// the Maildir outbox makes N+2 fsyncs, each needed:
	//   - 1 of the database's write-ahead log, in ProcessRef after the
	//     pipeline's last commit and before the first copy leaves: it
	//     makes the spooled message, its outcome, the queued copies and
	//     the replay digest durable at once (the commits themselves are
	//     not synced one by one: app.Options.OneMessage);
	//   - N, one per copy written into outbox/tmp/, before its rename into
	//     new/ (Maildir: new/ never names a file whose data a crash could
	//     lose), issued together so the file system commits them together;
	//   - 1 of outbox/new/, making the renames durable.
	// Not synced, on purpose: the claim of the copies and the record that
	// they were delivered (a crash before either reaches the disk
	// delivers the copies again: at-least-once, never zero); the log is
	// not checkpointed at exit (the next run reads it). When the log has
	// grown past 1000 pages (every few dozen runs for a small list, every
	// two or three for a list of 100 while copies are stored whole),
	// SQLite checkpoints it with its own syncs: the log, the database,
	// and the log's header when it starts again. A relay
	// instead of the outbox replaces the N+1 with the relay's 250 for
	// each copy. The first run with a new data directory, or after serve
	// deleted the log, adds syncs of the new log and of its directory.
	a, err := app.OpenWith(ctx, cfg, log, app.Options{OneMessage: true})
	if err != nil {
		log.Error("process: data directory cannot be opened; the MTA will retry", "err", err)
		return mtaTemporary(ref)
	}
	defer a.Close()
	res, err := a.ProcessRef(ctx, ref, list, sender, raw)
	var rej *pipeline.Rejection
	switch {
	case err == nil && res.Held:
		// Exit 0 all the same: the message is taken, and the MTA must not
		// bounce or retry it.
		log.Info("process: message held for the moderator")
		fmt.Fprintf(e.stdout, "held for the moderator, reference %s\n", ref)
		return nil
	case err == nil:
		// Taken: copies the relay did not take wait in the queue, and
		// only a running serve (or queue flush) sends them; say so where
		// the admin looks, not to the MTA, which must not retry.
		if n, perr := a.Store.PendingOf(ctx, ref); perr == nil && n > 0 {
			log.Warn("process: copies wait in the queue: 'sealpost serve' retries them, or 'sealpost queue flush'",
				"waiting", n)
		}
		fmt.Fprintf(e.stdout, "accepted, reference %s\n", ref)
		return nil
	case errors.As(err, &rej):
		// The reason is in the log already, and in the owner's notice.
		return &mtaAnswer{exit: ExitDataErr, code: rej.Code, enh: rej.Enhanced, text: rej.Text}
	case errors.Is(err, pipeline.ErrUnknownList), errors.Is(err, spmail.ErrBadAddress):
		log.Info("process: no such list", "err", err)
		// RFC 3463 §3.2: X.1.1 bad destination mailbox address.
		return &mtaAnswer{exit: ExitNoUser, code: 550, enh: [3]int{5, 1, 1}, text: "No such user here"}
	}
	log.Error("process: temporary failure; the MTA will retry", "err", err)
	return mtaTemporary(ref)
}

// processLogger opens where `process` logs: the file named, standard
// error for "-", by default DATA/process.log (when inData), falling back
// to syslog's mail facility when that cannot be written (an unreadable
// data directory, or none), and to nothing.
func (e *env) processLogger(name string, inData bool) (*slog.Logger, func()) {
	level := slog.LevelInfo
	if e.verbose {
		level = slog.LevelDebug
	}
	handler := func(w io.Writer) *slog.Logger {
		return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	}
	if name == "-" {
		return handler(e.stderr), func() {}
	}
	named := name != ""
	if !named {
		name = filepath.Join(e.dataDir, ProcessLogFile)
	}
	var f *os.File
	err := fs.ErrNotExist // no data directory: no log file made in its place
	if named || inData {
		f, err = os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	}
	if err == nil {
		return handler(f), func() { f.Close() }
	}
	if w, serr := syslog.New(syslog.LOG_MAIL|syslog.LOG_INFO, "sealpost"); serr == nil {
		l := handler(w)
		l.Warn("process: log file cannot be written; logging to syslog", "file", name, "err", err)
		return l, func() { w.Close() }
	}
	return slog.New(slog.DiscardHandler), func() {}
}

// returnPath returns the address of a leading Return-Path header field.
func returnPath(raw []byte) string {
	line, _, _ := bytes.Cut(raw, []byte("\n"))
	name, value, ok := strings.Cut(strings.TrimRight(string(line), "\r"), ":")
	if !ok || !strings.EqualFold(name, "Return-Path") {
		return ""
	}
	a, err := mail.ParseAddress(strings.TrimSpace(value))
	if err != nil {
		return ""
	}
	return a.Address
}

// readMessage reads at most limit+1 bytes from r into one buffer: sized
// at once when r is a file, else grown by doubling (an MTA's pipe), which
// leaves less garbage behind than io.ReadAll's smaller steps (a message
// of tens of megabytes).
func readMessage(r io.Reader, limit int64) ([]byte, error) {
	var b bytes.Buffer
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			b.Grow(int(min(fi.Size(), limit) + bytes.MinRead + 1))
		}
	}
	_, err := b.ReadFrom(io.LimitReader(r, limit+1))
	return b.Bytes(), err
}
