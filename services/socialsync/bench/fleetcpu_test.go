package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// clockTicks is the unit of utime and stime in /proc/<pid>/stat: USER_HZ,
// 100 on every Linux architecture Go runs on.
const clockTicks = 100

// procCPU returns the CPU time pid has used, user and system, from
// /proc/<pid>/stat.
func procCPU(pid int) (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, data)
	}
	fields := strings.Fields(string(data[i+1:]))
	if len(fields) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, data)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %q: %w", pid, f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// startNATS starts nats-server with JetStream on a free port of
// 127.0.0.1 and waits until it listens.
func (f *scaleFleet) startNATS() *scaleProc {
	f.b.Helper()
	port := scalePort(f.b)
	f.natsURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	p := f.startProc("nats-server", nil, "-a", "127.0.0.1", "-p", fmt.Sprint(port), "-js", "-sd", f.b.TempDir())
	fleettest.Eventually(f.b, 20*time.Second, "nats-server listening", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return p
}

// BenchmarkFleetCPU runs the cold-start workload of BenchmarkColdStart (500
// post events over the demo seed's five locations, fixed seed, the
// simulator at HighLevel's real 100 requests per 10 s) through the fleet
// as an operator runs it: a real nats-server and every worker (gateway,
// fetcher, enricher, stats, contactsync, automation) as a process of its
// own. The simulator and the publisher are in this process, outside what
// is measured. It reports the CPU time (user and system, from
// /proc/<pid>/stat) that nats-server and the workers spend from the first
// publication until every contact is tagged, per 1,000 HighLevel calls
// the simulator counted in that time, and the run's calls and seconds.
func BenchmarkFleetCPU(b *testing.B) {
	for b.Loop() {
		runFleetCPU(b)
	}
}

func runFleetCPU(b *testing.B) {
	ctx := context.Background()
	f := &scaleFleet{b: b, bin: scaleBuild(b)}
	b.Cleanup(f.stopAll)
	nats := f.startNATS()

	sim, err := ghlsim.New(ghlsim.Options{Seed: "demo"}) // HighLevel's limits: 100 per 10 s, 200,000 a day
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	b.Cleanup(srv.Close)
	f.simURL = srv.URL
	key := creds.NewKey()
	f.env = []string{
		"SOCIALSYNC_NATS_URL=" + f.natsURL,
		"SOCIALSYNC_GHL_BASE_URL=" + f.simURL,
		"SOCIALSYNC_TOKEN_KEY=" + key,
		"SOCIALSYNC_LOG_FORMAT=text",
		"SOCIALSYNC_SHUTDOWN_TIMEOUT=5s",
	}
	f.cli("topology", "apply")
	cfg := fleet.DefaultConfig()
	cfg.NATSURL, cfg.GHLBaseURL, cfg.TokenKey, cfg.HTTPAddr = f.natsURL, f.simURL, key, "127.0.0.1:0"
	deps, err := fleet.Connect(ctx, "bench-cpu", cfg, fleet.Options{LogOutput: io.Discard})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { deps.Close(context.Background()) })
	for _, l := range sim.Locations() {
		if err := deps.Creds.AddPIT(ctx, creds.Location{ID: l.ID, Name: l.Name, Timezone: l.Timezone}, l.Token); err != nil {
			b.Fatal(err)
		}
	}
	events := coldWorkload(b, f.simURL)

	var procs []*scaleProc
	for _, w := range scaleWorkers {
		procs = append(procs, f.worker(w))
	}
	waitReady(b, procs, 60*time.Second)
	time.Sleep(3 * time.Second) // let the start-up work settle
	measured := append([]*scaleProc{nats}, procs...)
	cpu := func() map[string]time.Duration {
		out := map[string]time.Duration{}
		for _, p := range measured {
			d, err := procCPU(p.cmd.Process.Pid)
			if err != nil {
				b.Fatal(err)
			}
			out[p.name] = d
		}
		return out
	}

	cpu0, calls0 := cpu(), calls(b, f.simURL)
	start := time.Now()
	for i, e := range events {
		subject, _ := topology.PostTriggers.Subject(e.loc)
		if _, err := deps.Publisher.Publish(ctx, subject, &socialsyncv1.PostEvent{
			LocationId: e.loc, PostId: fmt.Sprintf("%024x", i+1), TagIds: e.tagIDs, ContactIds: e.contacts,
			OccurredAt: timestamppb.New(start), Source: "bench", EventId: fmt.Sprintf("cpu-%d", i),
		}); err != nil {
			b.Fatal(err)
		}
	}
	took := waitAllTagged(b, f.simURL, events, 5*time.Minute).Sub(start)
	cpu1, calls1 := cpu(), calls(b, f.simURL)

	n := calls1 - calls0
	var total time.Duration
	var parts []string
	for _, p := range measured {
		d := cpu1[p.name] - cpu0[p.name]
		total += d
		parts = append(parts, fmt.Sprintf("%s %.2f s", p.name, d.Seconds()))
	}
	b.Logf("CPU from the first publication until every contact was tagged (%v, %d HighLevel calls): %s",
		took.Round(time.Millisecond), n, strings.Join(parts, ", "))
	b.ReportMetric(total.Seconds()*1000/float64(n), "cpu-s/1000-calls")
	b.ReportMetric((cpu1["nats-server"]-cpu0["nats-server"]).Seconds()*1000/float64(n), "nats-cpu-s/1000-calls")
	b.ReportMetric(total.Seconds(), "cpu-s")
	b.ReportMetric(float64(n), "calls")
	b.ReportMetric(took.Seconds(), "tagged-s")
	b.ReportMetric(0, "ns/op")
}
