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
// the workers as separate processes, and carries its held work past the
// daily reset: the simulator's daily limit and the workers'
// SOCIALSYNC_RATE_DAILY lowered to 20, more post triggers published than
// 20 calls can carry, and HighLevel's daily reset (the simulator's
// rateLimit.dailyReset, the workers' SOCIALSYNC_RATE_DAILY_RESET) set to
// resetMargin after the test's start, whatever the time of day (the offset
// after midnight UTC wraps). Before the reset HighLevel is asked exactly 20
// times and never answers 429; the rest of the work is held in JetStream
// (left unacknowledged, looked at again every second), nothing is
// dead-lettered; `socialsync doctor` shows the cap reached and the
// configured reset; a second location's triggers are written meanwhile.
// After the reset every held trigger is written, with no 429 and no dead
// letter, the new day's calls within the cap and counted from zero (the
// doctor's count is HighLevel's count of calls since the reset).
func TestDailyCapOnRealProcesses(t *testing.T) {
	// capped leaves room after the reset: the 12 or so held triggers' writes
	// and the fetcher's catalogue reads (4 on day one) fit in a new day of 20.
	const daily, capped, other = 20, 26, 3
	f := newFleet(t)
	locs := f.locations(2)
	a, b := locs[0], locs[1]
	f.register(a)
	f.register(b)

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

	// The reset, resetMargin from now in whole seconds, as an offset after
	// midnight UTC: the same for the simulator and the workers.
	start := time.Now()
	resetAt := start.Add(resetMargin).UTC().Truncate(time.Second)
	offset := resetAt.Sub(resetAt.Truncate(24 * time.Hour))
	f.admin(http.MethodPut, "/_sandbox/config", map[string]any{"rateLimit": map[string]any{"daily": daily, "dailyReset": offset.String()}}, nil)
	if before := accepted(f.log(a.ID)); before != 0 {
		t.Fatalf("%d calls on %s before any worker ran", before, a.ID)
	}
	resetEnv := "SOCIALSYNC_RATE_DAILY_RESET=" + offset.String()
	env := []string{"SOCIALSYNC_RATE_DAILY=" + fmt.Sprint(daily), "SOCIALSYNC_RATE_MAX_DEFER=1s", resetEnv}
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
	// beforeReset fails the test when the reset came before the checks
	// that must precede it: resetMargin is too short for this machine.
	beforeReset := func(what string) {
		t.Helper()
		if now := time.Now(); !now.Before(resetAt.Add(-time.Second)) {
			t.Fatalf("%s done %v after the start, past the daily reset %v after it: resetMargin is too short for this machine",
				what, now.Sub(start).Round(time.Millisecond), resetAt.Sub(start).Round(time.Millisecond))
		}
	}

	publish(a.ID, ta)
	eventually(t, resetMargin, fmt.Sprintf("%d calls on %s (its daily cap)", daily, a.ID), func() bool {
		return accepted(f.log(a.ID)) >= daily
	})
	capAt := time.Since(start)
	beforeReset("the cap")
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
	t.Logf("at the cap (%v after the start): %d of %d triggers written, %d held; HighLevel's calls: %v",
		capAt.Round(time.Millisecond), done, capped, capped-done, callsByPath(log, a.ID))

	// The second location is not held by the first's cap.
	publish(b.ID, tb)
	eventually(t, 30*time.Second, "the second location's triggers written", func() bool { return tagged(b.ID, tb) == other })

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

	// The doctor (its own test calls take their permits from the
	// location's budget: at the cap they are refused at once, paced, and
	// it exits non-zero; should the reset come within its wait, they go
	// after it and count in the new day).
	doctorFrom := time.Now()
	out := doctor(f, a.ID, resetEnv)
	doctorTo := time.Now()
	want := fmt.Sprintf("daily calls: %d of %d today (100.0%%), reset at %s UTC (configured); cap reached", daily, daily, resetAt.Format("15:04:05"))
	if !strings.Contains(out, want) {
		t.Errorf("socialsync doctor does not say %q:\n%s", want, out)
	}
	beforeReset("the checks at the cap")
	t.Logf("checks at the cap done %v after the start, the reset %v after it", time.Since(start).Round(time.Millisecond), resetAt.Sub(start))

	// The reset: every held trigger is written.
	eventually(t, time.Until(resetAt)+2*time.Minute, fmt.Sprintf("all %d triggers of %s written after the reset", capped, a.ID), func() bool {
		return tagged(a.ID, ta) == capped
	})
	t.Logf("all written %v after the reset", time.Since(resetAt).Round(time.Millisecond))
	if n := held(t, js); n != 0 {
		t.Errorf("%d triggers still held by contactsync after the reset", n)
	}
	if dls := bustest.DeadLetters(t, js, ""); len(dls) != 0 {
		t.Fatalf("dead letters after the reset: %+v", dls)
	}
	log = f.log(a.ID)
	var day1, day2 []fleettest.Request
	for _, r := range log {
		if r.At.Before(doctorTo) && !r.At.Before(doctorFrom) {
			continue // the doctor's own calls at the cap
		}
		if r.Status == http.StatusTooManyRequests {
			t.Errorf("a 429 on %s at %v: %s %s", a.ID, r.At, r.Method, r.Path)
		}
		if r.At.Before(resetAt) {
			day1 = append(day1, r)
		} else {
			day2 = append(day2, r)
		}
	}
	if len(day1) != daily || len(day2) == 0 || len(day2) > daily {
		t.Errorf("%d calls on %s before the reset, %d after it; want %d, then 1 to %d", len(day1), a.ID, len(day2), daily, daily)
	}
	t.Logf("after the reset: HighLevel's calls: %v", callsByPath(day2, a.ID))
	// The governor's day counts from zero: the doctor's count (read from
	// the budget after its own calls, which take their permits from it)
	// is HighLevel's count of calls since the reset, the doctor's
	// included.
	out = doctor(f, a.ID, resetEnv)
	var sinceReset int
	for _, r := range f.log(a.ID) {
		if !r.At.Before(resetAt) {
			sinceReset++
		}
	}
	want = fmt.Sprintf("daily calls: %d of %d today (%.1f%%), reset at %s UTC (configured)", sinceReset, daily,
		100*float64(sinceReset)/daily, resetAt.Format("15:04:05"))
	if !strings.Contains(out, want) {
		t.Errorf("socialsync doctor after the reset does not say %q:\n%s", want, out)
	}
}

// resetMargin is how long after TestDailyCapOnRealProcesses starts its
// workers' daily reset comes: long enough for the cap and the checks at
// the cap on a loaded 2-CPU machine: on the 2-CPU machine shared with
// other builds the cap came 0.7–2.2 s after the start and the checks were
// done by 7.0–8.1 s (the test logs both, and fails naming resetMargin when
// the reset comes first).
const resetMargin = 45 * time.Second

// callsByPath counts log's requests by method and path, ids replaced.
func callsByPath(log []fleettest.Request, loc string) map[string]int {
	calls := map[string]int{}
	for _, r := range log {
		path := strings.ReplaceAll(strings.Split(r.Path, "?")[0], loc, "{loc}")
		if strings.HasPrefix(path, "/contacts/") && strings.HasSuffix(path, "/tags") {
			path = "/contacts/{id}/tags"
		}
		calls[r.Method+" "+path]++
	}
	return calls
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
// its exit status; env is added to the fleet's environment.
func doctor(f *fleet, loc string, env ...string) string {
	f.t.Helper()
	cmd := exec.Command(filepath.Join(f.bin, "socialsync"), "doctor", "--nats", f.natsURL, "--location", loc, "--timeout", "20s")
	cmd.Env = append(append(cmd.Environ(), f.env...), env...)
	out, _ := cmd.CombinedOutput()
	return string(out)
}
