package ghlsim

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"time"
)

// HighLevel's app install webhooks, as the simulator sends them (to the
// webhook URL of PUT /_sandbox/config, signed like the contact webhooks):
//
//   - INSTALL (installType "Location") for each sub-account created through
//     the admin API while installWebhooks is on: the app is installed on
//     the agency's future locations, and a new sub-account gets it;
//   - UNINSTALL for POST /_sandbox/locations/{id}/uninstall, which also
//     revokes the location's OAuth tokens, keeps the location out of
//     GET /oauth/installedLocations and refuses it a location token, until
//     an authorization approves it again.
//
// The payload's fields are those of HighLevel's AppInstall page
// (webhook events/AppInstall.md); installType "Location" and "Company"
// are what the docs show (assumed: the simulator sends "Location").
const (
	WebhookInstall   = "INSTALL"
	WebhookUninstall = "UNINSTALL"
)

// installBody is an INSTALL or UNINSTALL webhook's body.
type installBody struct {
	Type        string `json:"type"`
	AppID       string `json:"appId"`
	VersionID   string `json:"versionId,omitempty"`
	InstallType string `json:"installType"`
	LocationID  string `json:"locationId,omitempty"`
	CompanyID   string `json:"companyId"`
	UserID      string `json:"userId,omitempty"`
	CompanyName string `json:"companyName,omitempty"`
	WebhookID   string `json:"webhookId"`
	Timestamp   string `json:"timestamp"`
}

// emitInstall sends INSTALL for l to every app of its company, when
// installWebhooks is on.
func (s *Simulator) emitInstall(l *location) {
	if cfg := s.config.Load(); cfg.installWebhooks {
		s.emitApp(cfg, WebhookInstall, l)
	}
}

// emitApp sends typ for l to every app of its company.
func (s *Simulator) emitApp(cfg *config, typ string, l *location) {
	if cfg.webhookURL == "" {
		return
	}
	s.mu.Lock()
	var apps []*app
	for _, a := range s.apps {
		if a.companyID == l.companyID {
			apps = append(apps, a)
		}
	}
	name, user := s.company.name, s.company.userID
	s.mu.Unlock()
	for _, a := range apps {
		id := make([]byte, 16)
		_, _ = rand.Read(id)
		s.send(cfg, installBody{Type: typ, AppID: a.appID, VersionID: a.versionID, InstallType: "Location", LocationID: l.id,
			CompanyID: l.companyID, UserID: user, CompanyName: name, WebhookID: hex.EncodeToString(id),
			Timestamp: s.now().UTC().Format(time.RFC3339Nano)})
	}
}

// adminUninstall answers POST /_sandbox/locations/{id}/uninstall: the app
// is uninstalled from the location (see above).
func (s *Simulator) adminUninstall(w http.ResponseWriter, r *http.Request) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return
	}
	l.uninstalled.Store(true)
	s.revoke(l.id)
	s.emitApp(s.config.Load(), WebhookUninstall, l)
	writeJSON(w, http.StatusOK, map[string]any{"id": l.id, "uninstalled": true})
}

// revoke forgets every OAuth access and refresh token of location loc.
func (s *Simulator) revoke(loc string) {
	s.tokens.Range(func(k, v any) bool {
		if g := v.(*grant); g.kind == grantLocation && g.locationID == loc {
			s.tokens.Delete(k)
		}
		return true
	})
	s.oauth.mu.Lock()
	defer s.oauth.mu.Unlock()
	for k, rg := range s.oauth.refresh {
		if rg.kind == grantLocation && rg.locationID == loc {
			delete(s.oauth.refresh, k)
		}
	}
}
