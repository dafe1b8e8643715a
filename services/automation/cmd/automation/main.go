// Command automation runs the socialsync automation worker: it keeps segment membership and fires saved workflows.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"github.com/socialsync/socialsync/pkg/fleet"
	automationworker "github.com/socialsync/socialsync/services/automation"
)

func main() {
	var cfg automationworker.Config
	fleet.Main("automation", "keeps segment membership and fires saved workflows", &cfg, &cfg.Config, automationworker.New)
}
