// Command sealpost is a secure email intermediary for groups: an
// OpenPGP-encrypted mailing list in one binary. Run `sealpost --help`.
package main

import (
	"os"

	"github.com/sealpost/sealpost/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
