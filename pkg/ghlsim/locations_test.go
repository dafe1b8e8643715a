package ghlsim

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/socialsync/socialsync/pkg/ghl"
)

func TestLocationTags(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(2)
	path := "/locations/" + loc.ID + "/tags"

	var created ghl.LocationTagResponse
	e.api("POST", path, loc.Token, ghl.LocationTagBody{Name: "Segment:Engaged"}).want(t, http.StatusOK).decode(t, &created)
	if created.Tag.Name != "segment:engaged" || created.Tag.LocationID != loc.ID || !isFirebaseID(created.Tag.ID) {
		t.Errorf("created = %+v", created.Tag)
	}
	var again ghl.LocationTagResponse
	e.api("POST", path, loc.Token, ghl.LocationTagBody{Name: "segment:engaged"}).want(t, http.StatusOK).decode(t, &again)
	if diff := cmp.Diff(created, again); diff != "" {
		t.Errorf("duplicate name (-first +second):\n%s", diff)
	}

	var list ghl.LocationTagsResponse
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK).decode(t, &list)
	var names []string
	count := 0
	for _, tg := range list.Tags {
		names = append(names, tg.Name)
		if tg.Name == "segment:engaged" {
			count++
		}
	}
	if count != 1 {
		t.Errorf("segment:engaged appears %d times", count)
	}
	if diff := cmp.Diff(e.detail(loc.ID).LocationTags, names); diff != "" {
		t.Errorf("catalogue vs admin view (-admin +api):\n%s", diff)
	}
	e.api("POST", path, loc.Token, map[string]any{"name": "  "}).wantError(t, http.StatusUnprocessableEntity, "name")
	e.api("POST", "/locations/"+e.loc(0).ID+"/tags", loc.Token, ghl.LocationTagBody{Name: "x"}).wantError(t, http.StatusForbidden, msgNoLocation)

	// A deleted tag leaves the catalogue; an unknown id is refused.
	e.api("DELETE", path+"/"+created.Tag.ID, loc.Token, nil).want(t, http.StatusOK)
	e.api("DELETE", path+"/"+created.Tag.ID, loc.Token, nil).wantError(t, http.StatusBadRequest, "not found")
	for _, n := range e.detail(loc.ID).LocationTags {
		if n == "segment:engaged" {
			t.Error("segment:engaged still in the catalogue after its deletion")
		}
	}
	var recreated ghl.LocationTagResponse
	e.api("POST", path, loc.Token, ghl.LocationTagBody{Name: "segment:engaged"}).want(t, http.StatusOK).decode(t, &recreated)
	if recreated.Tag.ID == created.Tag.ID {
		t.Error("a tag created again kept the deleted one's id")
	}
}

func TestCustomValues(t *testing.T) {
	e := newEnv(t, "demo")
	loc := e.loc(0)
	path := "/locations/" + loc.ID + "/customValues"

	var created ghl.CustomValueResponse
	e.api("POST", path, loc.Token, ghl.CustomValueBody{Name: "Best Posting Day (Instagram)", Value: "Tuesday"}).
		want(t, http.StatusCreated).decode(t, &created)
	want := ghl.CustomValue{
		ID: created.CustomValue.ID, Name: "Best Posting Day (Instagram)",
		FieldKey: "{{ custom_values.best_posting_day_instagram }}", Value: "Tuesday", LocationID: loc.ID,
	}
	if diff := cmp.Diff(want, created.CustomValue); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	e.api("POST", path, loc.Token, ghl.CustomValueBody{Name: "best posting day instagram", Value: "x"}).
		wantError(t, http.StatusBadRequest, "already exists")

	var updated ghl.CustomValueResponse
	e.api("PUT", path+"/"+want.ID, loc.Token, ghl.CustomValueBody{Name: want.Name, Value: "Thursday"}).
		want(t, http.StatusOK).decode(t, &updated)
	want.Value = "Thursday"
	if diff := cmp.Diff(want, updated.CustomValue); diff != "" {
		t.Errorf("updated (-want +got):\n%s", diff)
	}
	var one ghl.CustomValueResponse
	e.api("GET", path+"/"+want.ID, loc.Token, nil).want(t, http.StatusOK).decode(t, &one)
	if diff := cmp.Diff(want, one.CustomValue); diff != "" {
		t.Errorf("get (-want +got):\n%s", diff)
	}

	var list ghl.CustomValuesResponse
	e.api("GET", path, loc.Token, nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.CustomValues) < 2 || list.CustomValues[len(list.CustomValues)-1] != want {
		t.Errorf("list = %+v", list.CustomValues)
	}

	e.api("POST", path, loc.Token, map[string]any{"name": "only name"}).wantError(t, http.StatusUnprocessableEntity, "value")
	e.api("PUT", path+"/nope", loc.Token, ghl.CustomValueBody{Name: "a", Value: "b"}).wantError(t, http.StatusBadRequest, "not found")
}
