package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/sealpost/sealpost/internal/app"
	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/crypto/smime"
	"github.com/sealpost/sealpost/internal/hostcheck"
)

func (e *env) checkCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Self-test: the data directory's owner and modes, listen addresses, relay, store, keys, a signing probe",
		Long: `Check what a running Sealpost needs, one line each, with what to do about
each problem:

  - the data directory and its files belong to the user running check (run
    it as the user of the MTA's pipe or of the service: sudo -u sealpost
    sealpost check); a file another user left there is named with its owner
  - nobody else may write the data directory; the master key
    (secrets/master.key, and the systemd credential sealpost-master-key
    when there is one) is 0600 or stricter; the database, its log and the
    secrets cannot be read by other users
  - the listen addresses (smtp.listen, http.listen, submission.listen in
    sealpost.toml) are addresses of this host, and free, or held by a
    running sealpost (which one is said)
  - the relay of [relay] addr, if any, answers, with STARTTLS as
    [relay] tls asks (a certificate it cannot verify is named, with the
    setting that fixes it)
  - the configuration parses, the database answers, the master key opens
    every list's secret key and S/MIME identity, each can sign, and every
    member key is still usable.

The exit status is 0 only when there is no problem.`,
		Args: args(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return e.check(cmd.Context()) },
	}
}

// checkReport writes check's lines and counts the problems.
type checkReport struct {
	w        io.Writer
	problems int
}

var checkMarks = map[hostcheck.Level]string{hostcheck.OK: "ok  ", hostcheck.Warn: "WARN", hostcheck.Fail: "FAIL"}

// add writes one finding: its mark, what it found, and what to do.
func (r *checkReport) add(f hostcheck.Finding) {
	if f.Level != hostcheck.OK {
		r.problems++
	}
	line := checkMarks[f.Level] + " " + f.Text
	if f.Fix != "" {
		line += ". Fix: " + f.Fix
	}
	fmt.Fprintln(r.w, line)
}

// report writes a line that passes when ok.
func (r *checkReport) report(ok bool, format string, args ...any) {
	level := hostcheck.OK
	if !ok {
		level = hostcheck.Fail
	}
	r.add(hostcheck.Finding{Level: level, Text: fmt.Sprintf(format, args...)})
}

// checkFailed is check's answer when it found problems; it carries what
// kept check from going on, if anything, for the exit status.
type checkFailed struct {
	problems int
	cause    error
}

func (e *checkFailed) Error() string { return fmt.Sprintf("%d problem(s) found", e.problems) }
func (e *checkFailed) Unwrap() error { return e.cause }

// check runs every check: first what an admin sets up around the data
// directory (nothing opened yet), then the store and the keys.
func (e *env) check(ctx context.Context) error {
	r := &checkReport{w: e.stdout}
	cfg, err := e.config()
	if err != nil {
		return err
	}
	dir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		dir = cfg.DataDir
	}
	// The host: one finding per line; a check of the host is added here.
	paths := append(app.HostPaths(dir), hostcheck.Path{Path: filepath.Join(dir, ProcessLogFile), Kind: hostcheck.Private})
	for _, f := range hostcheck.Files(dir, paths, os.Geteuid()) {
		r.add(f)
	}
	for _, f := range listenFindings(cfg) {
		r.add(f)
	}
	a, err := app.Open(ctx, cfg, e.logger(slog.LevelWarn))
	if err != nil {
		f := hostcheck.Finding{Level: hostcheck.Fail, Text: "the data directory cannot be opened: " + err.Error()}
		if r.problems > 0 {
			f.Fix = "mend what the lines above say, then run check again as the user who runs Sealpost"
		}
		r.add(f)
		return &checkFailed{problems: r.problems, cause: err}
	}
	defer a.Close()
	if line, ok := a.CheckRelay(ctx); line != "" {
		r.report(ok, "%s", line)
	}
	lists, err := e.checkLists(ctx, a, r)
	if err != nil {
		return err
	}
	if r.problems > 0 {
		return &checkFailed{problems: r.problems}
	}
	fmt.Fprintf(e.stdout, "all checks passed (%d lists)\n", lists)
	return nil
}

// listenFindings checks each listen address the configuration sets.
func listenFindings(cfg *app.Config) []hostcheck.Finding {
	var out []hostcheck.Finding
	for _, l := range []struct{ key, addr string }{
		{"smtp.listen", cfg.SMTP.Listen},
		{"http.listen", cfg.HTTP.Listen},
		{"submission.listen", cfg.Submission.Listen},
	} {
		if l.addr != "" {
			out = append(out, hostcheck.Listen(l.key, l.addr, isSealpost))
		}
	}
	return out
}

// isSealpost reports whether a program is a Sealpost: this executable, or
// one named sealpost.
func isSealpost(p hostcheck.Program) bool {
	if self, err := os.Executable(); err == nil && p.Exe == self {
		return true
	}
	return p.Name == "sealpost" || filepath.Base(p.Exe) == "sealpost"
}

// checkLists checks the store and every list's keys, and returns how many
// lists there are.
func (e *env) checkLists(ctx context.Context, a *app.App, r *checkReport) (int, error) {
	r.report(a.Store.Ping(ctx) == nil, "database %s answers", a.DatabaseName())
	lists, err := a.Admin.Lists(ctx)
	if err != nil {
		return 0, err
	}
	for i := range lists {
		l := &lists[i]
		key, err := a.Admin.OpenListKey(l)
		r.report(err == nil, "%s: secret key opens with the master key", l.Address)
		if err == nil {
			_, serr := pgp.Sign(key, []byte("probe"), pgp.Options{})
			r.report(serr == nil, "%s: list key signs", l.Address)
		}
		if len(l.SMIMECert) > 0 {
			id, err := a.Admin.OpenSMIMEIdentity(l)
			r.report(err == nil, "%s: S/MIME identity opens with the master key", l.Address)
			if err == nil {
				_, serr := smime.SignEntity([]byte("Content-Type: text/plain\r\n\r\nprobe\r\n"), id, smime.Options{})
				r.report(serr == nil, "%s: S/MIME certificate signs", l.Address)
				r.report(time.Now().Before(id.Cert.NotAfter), "%s: S/MIME certificate valid until %s", l.Address, id.Cert.NotAfter.Format(time.DateOnly))
			}
		}
		ms, err := a.Admin.Members(ctx, l.Address)
		if err != nil {
			return 0, err
		}
		for _, m := range ms {
			mv := memberView(m, time.Now())
			r.report(mv.KeyStatus == "usable", "%s: member %s key %s", l.Address, m.Email, mv.KeyStatus)
		}
	}
	return len(lists), nil
}
