package main_test

import (
	"bufio"
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/crypto/pgp"
	"github.com/sealpost/sealpost/internal/gpgtest"
	"github.com/sealpost/sealpost/internal/postfixtest"
)

// packageVersion marks the packages this test builds, so that one left
// installed by an interrupted run is recognised and purged, and an
// admin's real installation is never touched.
const packageVersion = "0.0~citest1"

// TestDebianPackage builds the Debian package as a release would
// (packaging/build-deb.sh), installs it with dpkg -i on this machine,
// and runs the service as its unit says: systemd starts it where systemd
// is PID 1; elsewhere (a container) the test runs the unit's ExecStart
// as its User=, in its StateDirectory=. An admin's first steps then
// work without a flag: a list made by 'sudo -u sealpost sealpost list
// create', a post by SMTP, the copies to the relay in sealpost.toml.
func TestDebianPackage(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("REQUIRE_INTEROP") == "1" {
			t.Fatal("installing a package needs root (REQUIRE_INTEROP=1)")
		}
		t.Skip("installing a package needs root")
	}
	gpgtest.Require(t, "dpkg-deb")
	gpgtest.Require(t, "adduser")
	installed := dpkgVersion(t)
	if installed != "" && installed != packageVersion {
		t.Skipf("sealpost %s is installed on this machine; the test leaves it alone", installed)
	}
	purge := func() {
		if out, err := exec.Command("dpkg", "--purge", "sealpost").CombinedOutput(); err != nil {
			t.Logf("dpkg --purge sealpost: %v\n%s", err, out)
		}
		os.RemoveAll("/var/lib/sealpost")
		exec.Command("deluser", "--quiet", "--system", "sealpost").Run()
		exec.Command("delgroup", "--quiet", "--system", "sealpost").Run()
	}
	purge() // what an interrupted run left
	t.Cleanup(purge)

	deb := buildPackage(t)
	contents := string(mustRun(t, "dpkg-deb", "--contents", deb))
	for _, f := range []string{"./usr/bin/sealpost", "./lib/systemd/system/sealpost.service", "./etc/sealpost/sealpost.toml",
		"./usr/share/man/man1/sealpost.1.gz", "./usr/share/man/man1/sealpost-serve.1.gz", "./usr/share/man/man1/sealpost-list-create.1.gz"} {
		if !strings.Contains(contents, " "+f+"\n") {
			t.Errorf("the package lacks %s:\n%s", f, contents)
		}
	}
	if conf := mustRun(t, "dpkg-deb", "--info", deb, "conffiles"); string(conf) != "/etc/sealpost/sealpost.toml\n" {
		t.Errorf("conffiles = %q, want the configuration only", conf)
	}
	mustRun(t, "dpkg", "-i", deb)
	if v := dpkgVersion(t); v != packageVersion {
		t.Fatalf("after dpkg -i the installed version is %q", v)
	}
	u, err := user.Lookup("sealpost")
	if err != nil {
		t.Fatalf("the package made no sealpost user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	checkOwner(t, "/var/lib/sealpost", uid, 0o700)
	if out := mustRun(t, "/usr/bin/sealpost", "--version"); !strings.Contains(string(out), packageVersion) {
		t.Errorf("sealpost --version = %q, want %s", out, packageVersion)
	}

	unitFile := "/lib/systemd/system/sealpost.service"
	unit := readUnit(t, unitFile)
	for key, want := range map[string]string{"User": "sealpost", "StateDirectory": "sealpost", "ProtectSystem": "strict",
		"NoNewPrivileges": "yes", "ProtectHome": "yes", "PrivateTmp": "yes", "CapabilityBoundingSet": ""} {
		if got, ok := unit[key]; !ok || got != want {
			t.Errorf("%s: %s=%q, want %q", unitFile, key, got, want)
		}
	}
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		// verify prints its findings and exits 0 for most of them; any
		// line about our unit is one.
		out, _ := exec.Command(sa, "verify", "--man=no", unitFile).CombinedOutput()
		for _, line := range strings.Split(string(out), "\n") {
			if strings.Contains(line, "sealpost.service") {
				t.Errorf("systemd-analyze verify: %s", line)
			}
		}
	}

	// The admin points the configuration at their MTA; here a recording
	// relay, and a free port instead of 2525.
	relayAddr, rec := recordingRelay(t)
	smtpAddr := postfixtest.FreeAddr(t)
	conf, err := os.ReadFile("/etc/sealpost/sealpost.toml")
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(strings.Replace(string(conf),
		`listen = "127.0.0.1:2525"`, `listen = "`+smtpAddr+`"`, 1),
		`addr = "127.0.0.1:25"`, `addr = "`+relayAddr+`"`, 1)
	if edited == string(conf) || strings.Count(edited, smtpAddr)+strings.Count(edited, relayAddr) != 2 {
		t.Fatalf("/etc/sealpost/sealpost.toml no longer has the listen and relay lines the README shows:\n%s", conf)
	}
	if err := os.WriteFile("/etc/sealpost/sealpost.toml", []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}

	// The admin's first steps, as the sealpost user and without --data.
	as := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	keysDir, err := os.MkdirTemp("", "sealpost-keys-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(keysDir) })
	if err := os.Chmod(keysDir, 0o755); err != nil {
		t.Fatal(err)
	}
	installedRun(t, as, "list", "create", postfixListAddr, "--owner", "owner@example.org")
	listPub, err := pgp.ParseKey(installedRun(t, as, "list", "key", postfixListAddr))
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]*pgp.Key{}
	for _, name := range []string{"Alice", "Bob"} {
		addr := strings.ToLower(name) + "@example.org"
		k, err := pgp.GenerateKey(name, addr, pgp.Ed25519, pgp.Options{})
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(keysDir, name+".asc")
		if err := os.WriteFile(file, k.Armored(), 0o644); err != nil {
			t.Fatal(err)
		}
		installedRun(t, as, "member", "add", postfixListAddr, addr, "--key", file, "--no-welcome")
		keys[addr] = k
	}
	// An admin who forgets sudo -u is told, and changes nothing.
	if out, err := exec.Command("/usr/bin/sealpost", "member", "list", postfixListAddr).CombinedOutput(); err == nil ||
		!strings.Contains(string(out), "sudo -u sealpost") {
		t.Errorf("member list as root: %v, %s; want a refusal that says to run it as sealpost", err, out)
	}
	checkOwner(t, "/var/lib/sealpost/secrets/master.key", uid, 0o600)
	checkOwner(t, "/var/lib/sealpost/sealpost.db", uid, 0o600)
	// The README's last first step: check passes on the installed layout
	// (the data directory the sealpost user's, its sealpost.toml root's
	// conffile), and names the owner.
	if out := string(installedRun(t, as, "check")); !strings.Contains(out, "belong to sealpost (uid ") || !strings.Contains(out, "all checks passed") {
		t.Errorf("check as the sealpost user:\n%s", out)
	}

	stop := startUnit(t, unit, as)
	post := signedPost(t, keys["alice@example.org"], listPub, postfixListAddr, "through the package")
	waitListening(t, smtpAddr)
	sendPostTo(t, smtpAddr, "alice@example.org", []string{postfixListAddr}, post)
	if !eventually(60*time.Second, func() bool { return len(rec.messages()) >= 2 }) {
		t.Fatalf("the relay got %d copies, want 2", len(rec.messages()))
	}
	for _, m := range rec.messages() {
		checkCopy(t, m, keys[m.to[0]], listPub, "through the package")
	}
	stop()
}

// dpkgVersion is the installed sealpost package's version, or "".
func dpkgVersion(t *testing.T) string {
	out, err := exec.Command("dpkg-query", "-W", "-f=${Status} ${Version}", "sealpost").Output()
	if err != nil {
		return ""
	}
	f := strings.Fields(string(out))
	if len(f) < 4 || f[2] != "installed" {
		return ""
	}
	return f[3]
}

// buildPackage runs packaging/build-deb.sh and returns the package.
func buildPackage(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	cmd := exec.Command("../../packaging/build-deb.sh", out)
	cmd.Env = append(testEnv(), "VERSION="+packageVersion)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("packaging/build-deb.sh: %v\n%s", err, b)
	}
	deb := strings.TrimSpace(string(b))
	if _, err := os.Stat(deb); err != nil {
		t.Fatalf("packaging/build-deb.sh printed %q: %v", deb, err)
	}
	return deb
}

func mustRun(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// installedRun runs the installed /usr/bin/sealpost as cred, from /,
// without --data or SEALPOST_DATA: the packaged default must be right.
func installedRun(t *testing.T, cred *syscall.Credential, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/sealpost", args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	cmd.Env = append(testEnv(), "HOME=/var/lib/sealpost")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("sealpost %s (as the sealpost user): %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.Bytes()
}

// checkOwner checks that path belongs to uid and has mode perm.
func checkOwner(t *testing.T, path string, uid int, perm os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Error(err)
		return
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid || fi.Mode().Perm() != perm {
		t.Errorf("%s: owner %d mode %v, want %d and %v", path, st.Uid, fi.Mode().Perm(), uid, perm)
	}
}

// readUnit reads the [Service] settings of a unit file, the last value
// of each key (as systemd applies them, for the keys the test reads).
func readUnit(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			unit[k] = v
		}
	}
	return unit
}

// startUnit starts the service: with systemctl where systemd runs the
// machine, else by running the unit's ExecStart as its user, in its
// state directory's parent, with its UMask; it returns a function that
// stops it and checks that it stopped cleanly.
func startUnit(t *testing.T, unit map[string]string, cred *syscall.Credential) func() {
	t.Helper()
	if fi, err := os.Stat("/run/systemd/system"); err == nil && fi.IsDir() {
		mustRun(t, "systemctl", "restart", "sealpost.service")
		return func() { mustRun(t, "systemctl", "stop", "sealpost.service") }
	}
	argv := strings.Fields(unit["ExecStart"])
	if len(argv) == 0 || argv[0] != "/usr/bin/sealpost" {
		t.Fatalf("ExecStart=%q", unit["ExecStart"])
	}
	if mask, err := strconv.ParseUint(unit["UMask"], 8, 32); err == nil {
		old := syscall.Umask(int(mask))
		defer syscall.Umask(old)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	cmd.Dir = "/"
	cmd.Env = append(testEnv(), "HOME=/var/lib/"+unit["StateDirectory"])
	output := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = output, output
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", unit["ExecStart"], output.String())
		}
	})
	return func() {
		t.Helper()
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the service exited with %v after SIGTERM\n%s", err, output.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("the service did not stop within 30 s of SIGTERM")
		}
	}
}

// waitListening waits until something accepts connections at addr.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	if !eventually(30*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		t.Fatalf("nothing listens on %s", addr)
	}
}
