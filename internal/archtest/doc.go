// Package archtest holds no code: its test enforces the import rules of
// DESIGN.md §2 on every package of the module.
//
// The test reads the import graph with `go list -e -deps -json ./...`, run
// from the module root, and checks:
//
//   - layering: each internal package belongs to one layer of the table in
//     DESIGN §2 and imports only its own layer and the layers below;
//     nothing imports app except cli, nothing imports cli except
//     cmd/sealpost; an internal package missing from the table fails, so
//     that where a new package sits is a deliberate decision;
//   - test support: gpgtest, openssltest, clienttest, memtest, benchdir,
//     postfixtest, pgtest and archtest are imported only by _test.go files;
//   - the bans of DESIGN §2 (config, I/O, transports, SQL drivers, the
//     OpenPGP library) and §6 (never golang.org/x/crypto/openpgp);
//   - the sealpost binary does not link package testing.
//
// Only non-test imports are checked: a _test.go file may import what its
// package may not. Imports are checked directly, not transitively: the
// standard library itself reaches os and net from fmt and net/mail.
//
// Every violation is reported in one run, each as "importer → import: rule".
// The test skips when the go command is not on PATH.
package archtest
