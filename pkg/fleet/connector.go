package fleet

import (
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
)

// Connector returns the hosted OAuth flow's worker end over the process's
// store, client and app credentials (SOCIALSYNC_GHL_CLIENT_ID,
// SOCIALSYNC_GHL_CLIENT_SECRET), or nil in a process without the token
// key (the gateway).
func (d *Deps) Connector() *creds.Connector {
	if d.Creds == nil {
		return nil
	}
	return &creds.Connector{Store: d.Creds, Client: d.GHL, Log: d.Log,
		App: ghl.AppCredentials{ClientID: d.Config.GHLClientID, ClientSecret: d.Config.GHLClientSecret}}
}
