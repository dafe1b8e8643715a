package dashboard_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/socialsync/socialsync/pkg/topology"
)

// The first page lists every location with its health, the one in
// trouble first (its token record is gone), then the one with a dead
// letter; the columns sort; a location's name carries its id on hover
// and opens its panels.
func TestDashboardLocationsAtAGlance(t *testing.T) {
	exe := chromium(t)
	f := startFleet(t, nil)
	if len(f.Locations) < 3 {
		t.Fatalf("the test needs 3 demo locations, has %d", len(f.Locations))
	}
	dead, broken := f.Locations[0], f.Locations[1]
	f.deadLetter(t, dead.ID)
	tokens, err := f.JS.KeyValue(context.Background(), topology.BucketTokens)
	if err != nil {
		t.Fatal(err)
	}
	if err := tokens.Delete(context.Background(), broken.ID); err != nil {
		t.Fatal(err)
	}

	b := openBrowser(t, exe)
	b.run("sign in", chromedp.Navigate(f.url+"/"), b.visible("#apikey"),
		chromedp.SendKeys(chromedp.CSS("#apikey"), apiKey), chromedp.Click(chromedp.CSS("#signin-button")), b.visible("#app"))
	b.poll("every location listed", fmt.Sprintf(`document.querySelectorAll("#fleet-table tbody tr").length === %d`, len(f.Locations)))
	// The panel is the page's first.
	if first := b.eval(`document.querySelector("#app section").id`); first != "fleet" {
		t.Errorf("the first panel is %v", first)
	}
	column := func(expr string) []string {
		t.Helper()
		s := fmt.Sprint(b.eval(`Array.from(document.querySelectorAll("#fleet-table tbody tr"), (r) => ` + expr + `).join("\n")`))
		return strings.Split(s, "\n")
	}
	ids := column(`r.dataset.location`)
	health := column(`r.dataset.health`)
	if ids[0] != broken.ID || health[0] != "trouble" || ids[1] != dead.ID || health[1] != "warning" {
		t.Errorf("rows %v with health %v; want %s (trouble) then %s (warning) first", ids, health, broken.ID, dead.ID)
	}
	if s := b.text(fmt.Sprintf(`#fleet-table tr[data-location="%s"] .dead-letters`, dead.ID)); s != "1" {
		t.Errorf("dead letters of %s: %q", dead.ID, s)
	}
	title := b.eval(fmt.Sprintf(`document.querySelector('#fleet-table tr[data-location="%s"] .name button').title`, dead.ID))
	name := b.text(fmt.Sprintf(`#fleet-table tr[data-location="%s"] .name`, dead.ID))
	if title != dead.ID || dead.Name != "" && name != dead.Name {
		t.Errorf("name cell of %s: %q, title %v", dead.ID, name, title)
	}

	// Sorting by name, then the other way, then by dead letters.
	b.run("sort by name", chromedp.Click(chromedp.CSS(`#fleet-table th[data-sort="name"]`)))
	names := column(`r.querySelector(".name").textContent.toLowerCase()`)
	if !slices.IsSorted(names) {
		t.Errorf("sorted by name: %v", names)
	}
	b.run("sort by name, descending", chromedp.Click(chromedp.CSS(`#fleet-table th[data-sort="name"]`)))
	desc := column(`r.querySelector(".name").textContent.toLowerCase()`)
	slices.Reverse(desc)
	if !slices.Equal(desc, names) {
		t.Errorf("sorted by name, descending: %v", desc)
	}
	b.run("sort by dead letters", chromedp.Click(chromedp.CSS(`#fleet-table th[data-sort="deadLetters"]`)))
	if first := column(`r.dataset.location`)[0]; first != dead.ID {
		t.Errorf("sorted by dead letters, first: %s; want %s", first, dead.ID)
	}
	// A click on a name shows that location's panels.
	b.run("open a location", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#fleet-table tr[data-location="%s"] .name button`, dead.ID))))
	b.poll("the location chosen", fmt.Sprintf(`document.querySelector("#location").value === %q`, dead.ID))
	shot(t, b.ctx, "locations")
}
