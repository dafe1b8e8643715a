package e2e

import (
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/topology"
)

// TestDailyCapOnRealProcesses drives one location to its daily cap with
// the workers as separate processes: the simulator's daily limit and the
// workers' SOCIALSYNC_RATE_DAILY lowered to 20, more post triggers
// published than 20 calls can carry. HighLevel is asked exactly 20 times
// and never answers 429; the rest of the work is held in JetStream (left
// unacknowledged, looked at again every second), nothing is
// dead-lettered; `socialsync doctor` shows the cap reached and the reset
// at midnight UTC; a second location's triggers are written meanwhile.
// The reset itself does not come within the test: the workers' governor
// resets at midnight UTC (or a whole hour learned from HighLevel) on the
// real clock; TestDailyCapHoldsTriggersUntilTheReset (contactsync) moves
// the clock past it in-process.
func TestDailyCapOnRealProcesses(t *testing.T) {
	const daily, capped, other = 20, 30, 3
	if now := time.Now().UTC(); now.Add(5*time.Minute).Day() != now.Day() {
		t.Skip("within 5 minutes of midnight UTC, HighLevel's (and the governor's) daily reset would come during the test")
	}
	f := newFleet(t)
	locs := f.locations(2)
	a, b := locs[0], locs[1]
	f.register(a)
	f.register(b)
	f.admin(http.MethodPut, "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"daily": daily}}, nil)
	before := accepted(f.log(a.ID))
	if before >= daily {
		t.Fatalf("%d calls on %s before any worker ran", before, a.ID)
	}

	// A tag and a contact of its own per trigger: writes of triggers
	// adding the same tags would be merged into fewer calls.
	type trig struct{ tag, tagName, contact string }
	prepare := func(loc string, n int) []trig {
		out := make([]trig, n)
		for i := range out {
			var tg struct {
				ID  string `json:"_id"`
				Tag string `json:"tag"`
			}
			f.admin(http.MethodPost, "/_sandbox/locations/"+loc+"/socialTags", map[string]any{"tag": fmt.Sprintf("capped %s %d", loc[:4], i)}, &tg)
			var c struct {
				ID string `json:"id"`
			}
			f.admin(http.MethodPost, "/_sandbox/locations/"+loc+"/contacts", map[string]any{"firstName": fmt.Sprintf("Capped%d", i)}, &c)
			out[i] = trig{tg.ID, "social:" + strings.ToLower(tg.Tag), c.ID}
		}
		return out
	}
	ta, tb := prepare(a.ID, capped), prepare(b.ID, other)

	env := []string{"SOCIALSYNC_RATE_DAILY=" + fmt.Sprint(daily), "SOCIALSYNC_RATE_MAX_DEFER=1s"}
	for _, w := range []string{"fetcher", "enricher", "contactsync"} {
		f.worker(w, env...)
	}

	nc, err := nats.Connect(f.natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(loc string, trs []trig) {
		for i, tr := range trs {
			var p struct {
				ID string `json:"_id"`
			}
			f.admin(http.MethodPost, "/_sandbox/locations/"+loc+"/posts", map[string]any{"tags": []string{tr.tag}, "platform": "facebook"}, &p)
			f.publishJSON("socialsync.trigger.post."+loc, fmt.Sprintf(`{"locationId":%q,"postId":%q,"tagIds":[%q],"contactIds":[%q],"eventId":"cap:%s:%d"}`,
				loc, p.ID, tr.tag, tr.contact, loc, i), "")
		}
	}
	tagged := func(loc string, trs []trig) int {
		got, n := contactTags(f.location(loc)), 0
		for _, tr := range trs {
			if slices.Contains(got[tr.contact], tr.tagName) {
				n++
			}
		}
		return n
	}

	publish(a.ID, ta)
	eventually(t, 90*time.Second, fmt.Sprintf("%d calls on %s (its daily cap)", daily, a.ID), func() bool {
		return accepted(f.log(a.ID)) >= daily
	})
	// Time for a call past the cap or a wrong dead letter: the held
	// messages come back every second (SOCIALSYNC_RATE_MAX_DEFER).
	time.Sleep(5 * time.Second)
	log := f.log(a.ID)
	if n := accepted(log); n != daily {
		t.Errorf("%d calls HighLevel took on %s, want %d (every call up to the cap, none past it)", n, a.ID, daily)
	}
	for _, r := range log {
		if r.Status == http.StatusTooManyRequests {
			t.Errorf("a 429 on %s: %s %s", a.ID, r.Method, r.Path)
		}
	}
	done := tagged(a.ID, ta)
	if done == 0 || done == capped {
		t.Errorf("%d of %d triggers' tags written at the cap, want some but not all", done, capped)
	}
	if dls := bustest.DeadLetters(t, js, ""); len(dls) != 0 {
		t.Fatalf("dead letters at the cap: %+v", dls)
	}
	// Each trigger not written is held by contactsync: delivered and
	// handed back, not acknowledged.
	eventually(t, 30*time.Second, fmt.Sprintf("%d triggers held by contactsync", capped-done), func() bool {
		return held(t, js) == capped-done
	})
	calls := map[string]int{}
	for _, r := range log {
		path := strings.ReplaceAll(strings.Split(r.Path, "?")[0], a.ID, "{loc}")
		if strings.HasPrefix(path, "/contacts/") && strings.HasSuffix(path, "/tags") {
			path = "/contacts/{id}/tags"
		}
		calls[r.Method+" "+path]++
	}
	t.Logf("at the cap: %d of %d triggers written, %d held; HighLevel's calls: %v", done, capped, capped-done, calls)

	// The second location is not held by the first's cap.
	publish(b.ID, tb)
	eventually(t, 90*time.Second, "the second location's triggers written", func() bool { return tagged(b.ID, tb) == other })

	// Still held, still no dead letter, still no call past the cap.
	if n := accepted(f.log(a.ID)); n != daily {
		t.Errorf("%d calls HighLevel took on %s after the second location's work, want %d", n, a.ID, daily)
	}
	if dls := bustest.DeadLetters(t, js, ""); len(dls) != 0 {
		t.Fatalf("dead letters: %+v", dls)
	}
	if n := tagged(a.ID, ta); n != done {
		t.Errorf("%d triggers written past the cap, want %d", n, done)
	}
	if n := held(t, js); n != capped-done {
		t.Errorf("%d triggers held by contactsync, want %d", n, capped-done)
	}

	// The doctor (its own test calls go to HighLevel without the
	// governor, so they fail at the cap and it exits non-zero).
	out := doctor(f, a.ID)
	want := fmt.Sprintf("daily calls: %d of %d today (100.0%%), reset at 00:00 UTC; cap reached", daily, daily)
	if !strings.Contains(out, want) {
		t.Errorf("socialsync doctor does not say %q:\n%s", want, out)
	}
}

// accepted counts the requests HighLevel took (any answer but 429).
func accepted(log []fleettest.Request) int {
	n := 0
	for _, r := range log {
		if r.Status != http.StatusTooManyRequests {
			n++
		}
	}
	return n
}

// held is the number of triggers contactsync has not acknowledged
// (delivered and handed back, or not yet delivered).
func held(t *testing.T, js jetstream.JetStream) int {
	t.Helper()
	ci := bustest.ConsumerInfo(t, js, topology.StreamTriggers, topology.DurableContactSync)
	return ci.NumAckPending + int(ci.NumPending)
}

// doctor runs `socialsync doctor` for loc and returns its output, whatever
// its exit status.
func doctor(f *fleet, loc string) string {
	f.t.Helper()
	cmd := exec.Command(filepath.Join(f.bin, "socialsync"), "doctor", "--nats", f.natsURL, "--location", loc, "--timeout", "20s")
	cmd.Env = append(cmd.Environ(), f.env...)
	out, _ := cmd.CombinedOutput()
	return string(out)
}
