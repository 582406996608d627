package admin_test

import (
	"context"
	"os"
	"testing"

	"github.com/sealpost/sealpost/internal/admin"
)

func TestZZDebug(t *testing.T) {
	ctx := context.Background()
	s, _ := keyService(t)
	g := newGPG(t)
	fpr := genKey(t, g, teamUserID, "")
	secret := g.ExportSecret(fpr)
	g.MustRun(nil, "--quick-set-expire", fpr, "2y")
	importOne(t, s, "team.asc", g.Export(fpr), admin.ImportOptions{})
	d := findOne(t, s, fpr, fpr)
	os.WriteFile("/tmp/old.pgp", d.Data, 0o644)
	r := importOne(t, s, "team-secret.asc", secret, admin.ImportOptions{})
	t.Logf("%+v", r)
	d = findOne(t, s, fpr, fpr)
	os.WriteFile("/tmp/new.pgp", d.Data, 0o644)
}
