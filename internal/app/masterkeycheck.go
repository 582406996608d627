package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/sealpost/sealpost/internal/keyring"
	"github.com/sealpost/sealpost/internal/store/sqlstore"
)

// masterKeyLabel and masterKeyProbe are what the database's master key
// check seals.
const (
	masterKeyLabel = "master-key-check"
	masterKeyProbe = "sealpost master key"
)

// errOtherMasterKey is Open's answer to a master key that did not seal
// the database's secrets.
var errOtherMasterKey = errors.New("the master key of this node is not the one that sealed this database's secrets: " +
	"every node that shares a database needs the same master key (copy secrets/master.key, or the sealpost-master-key credential, from a node that works); " +
	"with this one no list's key would open")

// checkMasterKey proves at start that sealer's master key is the
// database's: it opens the value the first node sealed. A database
// without one (new, or made before the check) gets one, but only after
// the key opened a list's key where there is a list, so that a node with
// a wrong key cannot make its key the reference.
func checkMasterKey(ctx context.Context, db *sqlstore.DB, sealer *keyring.Sealer) error {
	sealed, err := db.MasterKeyCheck(ctx)
	if err != nil {
		return err
	}
	if sealed == nil {
		lists, err := db.Lists(ctx)
		if err != nil {
			return err
		}
		if len(lists) > 0 {
			if _, err := sealer.OpenListKey(&lists[0]); err != nil {
				return fmt.Errorf("%w (list %s)", errOtherMasterKey, lists[0].Address)
			}
		}
		probe, err := sealer.Seal([]byte(masterKeyProbe), masterKeyLabel)
		if err != nil {
			return err
		}
		if sealed, err = db.SetMasterKeyCheck(ctx, probe); err != nil {
			return err
		}
	}
	plain, err := sealer.Open(sealed, masterKeyLabel)
	if err != nil || !bytes.Equal(plain, []byte(masterKeyProbe)) {
		return errOtherMasterKey
	}
	return nil
}
