// Command stats runs the socialsync stats worker: it fetches every connected social account's statistics, daily by JetStream schedule and on request, and keeps a daily history.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/stats"
)

func main() {
	var cfg stats.Config
	fleet.Main("stats", "fetches every connected social account's statistics, daily by JetStream schedule and on request, and keeps a daily history", &cfg, &cfg.Config, stats.New)
}
