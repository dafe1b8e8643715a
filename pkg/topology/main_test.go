package topology_test

import (
	"testing"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
)

func TestMain(m *testing.M) { bustest.VerifyTestMain(m) }
