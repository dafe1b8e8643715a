// Command fetcher runs the socialsync fetcher: post triggers → coalesced tag catalogue refreshes → tag change events and tag details requests.
// Configuration comes from SOCIALSYNC_* variables; --help lists them.
package main

import (
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/fetcher"
)

func main() {
	var cfg fetcher.Config
	fleet.Main("fetcher", "refreshes Social Planner tag catalogues on post triggers and reports tag changes", &cfg, &cfg.Config, fetcher.New)
}
