// Package otptest computes two-factor codes the way an authenticator app
// does, with a program Sealpost did not write: oathtool (RFC 6238 TOTP,
// six digits, 30-second steps, HMAC-SHA-1), so that the tests sign in
// with codes a phone would show. Test support: only _test.go files
// import it.
package otptest

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost/internal/gpgtest"
)

// Code is the code for the base32 secret at the time at, as oathtool
// computes it. Without oathtool the test is skipped (failed with
// REQUIRE_INTEROP=1).
func Code(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	if _, err := exec.LookPath("oathtool"); err != nil {
		gpgtest.Skip(t, "oathtool is not installed (apt-get install oathtool)")
	}
	out, err := exec.Command("oathtool", "--totp", "--base32", "--digits=6", "--time-step-size=30s",
		"--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool: %v\n%s", err, out)
	}
	return strings.TrimSpace(string(out))
}
