package app_test

import (
	"testing"

	"github.com/sealpost/sealpost/internal/benchdir"
)

// The benchmarks keep their data directories and delivered copies until
// the package has finished (benchdir).
func TestMain(m *testing.M) { benchdir.Main(m) }
