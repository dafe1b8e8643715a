package dashboard_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// An admin edits a location's mapping and statistics schedule: what the
// gateway refuses shows next to the field at fault, and nothing is stored
// until the form is right.
func TestDashboardEditsSettings(t *testing.T) {
	exe := chromium(t)
	f := startFleet(t, nil)
	loc := f.Locations[0].ID
	b := openBrowser(t, exe)
	b.run("sign in", chromedp.Navigate(f.url+"/"), b.visible("#apikey"),
		chromedp.SendKeys(chromedp.CSS("#apikey"), apiKey), chromedp.Click(chromedp.CSS("#signin-button")), b.visible("#app"))
	b.eval(fmt.Sprintf(`const s = document.querySelector("#location"); s.value = %q; s.dispatchEvent(new Event("change")); true`, loc))
	b.poll("the location's settings", fmt.Sprintf(`document.querySelector("#settings-panel").dataset.location === %q`, loc))
	if v := b.eval(`document.querySelector("#set-contactTag").value`); v != "social:{{tagName}}" {
		t.Errorf("the default contact tag shown: %v", v)
	}
	set := func(sel, v string) { b.eval(fmt.Sprintf(`document.querySelector(%q).value = %q; true`, sel, v)) }

	// A tag template without text of its own, a field that is no
	// tag-detail field on line 2: both shown where they belong.
	set("#set-contactTag", "{{tagName}}")
	set("#set-contactFields", "tagName contact.last_tag\nnope contact.other")
	b.run("save the mapping", chromedp.Click(chromedp.CSS("#save-mapping")))
	b.poll("the problems next to their fields", `document.querySelector('[data-for="contactTag"]').textContent !== "" && document.querySelector('[data-for="contactFields"]').textContent !== ""`)
	if s := b.text(`[data-for="contactTag"]`); !strings.Contains(s, "needs text besides {{tagName}}") {
		t.Errorf("contact tag: %q", s)
	}
	if s := b.text(`[data-for="contactFields"]`); !strings.Contains(s, "line 2 (from)") || !strings.Contains(s, "nope") {
		t.Errorf("contact fields: %q", s)
	}
	if inv := b.eval(`document.querySelector("#set-contactTag").getAttribute("aria-invalid")`); inv != "true" {
		t.Errorf("contact tag marked invalid: %v", inv)
	}
	var got struct {
		MappingStored bool
		Mapping       struct{ ContactTag string }
		Stats         struct{ Cron, Timezone string }
	}
	f.apiGet(t, "/v1/locations/"+loc+"/settings", &got)
	if got.MappingStored {
		t.Errorf("a refused mapping was stored: %+v", got)
	}

	set("#set-contactTag", "fb:{{tagName}}")
	set("#set-contactFields", "tagName contact.last_tag")
	b.run("save the mapping again", chromedp.Click(chromedp.CSS("#save-mapping")))
	b.poll("the mapping saved", `document.querySelector("#mapping-saved").textContent.startsWith("Saved") && document.querySelector('[data-for="contactTag"]').textContent === ""`)

	// A five-field cron and a zone that is none.
	set("#set-cron", "0 6 * * *")
	set("#set-timezone", "Mars/Base")
	b.run("save the schedule", chromedp.Click(chromedp.CSS("#save-schedule")))
	b.poll("the schedule's problems", `document.querySelector('[data-for="cron"]').textContent !== "" && document.querySelector('[data-for="timezone"]').textContent !== ""`)
	if s := b.text(`[data-for="cron"]`); !strings.Contains(s, "6 fields") {
		t.Errorf("cron: %q", s)
	}
	set("#set-cron", "0 0 7 * * *")
	set("#set-timezone", "Europe/Paris")
	b.run("save the schedule again", chromedp.Click(chromedp.CSS("#save-schedule")))
	b.poll("the schedule saved", `document.querySelector("#schedule-saved").textContent.startsWith("Saved")`)

	f.apiGet(t, "/v1/locations/"+loc+"/settings", &got)
	if !got.MappingStored || got.Mapping.ContactTag != "fb:{{tagName}}" || got.Stats.Cron != "0 0 7 * * *" || got.Stats.Timezone != "Europe/Paris" {
		t.Errorf("settings stored: %+v", got)
	}
	shot(t, b.ctx, "settings")
}
