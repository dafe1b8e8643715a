package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/gateway"
)

const (
	readerKey  = "sk-browser-reader-0123456789"
	triggerKey = "sk-browser-trigger-0123456789"
)

// deadLetter stores a dead letter of the fetcher for loc, as the bus
// would, and returns its sequence.
func (f *fleet) deadLetter(t *testing.T, loc string) uint64 {
	t.Helper()
	msg := nats.NewMsg(bus.DeadLetterPrefix + ".fetcher." + loc)
	msg.Data = bustest.Marshal(t, &socialsyncv1.PostEvent{LocationId: loc, PostId: "p1", Change: socialsyncv1.Change_CHANGE_CREATED, EventId: "dl:" + loc})
	msg.Header.Set(bus.HeaderContentType, bus.ContentTypeProtobuf)
	msg.Header.Set(bus.HeaderDLQStream, topology.StreamTriggers)
	msg.Header.Set(bus.HeaderDLQSequence, "42")
	msg.Header.Set(bus.HeaderDLQConsumer, topology.DurableFetcher)
	msg.Header.Set(bus.HeaderDLQReason, "bad input: test")
	msg.Header.Set(bus.HeaderDLQClass, "bad_input")
	msg.Header.Set(bus.HeaderDLQSubject, "socialsync.trigger.post."+loc)
	msg.Header.Set(bus.HeaderDLQDeliveries, "1")
	msg.Header.Set(bus.HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	ack, err := f.JS.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// A read-only key limited to one location sees that location only (the
// location picker, the health table, the dead letters, the page's text)
// and is offered no action and no replay; the full key, in the same
// browser, gets both.
func TestDashboardLimitedKey(t *testing.T) {
	exe := chromium(t)
	f := startFleet(t, func(env *fleettest.Env) []string {
		return []string{gateway.HashAPIKey(readerKey) + ":read:" + env.Locations[0].ID, gateway.HashAPIKey(triggerKey) + ":trigger"}
	})
	loc, other := f.Locations[0], f.Locations[1]
	for _, l := range []string{loc.ID, other.ID} {
		subject, _ := topology.StatsTriggers.Subject(l)
		if _, err := f.Deps.Publisher.Publish(context.Background(), subject, &socialsyncv1.StatsRequested{LocationId: l, RequestedBy: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	mine, theirs := f.deadLetter(t, loc.ID), f.deadLetter(t, other.ID)
	fleettest.Eventually(t, 30*time.Second, "both locations' statistics in the API", func() bool {
		var a, b struct{ Items []json.RawMessage }
		f.apiGet(t, "/v1/locations/"+loc.ID+"/stats", &a)
		f.apiGet(t, "/v1/locations/"+other.ID+"/stats", &b)
		return len(a.Items) > 0 && len(b.Items) > 0
	})

	b := openBrowser(t, exe)
	// A key that cannot read is told so at sign-in.
	b.run("sign in with a key without read", chromedp.Navigate(f.url+"/"), b.visible("#apikey"),
		chromedp.SendKeys(chromedp.CSS("#apikey"), triggerKey), chromedp.Click(chromedp.CSS("#signin-button")), b.visible("#signin-error"))
	if s := b.text("#signin-error"); !strings.Contains(s, "lacks the read scope") {
		t.Errorf("key without read: %q", s)
	}
	b.eval(`document.querySelector("#apikey").value = ""; true`)
	b.run("sign in with the reader's key",
		chromedp.SendKeys(chromedp.CSS("#apikey"), readerKey), chromedp.Click(chromedp.CSS("#signin-button")), b.visible("#app"),
		b.visible(`#stats-platforms tbody tr`), b.visible(fmt.Sprintf(`#locations-health tr[data-location="%s"]`, loc.ID)),
		b.visible(fmt.Sprintf(`#deadletter-list tr[data-seq="%d"]`, mine)), b.visible(`#live-status.on`))
	if s := b.text("#key-grant"); s != "read · 1 location" {
		t.Errorf("grant shown: %q", s)
	}
	list := func(expr string) string {
		t.Helper()
		return fmt.Sprint(b.eval(`Array.from(` + expr + `).join(",")`))
	}
	if s := list(`document.querySelectorAll("#location option"), (o) => o.value`); s != loc.ID {
		t.Errorf("locations offered: %s; want %s only", s, loc.ID)
	}
	if s := list(`document.querySelectorAll("#locations-health tr[data-location]"), (r) => r.dataset.location`); s != loc.ID {
		t.Errorf("locations in the health table: %s; want %s only", s, loc.ID)
	}
	// Nothing it may not do is offered, nor anything of the other
	// location shown.
	for _, sel := range []string{"#actions-panel", "#trigger-stats", "#trigger-post", "#workers", "button.replay"} {
		if shown := b.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return !!e && e.offsetParent !== null; })()`, sel)); shown != false {
			t.Errorf("%s is shown to a read-only key", sel)
		}
	}
	page := fmt.Sprint(b.eval(`document.body.innerText`))
	if strings.Contains(page, other.ID) || other.Name != "" && strings.Contains(page, other.Name) {
		t.Errorf("the page shows the other location %s (%s)", other.ID, other.Name)
	}
	if n := b.eval(fmt.Sprintf(`document.querySelectorAll('[data-seq="%d"]').length`, theirs)); n != float64(0) {
		t.Errorf("the other location's dead letter is listed")
	}
	shot(t, b.ctx, "reader")

	// The full key: every location, the actions and the replays.
	b.run("sign out", chromedp.Click(chromedp.CSS("#signout")), b.visible("#apikey"))
	b.eval(`document.querySelector("#apikey").value = ""; true`)
	b.run("sign in with the full key", chromedp.SendKeys(chromedp.CSS("#apikey"), apiKey), chromedp.Click(chromedp.CSS("#signin-button")), b.visible("#app"),
		b.visible("#trigger-stats"), b.visible("#consumers tbody tr"),
		b.visible(fmt.Sprintf(`#locations-health tr[data-location="%s"]`, other.ID)))
	b.eval(fmt.Sprintf(`const s = document.querySelector("#location"); s.value = %q; s.dispatchEvent(new Event("change")); true`, loc.ID))
	b.run("see the replay button", b.visible(fmt.Sprintf(`#deadletter-list tr[data-seq="%d"] button.replay`, mine)))
	b.run("replay the dead letter", chromedp.Click(chromedp.CSS(fmt.Sprintf(`#deadletter-list tr[data-seq="%d"] button.replay`, mine))))
	b.poll("the replayed dead letter leaves the list", fmt.Sprintf(`document.querySelectorAll('#deadletter-list tr[data-seq="%d"]').length === 0`, mine))
}
