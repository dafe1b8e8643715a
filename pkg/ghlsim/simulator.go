package ghlsim

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	_ "time/tzdata" // location time zones work on machines without zoneinfo
)

// Options configures a Simulator.
type Options struct {
	// Seed names the initial data: "demo" (the default when empty) seeds a
	// company, one app and several locations full of tags, accounts, posts
	// and contacts; "empty" seeds a company and one app, and no location.
	Seed string
	// Now is the clock; nil means time.Now. Token expiry, rate limits,
	// statistics days and the request log read it.
	Now func() time.Time
}

// LocationInfo describes a location for people: its id, name, IANA time
// zone and Private Integration Token.
type LocationInfo struct {
	ID       string
	Name     string
	Timezone string
	Token    string
}

// App is a marketplace app's OAuth client credentials and the company that
// installed it.
type App struct {
	ClientID     string
	ClientSecret string
	CompanyID    string
}

// Simulator is an http.Handler that behaves like HighLevel's API. Create one
// with New.
type Simulator struct {
	now      func() time.Time
	seed     string
	mux      *http.ServeMux
	adminMux *http.ServeMux

	locations sync.Map // location id → *location
	contacts  sync.Map // contact id → *location
	tokens    sync.Map // bearer token → *grant

	createMu sync.Mutex // serializes admin calls that create locations or contacts

	mu      sync.Mutex // guards the fields below
	order   []*location
	rng     *rand.Rand // ids of locations created through the admin API
	company company
	apps    []*app

	oauth  oauthState
	config atomic.Pointer[config]
	faults faultInjector
	log    *requestLog
	bufs   bufPool
	recs   sync.Pool

	// clockOffset shifts the clock (PUT /_sandbox/clock), in nanoseconds.
	clockOffset atomic.Int64
}

// New returns a Simulator loaded with the data of opts.Seed. It returns an
// error wrapping ErrUnknownSeed for a seed it does not know.
func New(opts Options) (*Simulator, error) {
	seed := opts.Seed
	if seed == "" {
		seed = "demo"
	}
	if seed != "demo" && seed != "empty" {
		return nil, fmt.Errorf("%w %q: want \"demo\" or \"empty\"", ErrUnknownSeed, opts.Seed)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Simulator{
		seed: seed,
		rng:  seededRand(seed, "admin"),
		log:  newRequestLog(requestLogSize),
	}
	s.now = func() time.Time { return now().Add(time.Duration(s.clockOffset.Load())) }
	s.config.Store(defaultConfig())
	s.faults.set(faultSettings{})
	s.oauth.init()
	if err := s.seedData(seed); err != nil {
		return nil, fmt.Errorf("seed %s: %w", seed, err)
	}
	s.mux = s.apiRoutes()
	s.adminMux = s.adminRoutes()
	return s, nil
}

// seededRand returns a deterministic generator for the seed and a purpose.
func seededRand(seed, purpose string) *rand.Rand {
	return rand.New(rand.NewChaCha8(sha256.Sum256([]byte("ghlsim/" + seed + "/" + purpose))))
}

// endpoint is one of HighLevel's endpoints the simulator serves behind
// authentication, with the scope its token needs (the simulator's own
// table: a test checks it against the OpenAPI files and the client's).
type endpoint struct {
	pattern string
	need    scope
	acc     access
	h       handlerFunc
}

// endpoints lists the authenticated endpoints.
func (s *Simulator) endpoints() []endpoint {
	return []endpoint{
		{"GET /social-media-posting/{locationId}/tags", scopeTagRead, accessPath, s.listSocialTags},
		{"POST /social-media-posting/{locationId}/tags/details", scopeTagRead, accessPath, s.socialTagDetails},
		{"GET /social-media-posting/{locationId}/accounts", scopeAccountRead, accessPath, s.listAccounts},
		{"POST /social-media-posting/statistics", scopeStatisticsRead, accessHandler, s.statistics},
		{"POST /social-media-posting/{locationId}/posts/list", scopePostRead, accessPath, s.listPosts},
		{"GET /social-media-posting/{locationId}/posts/{id}", scopePostRead, accessPath, s.getPost},
		{"POST /contacts/{contactId}/tags", scopeContactsWrite, accessHandler, s.addTagsToContact},
		{"DELETE /contacts/{contactId}/tags", scopeContactsWrite, accessHandler, s.removeTagsFromContact},
		{"POST /contacts/bulk/tags/update/{type}", scopeContactsWrite, accessHandler, s.bulkContactTags},
		{"POST /contacts/search", scopeContactsRead, accessHandler, s.searchContacts},
		{"GET /contacts/search/duplicate", scopeContactsRead, accessHandler, s.duplicateContact},
		{"POST /contacts/upsert", scopeContactsWrite, accessHandler, s.upsertContact},
		{"PUT /contacts/{contactId}", scopeContactsWrite, accessHandler, s.updateContact},
		{"GET /locations/{locationId}", scopeLocationsRead, accessPath, s.getLocation},
		{"GET /locations/{locationId}/tags", scopeLocationTagsRead, accessPath, s.listLocationTags},
		{"POST /locations/{locationId}/tags", scopeLocationTagsWrite, accessPath, s.createLocationTag},
		{"DELETE /locations/{locationId}/tags/{tagId}", scopeLocationTagsWrite, accessPath, s.deleteLocationTag},
		{"GET /locations/{locationId}/customValues", scopeCustomValuesRead, accessPath, s.listCustomValues},
		{"GET /locations/{locationId}/customFields", scopeCustomFieldsRead, accessPath, s.listCustomFields},
		{"POST /locations/{locationId}/customValues", scopeCustomValuesWrite, accessPath, s.createCustomValue},
		{"GET /locations/{locationId}/customValues/{id}", scopeCustomValuesRead, accessPath, s.getCustomValue},
		{"PUT /locations/{locationId}/customValues/{id}", scopeCustomValuesWrite, accessPath, s.updateCustomValue},
		{"DELETE /locations/{locationId}/customValues/{id}", scopeCustomValuesWrite, accessPath, s.deleteCustomValue},
		{"POST /oauth/locationToken", scopeOAuthWrite, accessCompany, s.locationToken},
		{"GET /oauth/installedLocations", scopeOAuthRead, accessCompany, s.installedLocations},
	}
}

// apiRoutes registers HighLevel's endpoints. The catch-all answers like
// NestJS: 404 "Cannot METHOD /path", also for a known path with another
// method.
func (s *Simulator) apiRoutes() *http.ServeMux {
	m := http.NewServeMux()
	for _, e := range s.endpoints() {
		m.Handle(e.pattern, s.api(e.need, e.acc, e.h))
	}
	m.HandleFunc("GET /oauth/chooselocation", s.chooseLocation)
	m.HandleFunc("GET /v2/oauth/chooselocation", s.chooseLocation)
	m.HandleFunc("POST /oauth/chooselocation", s.consent)
	m.HandleFunc("POST /v2/oauth/chooselocation", s.consent)
	m.HandleFunc("POST /oauth/token", s.token)

	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeNotFound(w, "Cannot "+r.Method+" "+r.URL.Path)
	})
	return m
}

// ServeHTTP answers one request: /_sandbox/ requests go to the admin API;
// every other request may meet an injected fault, is served as HighLevel
// would, and is recorded in the request log.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_sandbox" || strings.HasPrefix(r.URL.Path, "/_sandbox/") {
		s.adminMux.ServeHTTP(w, r)
		return
	}
	// A request counts when it arrives, as HighLevel's window counts it:
	// one that hangs (an injected timeout) is logged at its arrival, not
	// when the client gave up.
	at := s.now()
	rec, _ := s.recs.Get().(*recorder)
	if rec == nil {
		rec = new(recorder)
	}
	*rec = recorder{ResponseWriter: w, sim: s}
	if !s.injectFault(rec, r) {
		s.mux.ServeHTTP(rec, r)
	}
	path := r.RequestURI
	if path == "" {
		path = r.URL.RequestURI()
	}
	s.log.add(r.Method, path, rec.status, rec.location, at, rec.tagWrites, r.Header.Get("traceparent"), rec.fault)
	*rec = recorder{}
	s.recs.Put(rec)
}

// Locations returns the locations in creation order.
func (s *Simulator) Locations() []LocationInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]LocationInfo, 0, len(s.order))
	for _, l := range s.order {
		out = append(out, LocationInfo{ID: l.id, Name: l.name, Timezone: l.timezone, Token: l.pit})
	}
	return out
}

// Apps returns the marketplace apps whose clients may use OAuth.
func (s *Simulator) Apps() []App {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]App, 0, len(s.apps))
	for _, a := range s.apps {
		out = append(out, App{ClientID: a.clientID, ClientSecret: a.clientSecret, CompanyID: a.companyID})
	}
	return out
}

// location returns the location with id, or nil.
func (s *Simulator) location(id string) *location {
	v, ok := s.locations.Load(id)
	if !ok {
		return nil
	}
	return v.(*location)
}

// publish makes l visible: to lookups, listings and its PIT.
func (s *Simulator) publish(l *location) {
	s.locations.Store(l.id, l)
	s.tokens.Store(l.pit, &grant{
		kind: grantPIT, locationID: l.id, companyID: l.companyID,
		userID: l.user.ID, scopes: scopeAllLocation,
	})
	for _, c := range l.contacts {
		s.contacts.Store(c.ID, l)
	}
	s.mu.Lock()
	s.order = append(s.order, l)
	s.mu.Unlock()
}

// appByClientID returns the app with clientID, or nil.
func (s *Simulator) appByClientID(clientID string) *app {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.apps {
		if a.clientID == clientID {
			return a
		}
	}
	return nil
}

// companyLocations returns the company's locations in creation order.
func (s *Simulator) companyLocations(companyID string) []*location {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*location
	for _, l := range s.order {
		if l.companyID == companyID {
			out = append(out, l)
		}
	}
	return out
}

// recorder remembers the status and location of a response for the request
// log. It unwraps for http.ResponseController, so faults can hijack.
type recorder struct {
	http.ResponseWriter
	sim       *Simulator
	status    int
	location  string
	tagWrites []tagWrite
	// fault names the injected fault that answered the request, if any.
	fault string
}

// noteTagWrite records, for the request log, that a contact tag call asked
// contact id to gain (op "add") or lose ("remove") tags.
func noteTagWrite(w http.ResponseWriter, id, op string, tags []string) {
	if rec, ok := w.(*recorder); ok {
		rec.tagWrites = append(rec.tagWrites, tagWrite{ContactID: id, Op: op, Tags: slices.Clone(tags)})
	}
}

// WriteHeader records the first status.
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap returns the underlying writer for http.ResponseController.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// buffers lends writeJSON the simulator's buffer pool.
func (r *recorder) buffers() *bufPool { return &r.sim.bufs }
