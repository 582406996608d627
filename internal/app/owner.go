package app

import (
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/sealpost/sealpost/internal/hostcheck"
)

// checkOwner refuses root a data directory that belongs to another user
// (the Debian package's sealpost, the Postfix pipe's user). Files root
// made there (a new database log, the outbox, a key) would be root's,
// and the service and the pipe, which run as the owner, could then no
// longer open them: mail would wait until someone fixed the owners. A
// directory that does not exist yet, or is root's, is root's to use.
func checkOwner(dataDir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	fi, err := os.Stat(dataDir)
	if err != nil {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid == 0 {
		return nil
	}
	uid := int(st.Uid)
	name, sudo := hostcheck.UserName(uid), hostcheck.LoginName(uid)
	if sudo == strconv.Itoa(uid) {
		sudo = "'#" + sudo + "'" // sudo's form for a uid without a name
	}
	return &ConfigError{Problems: []string{fmt.Sprintf(
		"the data directory %s belongs to %s, and this command runs as root: run it as that user (sudo -u %s sealpost ...); files root made there would keep %s from opening them",
		dataDir, name, sudo, name)}}
}
