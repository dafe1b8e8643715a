// Command enricher runs the socialsync enricher: tag details requests → stored details and mirrored contact tags; post triggers → post ↔ tag relations.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/enricher"
)

func main() {
	var cfg enricher.Config
	fleet.Main("enricher", "stores tag details and post-tag relations, mirrors tags into the contact tag catalogue", &cfg, &cfg.Config, enricher.New)
}
