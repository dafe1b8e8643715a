package ghlsim

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
)

// adminRoutes registers the /_sandbox admin API. It needs no token and is
// not part of HighLevel's surface; its errors are {"error": "..."}.
func (s *Simulator) adminRoutes() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("GET /_sandbox/locations", s.adminListLocations)
	m.HandleFunc("POST /_sandbox/locations", s.adminCreateLocation)
	m.HandleFunc("GET /_sandbox/locations/{id}", s.adminGetLocation)
	m.HandleFunc("POST /_sandbox/locations/{id}/socialTags", s.adminCreateSocialTag)
	m.HandleFunc("PUT /_sandbox/locations/{id}/socialTags/{tagId}", s.adminRenameSocialTag)
	m.HandleFunc("DELETE /_sandbox/locations/{id}/socialTags/{tagId}", s.adminDeleteSocialTag)
	m.HandleFunc("POST /_sandbox/locations/{id}/accounts", s.adminCreateAccount)
	m.HandleFunc("POST /_sandbox/locations/{id}/posts", s.adminCreatePost)
	m.HandleFunc("POST /_sandbox/locations/{id}/contacts", s.adminCreateContact)
	m.HandleFunc("DELETE /_sandbox/locations/{id}/contacts/{contactId}", s.adminDeleteContact)
	m.HandleFunc("GET /_sandbox/apps", s.adminApps)
	m.HandleFunc("POST /_sandbox/locations/{id}/uninstall", s.adminUninstall)
	m.HandleFunc("GET /_sandbox/requests", s.adminRequests)
	m.HandleFunc("GET /_sandbox/faults", s.adminGetFaults)
	m.HandleFunc("PUT /_sandbox/faults", s.adminPutFaults)
	m.HandleFunc("GET /_sandbox/config", s.adminGetConfig)
	m.HandleFunc("PUT /_sandbox/config", s.adminPutConfig)
	m.HandleFunc("PUT /_sandbox/locations/{id}/statistics", s.adminPutStatistics)
	m.HandleFunc("PUT /_sandbox/clock", s.adminPutClock)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeAdminError(w, http.StatusNotFound, "no admin route "+r.Method+" "+r.URL.Path)
	})
	return m
}

// adminLocation is a location in GET /_sandbox/locations.
type adminLocation struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Token    string `json:"token"`
	Timezone string `json:"timezone"`
}

// TagView is a Social Planner tag in GET /_sandbox/locations/{id}.
type TagView struct {
	ID      string `json:"_id"`
	Tag     string `json:"tag"`
	Deleted bool   `json:"deleted,omitempty"`
}

// AccountView is a social account in GET /_sandbox/locations/{id}.
type AccountView struct {
	ID        string `json:"id"`
	ProfileID string `json:"profileId"`
	Platform  string `json:"platform"`
	Name      string `json:"name"`
}

// ContactView is a contact in the admin API (GET /_sandbox/locations/{id},
// and the answer of creating or deleting one).
type ContactView struct {
	ID         string   `json:"id"`
	LocationID string   `json:"locationId,omitempty"`
	Email      string   `json:"email,omitempty"`
	Phone      string   `json:"phone,omitempty"`
	Tags       []string `json:"tags"`
	Deleted    bool     `json:"deleted,omitempty"`
	// CustomFields are the contact's custom field values by field key.
	CustomFields map[string]any `json:"customFields,omitempty"`
}

// CustomValueView is a custom value in GET /_sandbox/locations/{id}.
type CustomValueView struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

// LocationView is the admin API's answer to GET /_sandbox/locations/{id}:
// a copy of the location's state, for tests (fleettest.Location) and the
// demo of `socialsync run` to read. It is not part of HighLevel's surface.
type LocationView struct {
	ID           string            `json:"id"`
	Name         string            `json:"name"`
	Token        string            `json:"token"`
	Timezone     string            `json:"timezone"`
	SocialTags   []TagView         `json:"socialTags"`
	Accounts     []AccountView     `json:"accounts"`
	Contacts     []ContactView     `json:"contacts"`
	LocationTags []string          `json:"locationTags"`
	CustomValues []CustomValueView `json:"customValues"`
}

// Live returns a copy of l without its deleted social tags and contacts
// (the demo seed has some on purpose).
func (l LocationView) Live() LocationView {
	l.SocialTags = slices.DeleteFunc(slices.Clone(l.SocialTags), func(t TagView) bool { return t.Deleted })
	l.Contacts = slices.DeleteFunc(slices.Clone(l.Contacts), func(c ContactView) bool { return c.Deleted })
	return l
}

// readAdminBody decodes an optional JSON body strictly: unknown fields are
// errors. It answers 400 and returns false on a bad body.
func readAdminBody(w http.ResponseWriter, r *http.Request, dst any) (present, ok bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, "body: cannot read it (limit 1 MiB)")
		return false, false
	}
	if strings.TrimSpace(string(data)) == "" {
		return false, true
	}
	if err := decodeStrict(data, dst); err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return true, false
	}
	return true, true
}

// adminLocationFor returns the location named by the path's {id}, or
// answers 404.
func (s *Simulator) adminLocationFor(w http.ResponseWriter, r *http.Request) *location {
	l := s.location(r.PathValue("id"))
	if l == nil {
		writeAdminError(w, http.StatusNotFound, "location "+quote(r.PathValue("id"))+" not found")
	}
	return l
}

func (s *Simulator) adminListLocations(w http.ResponseWriter, r *http.Request) {
	out := []adminLocation{}
	for _, l := range s.Locations() {
		out = append(out, adminLocation{ID: l.ID, Name: l.Name, Token: l.Token, Timezone: l.Timezone})
	}
	writeJSON(w, http.StatusOK, map[string]any{"locations": out})
}

func (s *Simulator) adminGetLocation(w http.ResponseWriter, r *http.Request) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return
	}
	d := LocationView{
		ID: l.id, Name: l.name, Token: l.pit, Timezone: l.timezone,
		SocialTags: []TagView{}, Accounts: []AccountView{}, Contacts: []ContactView{},
		LocationTags: []string{}, CustomValues: []CustomValueView{},
	}
	l.mu.RLock()
	for _, t := range l.tags {
		d.SocialTags = append(d.SocialTags, TagView{ID: t.ID, Tag: t.Tag, Deleted: t.Deleted})
	}
	for _, a := range l.accounts {
		d.Accounts = append(d.Accounts, AccountView{ID: a.ID, ProfileID: a.ProfileID, Platform: a.Platform, Name: a.Name})
	}
	for _, c := range l.contacts {
		ac := toAdminContact(c, false)
		ac.CustomFields = l.customFieldValues(c)
		d.Contacts = append(d.Contacts, ac)
	}
	for _, t := range l.locTags {
		d.LocationTags = append(d.LocationTags, t.Name)
	}
	for _, cv := range l.customValues {
		d.CustomValues = append(d.CustomValues, CustomValueView{ID: cv.ID, Name: cv.Name, Value: cv.Value})
	}
	l.mu.RUnlock()
	writeJSON(w, http.StatusOK, d)
}

// toAdminContact copies a contact for the admin API. Callers hold mu.
func toAdminContact(c *contact, withLocation bool) ContactView {
	out := ContactView{ID: c.ID, Email: c.Email, Phone: c.Phone, Tags: append([]string{}, c.Tags...), Deleted: c.deleted}
	if withLocation {
		out.LocationID = c.LocationID
	}
	return out
}

func (s *Simulator) adminCreateLocation(w http.ResponseWriter, r *http.Request) {
	var spec locationSpec
	if _, ok := readAdminBody(w, r, &spec); !ok {
		return
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	if spec.ID == "" {
		s.mu.Lock()
		for spec.ID == "" || s.location(spec.ID) != nil {
			spec.ID = alnumID(s.rng, 20)
		}
		s.mu.Unlock()
	} else if s.location(spec.ID) != nil {
		writeAdminError(w, http.StatusConflict, "id: location "+quote(spec.ID)+" already exists")
		return
	}
	l, err := s.buildLocation(spec, s.now().UTC().Truncate(time.Millisecond))
	if err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.publish(l)
	s.emitInstall(l)
	writeJSON(w, http.StatusCreated, map[string]string{"id": l.id, "token": l.pit})
}

// tagBody is the body of the admin tag calls.
type tagBody struct {
	Tag string `json:"tag"`
}

// adminTagRequest reads the location and the tag name of an admin tag call,
// answering the error itself when either is wrong.
func (s *Simulator) adminTagRequest(w http.ResponseWriter, r *http.Request) (*location, string, bool) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return nil, "", false
	}
	var body tagBody
	if _, ok := readAdminBody(w, r, &body); !ok {
		return nil, "", false
	}
	name := strings.TrimSpace(body.Tag)
	if name == "" {
		writeAdminError(w, http.StatusBadRequest, "tag: want a non-empty tag name")
		return nil, "", false
	}
	return l, name, true
}

func (s *Simulator) adminCreateSocialTag(w http.ResponseWriter, r *http.Request) {
	l, name, ok := s.adminTagRequest(w, r)
	if !ok {
		return
	}
	l.mu.Lock()
	if l.liveTagNamed(name) != nil {
		l.mu.Unlock()
		writeAdminError(w, http.StatusConflict, "tag: "+quote(name)+" already exists in the location")
		return
	}
	t := l.addSocialTag(name, s.now().UTC().Truncate(time.Millisecond)).SocialTag
	l.mu.Unlock()
	writeJSON(w, http.StatusCreated, t)
}

func (s *Simulator) adminRenameSocialTag(w http.ResponseWriter, r *http.Request) {
	l, name, ok := s.adminTagRequest(w, r)
	if !ok {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tagByID[r.PathValue("tagId")]
	switch {
	case t == nil:
		writeAdminError(w, http.StatusNotFound, "tagId: tag "+quote(r.PathValue("tagId"))+" not found")
		return
	case t.Deleted:
		writeAdminError(w, http.StatusConflict, "tagId: tag "+quote(t.ID)+" is deleted")
		return
	}
	if other := l.liveTagNamed(name); other != nil && other != t {
		writeAdminError(w, http.StatusConflict, "tag: "+quote(name)+" already exists in the location")
		return
	}
	t.Tag = name
	t.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
	t.refresh()
	writeJSON(w, http.StatusOK, t.SocialTag)
}

func (s *Simulator) adminDeleteSocialTag(w http.ResponseWriter, r *http.Request) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.tagByID[r.PathValue("tagId")]
	if t == nil {
		writeAdminError(w, http.StatusNotFound, "tagId: tag "+quote(r.PathValue("tagId"))+" not found")
		return
	}
	if !t.Deleted {
		t.Deleted = true
		t.UpdatedAt = s.now().UTC().Truncate(time.Millisecond)
		t.refresh()
	}
	writeJSON(w, http.StatusOK, t.SocialTag)
}

func (s *Simulator) adminCreateAccount(w http.ResponseWriter, r *http.Request) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return
	}
	var body accountSpec
	if _, ok := readAdminBody(w, r, &body); !ok {
		return
	}
	if !isPlatform(body.Platform) {
		writeAdminError(w, http.StatusBadRequest, "platform: want one of "+strings.Join(platforms(), ", ")+", got "+quote(body.Platform))
		return
	}
	l.mu.Lock()
	a := l.addAccount(body.Platform, body.Name, s.now())
	l.mu.Unlock()
	writeJSON(w, http.StatusCreated, a)
}

// postSpec is the body of POST /_sandbox/locations/{id}/posts.
type postSpec struct {
	Tags        []string `json:"tags"`
	Platform    string   `json:"platform"`
	Status      string   `json:"status"`
	Type        string   `json:"type"`
	Summary     string   `json:"summary"`
	DisplayDate string   `json:"displayDate"`
}

func (s *Simulator) adminCreatePost(w http.ResponseWriter, r *http.Request) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return
	}
	var spec postSpec
	if _, ok := readAdminBody(w, r, &spec); !ok {
		return
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	display := now
	if spec.DisplayDate != "" {
		t, ok := parseDate(spec.DisplayDate)
		if !ok {
			writeAdminError(w, http.StatusBadRequest, "displayDate: want an ISO 8601 date-time, got "+quote(spec.DisplayDate))
			return
		}
		display = t
	}
	if spec.Status == "" {
		spec.Status = "published"
	}
	switch spec.Status {
	case "in_progress", "draft", "failed", "published", "scheduled", "in_review", "notification_sent", "deleted":
	default:
		writeAdminError(w, http.StatusBadRequest, "status: want one of in_progress, draft, failed, published, scheduled, in_review, notification_sent, deleted")
		return
	}
	if spec.Type == "" {
		spec.Type = "post"
	}
	if spec.Type != "post" && spec.Type != "story" && spec.Type != "reel" {
		writeAdminError(w, http.StatusBadRequest, "type: want post, story or reel")
		return
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	var acct *ghl.Account
	for i := range l.accounts {
		if spec.Platform == "" || l.accounts[i].Platform == spec.Platform {
			acct = &l.accounts[i]
			break
		}
	}
	if spec.Platform == "" {
		spec.Platform = "facebook"
		if acct != nil {
			spec.Platform = acct.Platform
		}
	}
	switch spec.Platform {
	case "google", "facebook", "instagram", "linkedin", "twitter", "tiktok", "pinterest", "youtube":
	default:
		writeAdminError(w, http.StatusBadRequest, "platform: want google, facebook, instagram, linkedin, twitter, tiktok, pinterest or youtube")
		return
	}
	tags := []string{}
	for i, id := range spec.Tags {
		if l.tagByID[id] == nil {
			writeAdminError(w, http.StatusBadRequest, fmt.Sprintf("tags[%d]: no tag with id %s in the location", i, quote(id)))
			return
		}
		tags = append(tags, id)
	}
	p := ghl.Post{
		Source: "composer", Platform: spec.Platform, DisplayDate: timePtr(display),
		CreatedAt: timePtr(now), UpdatedAt: timePtr(now), Summary: spec.Summary,
		Status: spec.Status, Type: spec.Type, Tags: tags,
	}
	if acct != nil {
		p.AccountID, p.AccountIDs = acct.ID, []string{acct.ID}
	}
	if spec.Status == "published" {
		p.PublishedAt = timePtr(display)
	}
	writeJSON(w, http.StatusCreated, clonePost(l.addPost(p)))
}

func (s *Simulator) adminCreateContact(w http.ResponseWriter, r *http.Request) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return
	}
	var spec contactSpec
	if _, ok := readAdminBody(w, r, &spec); !ok {
		return
	}
	s.createMu.Lock()
	defer s.createMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if spec.ID == "" {
		for spec.ID == "" || s.contactExists(spec.ID) {
			spec.ID = alnumID(l.rng, 20)
		}
	}
	if !isFirebaseID(spec.ID) {
		writeAdminError(w, http.StatusBadRequest, "id: want 20 letters and digits, got "+quote(spec.ID))
		return
	}
	if s.contactExists(spec.ID) {
		writeAdminError(w, http.StatusConflict, "id: contact "+quote(spec.ID)+" already exists")
		return
	}
	at := s.now().UTC().Truncate(time.Millisecond)
	c := l.addContact(spec, at)
	c.createdAt = at
	s.contacts.Store(c.ID, l)
	writeJSON(w, http.StatusCreated, toAdminContact(c, true))
}

// contactExists reports whether any location has a contact with id.
func (s *Simulator) contactExists(id string) bool {
	_, ok := s.contacts.Load(id)
	return ok
}

func (s *Simulator) adminDeleteContact(w http.ResponseWriter, r *http.Request) {
	l := s.adminLocationFor(w, r)
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	c := l.contactByID[r.PathValue("contactId")]
	if c == nil {
		writeAdminError(w, http.StatusNotFound, "contactId: contact "+quote(r.PathValue("contactId"))+" not found in the location")
		return
	}
	if !c.deleted {
		c.deleted = true
		s.emitContact(WebhookContactDelete, c)
	}
	writeJSON(w, http.StatusOK, toAdminContact(c, true))
}

// adminApp is an app in GET /_sandbox/apps.
type adminApp struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	CompanyID    string `json:"companyId"`
	AppID        string `json:"appId"`
}

func (s *Simulator) adminApps(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := make([]adminApp, 0, len(s.apps))
	for _, a := range s.apps {
		out = append(out, adminApp{ClientID: a.clientID, ClientSecret: a.clientSecret, CompanyID: a.companyID, AppID: a.appID})
	}
	s.mu.Unlock()
	// HighLevel signs every app's webhooks with one key.
	writeJSON(w, http.StatusOK, map[string]any{"apps": out, "webhookPublicKey": s.WebhookPublicKey()})
}

func (s *Simulator) adminRequests(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeAdminError(w, http.StatusBadRequest, "limit: want a positive integer, got "+quote(v))
			return
		}
		limit = n
	}
	writeJSON(w, http.StatusOK, map[string]any{"requests": s.log.entries(q.Get("location"), limit)})
}

func (s *Simulator) adminGetFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.faults.get())
}

// adminPutFaults replaces the fault settings: absent fields are zero, so
// PUT {} turns every fault off.
func (s *Simulator) adminPutFaults(w http.ResponseWriter, r *http.Request) {
	var f faultSettings
	if _, ok := readAdminBody(w, r, &f); !ok {
		return
	}
	if err := f.validate(); err != nil {
		writeAdminError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.faults.set(f)
	writeJSON(w, http.StatusOK, f)
}

func (s *Simulator) adminGetConfig(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.config.Load().toJSON())
}

// adminPutConfig applies a partial update of the configuration.
func (s *Simulator) adminPutConfig(w http.ResponseWriter, r *http.Request) {
	var p configPatch
	if _, ok := readAdminBody(w, r, &p); !ok {
		return
	}
	for {
		cur := s.config.Load()
		next, err := cur.apply(p)
		if err != nil {
			writeAdminError(w, http.StatusBadRequest, err.Error())
			return
		}
		if s.config.CompareAndSwap(cur, next) {
			writeJSON(w, http.StatusOK, next.toJSON())
			return
		}
	}
}
