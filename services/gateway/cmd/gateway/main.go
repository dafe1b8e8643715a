// Command gateway runs the socialsync gateway: signed webhook ingress, the REST API and the live dashboard.
// Configuration comes from SOCIALSYNC_* variables; --help lists them. It
// holds no token key and no client secret, and refuses to start with one.
package main

import (
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/services/gateway"
)

func main() {
	var cfg gateway.Config
	fleet.Main("gateway", "signed webhook ingress, REST API and live dashboard, on SOCIALSYNC_HTTP_ADDR", &cfg, &cfg.Config, fleet.Options{NoTokenKey: true}, gateway.New)
}
