package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// A location connected with `socialsync connect` and exactly the scopes
// it asks for by default gets everything through the real workers:
// contact tags, tag details (TagDetailsStored) and statistics, with no
// call refused and no feature turned off.
func TestConnectedWithTheDefaultScopesEverythingArrives(t *testing.T) {
	env := fleettest.Start(t, "empty")
	var created struct {
		ID string `json:"id"`
	}
	env.Admin(t, http.MethodPost, "/_sandbox/locations", map[string]any{
		"timezone":   "UTC",
		"socialTags": []string{"Promo", "Tips"},
		"accounts":   []map[string]string{{"platform": "facebook"}, {"platform": "instagram"}},
		"contacts":   []map[string]any{{"firstName": "A"}, {"firstName": "B"}},
	}, &created)
	loc := created.ID
	a := env.Sim.Apps()[0]
	t.Setenv("SOCIALSYNC_TOKEN_KEY", env.Deps.Config.TokenKey)
	// The location-tag mirror (off by default) uses the location tag
	// scopes: on, so that every default scope is exercised.
	t.Setenv("SOCIALSYNC_ENRICHER_MIRROR_LOCATION_TAGS", "true")
	t.Setenv("SOCIALSYNC_GHL_CLIENT_ID", a.ClientID)
	t.Setenv("SOCIALSYNC_GHL_CLIENT_SECRET", a.ClientSecret)
	t.Setenv("SOCIALSYNC_GHL_BASE_URL", env.SimURL)
	t.Setenv("SOCIALSYNC_GHL_AUTH_URL", env.SimURL+"/oauth/chooselocation")

	authURL, out, errOut, done := startConnect(t, "--nats", env.URL(), "--location", loc, "--timezone", "UTC")
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	asked := strings.Fields(u.Query().Get("scope"))
	if !slices.Equal(asked, ghl.LocationScopes()) || !slices.Contains(asked, "locations/tags.readonly") {
		t.Fatalf("connect asked for %v, want the table's %v", asked, ghl.LocationScopes())
	}
	if status := playBrowser(t, authURL, ""); status != http.StatusOK {
		t.Fatalf("callback answered %d", status)
	}
	if code := exitCode(t, done); code != 0 {
		t.Fatalf("connect: exit %d: %s%s", code, out, errOut)
	}
	ctx := context.Background()
	st, err := env.Deps.Creds.Status(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if granted := slices.Sorted(slices.Values(st.Scopes)); !slices.Equal(granted, ghl.LocationScopes()) {
		t.Fatalf("token granted %v, want exactly %v", granted, ghl.LocationScopes())
	}

	detail := env.Location(t, loc)
	var tagIDs, contacts []string
	for _, tg := range detail.SocialTags {
		tagIDs = append(tagIDs, tg.ID)
	}
	for _, c := range detail.Contacts {
		contacts = append(contacts, c.ID)
	}

	components, err := Workers(env.Deps.Config, env.Deps)
	if err != nil {
		t.Fatal(err)
	}
	for _, comp := range components {
		fleettest.Run(t, comp.Run)
	}
	postSubject, _ := topology.PostTriggers.Subject(loc)
	if _, err := env.Deps.Publisher.Publish(ctx, postSubject, &socialsyncv1.PostEvent{LocationId: loc, PostId: "post1", TagIds: tagIDs,
		ContactIds: contacts, OccurredAt: timestamppb.New(time.Now()), EventId: "scopes-1"}); err != nil {
		t.Fatal(err)
	}
	statsSubject, _ := topology.StatsTriggers.Subject(loc)
	if _, err := env.Deps.Publisher.Publish(ctx, statsSubject, &socialsyncv1.StatsRequested{LocationId: loc, RequestedBy: "test", EventId: "scopes-2"}); err != nil {
		t.Fatal(err)
	}

	detailsSubject, _ := topology.TagDetailsEvents.Subject(loc)
	fleettest.Eventually(t, 30*time.Second, "tag details stored", func() bool {
		return len(bustest.Messages(t, env.JS, topology.StreamEvents, detailsSubject)) > 0
	})
	fleettest.Eventually(t, 30*time.Second, "contact tags applied", func() bool {
		detail = env.Location(t, loc)
		for _, c := range detail.Contacts {
			if !slices.ContainsFunc(c.Tags, func(s string) bool { return strings.Contains(s, "promo") }) ||
				!slices.ContainsFunc(c.Tags, func(s string) bool { return strings.Contains(s, "tips") }) {
				return false
			}
		}
		return true
	})
	history, err := env.JS.KeyValue(ctx, topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 30*time.Second, "statistics stored and followed up", func() bool {
		keys, err := history.ListKeys(ctx)
		if err != nil {
			return false
		}
		defer func() { _ = keys.Stop() }()
		for k := range keys.Keys() {
			if !strings.HasPrefix(k, loc+".") {
				continue
			}
			e, err := history.Get(ctx, k)
			var snap report.Record
			if err == nil && json.Unmarshal(e.Value(), &snap) == nil && snap.Followed {
				return true
			}
		}
		return false
	})

	for _, r := range env.Requests(t, loc) {
		if r.Status == http.StatusUnauthorized || r.Status == http.StatusForbidden {
			t.Errorf("%s %s answered %d with the default scopes", r.Method, r.Path, r.Status)
		}
	}
	l, err := env.Deps.Creds.Location(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	if l.State != creds.StateActive || len(l.Disabled) != 0 || l.Auth != creds.AuthOAuth {
		t.Errorf("location %+v; want active, OAuth, no feature off", l)
	}
	if n := env.Calls(t, loc, http.MethodGet, "/locations/"+loc+"/tags"); n == 0 {
		t.Error("the enricher never listed the location's contact tags")
	}
}

// A location connected without the location tag scopes and
// locations.readonly: doctor says the optional features run without them,
// and once a worker has turned them off, doctor and `locations list` show
// them off, with the scope, and the time zone as UTC, not HighLevel's.
func TestDoctorAndListShowFeaturesOff(t *testing.T) {
	env := bustest.Start(t, topology.Options{})
	sim, simURL, _ := oauthSandbox(t)
	loc := sim.Locations()[0].ID
	var scopes []string
	for _, s := range ghl.LocationScopes() {
		if !strings.HasPrefix(s, "locations/tags.") && s != "locations.readonly" {
			scopes = append(scopes, s)
		}
	}
	authURL, out, errOut, done := startConnect(t, "--nats", env.URL(), "--location", loc, "--scopes", strings.Join(scopes, ","))
	if status := playBrowser(t, authURL, ""); status != http.StatusOK {
		t.Fatalf("callback answered %d", status)
	}
	if code := exitCode(t, done); code != 0 {
		t.Fatalf("connect: exit %d: %s%s", code, out, errOut)
	}
	doc, _, _ := runCLI(t, "doctor", "--nats", env.URL(), "--location", loc)
	for _, want := range []string{"scope locations/tags.readonly was not granted: location_tags is off for this location",
		"scope locations.readonly was not granted: location_details is off for this location", "statistics run in the operator's time zone (--timezone), or UTC",
		"time zone: UTC (default), HighLevel's not read yet"} {
		if !strings.Contains(doc, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, doc)
		}
	}

	kr, err := keyring()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := creds.Open(ctx, env.JS, kr)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DisableFeature(ctx, loc, creds.FeatureLocationTags, "locations/tags.readonly"); err != nil {
		t.Fatal(err)
	}
	// As the stats worker does, through the location's token.
	tok, err := store.Token(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	gc, err := ghl.New(ghl.Options{BaseURL: simURL, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.LearnDetails(ctx, loc, gc.ForLocation(loc, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok.AccessToken}))); err != nil {
		t.Fatal(err)
	}
	doc, _, _ = runCLI(t, "doctor", "--nats", env.URL(), "--location", loc)
	if !strings.Contains(doc, "optional features: location_tags off since") || !strings.Contains(doc, "(HighLevel refused locations/tags.readonly); custom_values on") {
		t.Errorf("doctor output lacks the feature turned off:\n%s", doc)
	}
	list, errList, code := runCLI(t, "locations", "list", "--nats", env.URL())
	if code != 0 || !strings.Contains(list, "FEATURES OFF") || !strings.Contains(list, "location_tags (no locations/tags.readonly), location_details (no locations.readonly)") ||
		!strings.Contains(list, "UTC (default), not from HighLevel: no locations.readonly") || !strings.Contains(list, "active") {
		t.Errorf("list: exit %d: %s\n%s", code, errList, list)
	}
}
