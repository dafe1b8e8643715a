package deploy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/fleet"
	"github.com/socialsync/socialsync/pkg/fleet/fleettest"
	"github.com/socialsync/socialsync/pkg/ghlsim"
	"github.com/socialsync/socialsync/pkg/topology"
	automationworker "github.com/socialsync/socialsync/services/automation"
	"github.com/socialsync/socialsync/services/contactsync"
	"github.com/socialsync/socialsync/services/enricher"
	"github.com/socialsync/socialsync/services/fetcher"
	"github.com/socialsync/socialsync/services/socialsync/cli"
	"github.com/socialsync/socialsync/services/stats"
)

// accountsFile is the nats-server include the Helm values mount, and
// valuesFile the values of the NATS chart.
const (
	accountsFile = "nats/accounts.conf"
	valuesFile   = "nats/values.yaml"
)

// users are the NATS users of accounts.conf; topology is the one that
// applies the topology (the socialsync-topology Job), backup and restore
// the ones of socialsync backup and socialsync restore.
var users = []string{"fetcher", "enricher", "stats", "contactsync", "automation", "gateway", "operator", "topology", "backup", "restore"}

// creators are the users that may create and update streams and durables:
// the topology Job, and restore, which creates the archived ones in an
// empty NATS (by name, the same ones).
var creators = map[string]bool{"topology": true, "restore": true}

// violations records the permission violations nats-server logs.
type violations struct {
	mu    sync.Mutex
	lines []string
}

func (v *violations) record(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if strings.Contains(line, "Violation") {
		v.mu.Lock()
		v.lines = append(v.lines, line)
		v.mu.Unlock()
	}
}

func (v *violations) list() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.lines)
}

func (v *violations) Noticef(format string, args ...any) { v.record(format, args...) }
func (v *violations) Warnf(format string, args ...any)   { v.record(format, args...) }
func (v *violations) Fatalf(format string, args ...any)  { v.record(format, args...) }
func (v *violations) Errorf(format string, args ...any)  { v.record(format, args...) }
func (v *violations) Debugf(format string, args ...any)  {}
func (v *violations) Tracef(format string, args ...any)  {}

// natsEnv is nats-server started with accounts.conf, and the users'
// passwords.
type natsEnv struct {
	srv        *server.Server
	tls        fleettest.TLSFiles
	passwords  map[string]string
	violations *violations
}

// startNATS starts an in-process JetStream server whose accounts and
// permissions are exactly those of accounts.conf, the passwords coming from
// the environment as they do in the cluster, and applies the topology as
// the topology user, as the socialsync-topology Job does.
func startNATS(t *testing.T) *natsEnv {
	t.Helper()
	e := startBareNATS(t)
	e.run(t, "topology", "topology", "apply")
	return e
}

// startBareNATS is startNATS without the topology.
func startBareNATS(t *testing.T) *natsEnv {
	t.Helper()
	e := &natsEnv{passwords: map[string]string{}, violations: &violations{}}
	for _, u := range users {
		// A password that starts with a letter: the config parser would
		// read an all-digit (or 1e5-like) value as a number.
		pw := "pw" + strings.ReplaceAll(creds.NewKey(), "/", "_")[:24]
		pw = strings.NewReplacer("+", "-", "=", "").Replace(pw)
		e.passwords[u] = pw
		t.Setenv("SOCIALSYNC_NATS_"+strings.ToUpper(u)+"_PASSWORD", pw)
	}
	// Clients verify the server with the CA, as the pods do with the
	// socialsync-nats-ca Secret; the CLI reads it from the environment.
	e.tls = fleettest.NewTLSFiles(t)
	t.Setenv("SOCIALSYNC_NATS_CA_FILE", e.tls.CA)
	opts, err := server.ProcessConfigFile(chartConfig(t, e.tls))
	if err != nil {
		t.Fatalf("nats-server configuration from %s and %s: %v", valuesFile, accountsFile, err)
	}
	if !opts.SyncAlways {
		t.Error("JetStream does not sync every write (sync_interval: always)")
	}
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.SetLogger(e.violations, false, false)
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	e.srv = s
	return e
}

// url is the server's URL with user's credentials, as SOCIALSYNC_NATS_URL
// carries them in the cluster.
func (e *natsEnv) url(user string) string {
	u, _ := url.Parse(e.srv.ClientURL())
	u.User = url.UserPassword(user, e.passwords[user])
	return u.String()
}

// connect connects as user, with the user's own inbox prefix as every
// process sets it, and returns the connection and the errors the server
// sends it asynchronously (permission violations).
func (e *natsEnv) connect(t *testing.T, user string) (*nats.Conn, <-chan error) {
	t.Helper()
	errs := make(chan error, 64)
	nc, err := nats.Connect(e.url(user), nats.RootCAs(e.tls.CA), nats.CustomInboxPrefix(fleet.DefaultInboxPrefix(e.url(user))), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case errs <- err:
		default:
		}
	}))
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	return nc, errs
}

// deps connects a worker's shared dependencies as user; with no
// tokenKey, as the gateway connects: without a token key
// (fleet.Options.NoTokenKey).
func (e *natsEnv) deps(t *testing.T, user, simURL, tokenKey string) *fleet.Deps {
	t.Helper()
	cfg := fleet.DefaultConfig()
	cfg.NATSURL = e.url(user)
	cfg.GHLBaseURL = simURL
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TokenKey = tokenKey
	cfg.ShutdownTimeout = 5 * time.Second
	cfg.NATS.CAFile = e.tls.CA
	d, err := fleet.Connect(context.Background(), user, cfg, fleet.Options{LogOutput: testLog{t}, NoTokenKey: tokenKey == ""})
	if err != nil {
		t.Fatalf("fleet.Connect as %s: %v", user, err)
	}
	t.Cleanup(func() { d.Close(context.Background()) })
	return d
}

// withLocation starts nats-server with accounts.conf and the simulator
// (seed "demo") over HTTP, puts a new token key in the environment (for
// the operator's CLI) and registers the simulator's first location as the
// operator. It returns the server, the simulator's server, the key and
// the location.
func withLocation(t *testing.T) (*natsEnv, *httptest.Server, string, ghlsim.LocationInfo) {
	t.Helper()
	n := startNATS(t)
	sim, err := ghlsim.New(ghlsim.Options{Seed: "demo"})
	if err != nil {
		t.Fatal(err)
	}
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	key := creds.NewKey()
	t.Setenv("SOCIALSYNC_TOKEN_KEY", key)
	loc := sim.Locations()[0]
	n.operatorRun(t, "locations", "add", "--location", loc.ID, "--pit", loc.Token, "--timezone", "UTC")
	return n, simSrv, key, loc
}

// runAs starts a worker as its own NATS user until the test ends: its
// Config read as the binary reads it (defaults), with base (the embedded
// fleet.Config) from its connection and then changed by change (when not
// nil), built by build (cli.NewFetcher, …). It returns the worker's
// connection.
func runAs[C any, W fleet.Worker](t *testing.T, n *natsEnv, user, simURL, tokenKey string, base func(*C) *fleet.Config,
	change func(*C), build func(context.Context, C, *fleet.Deps) (W, error)) *fleet.Deps {
	t.Helper()
	d := n.deps(t, user, simURL, tokenKey)
	cfg := defaults[C](t)
	*base(&cfg) = d.Config
	if change != nil {
		change(&cfg)
	}
	w, err := build(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.RunWorker(t, d, user, w)
	return d
}

// defaults is a worker's Config with the defaults of its struct tags, read
// as the binary reads it (the test sets no SOCIALSYNC_* setting but the
// passwords and the token key); the caller puts in the fleet.Config.
func defaults[C any](t *testing.T) C {
	t.Helper()
	var c C
	if err := envconfig.Process("socialsync", &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// testLog sends a worker's log to the test log.
type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// TestWorkersWithTheirOwnUsers starts nats-server with accounts.conf and the
// simulator, registers a location and publishes triggers with the operator
// CLI, and runs the five workers each as its own NATS user: a post trigger
// ends with the post's tags on its contacts (fetcher → enricher →
// contactsync), a segment applied with the CLI with its contacts in it
// (automation), a statistics trigger with a stored snapshot (stats), and
// no user hit a permission violation on the way.
func TestWorkersWithTheirOwnUsers(t *testing.T) {
	n, simSrv, key, loc := withLocation(t)
	// Finishing a key rotation is within the operator's grants: the token
	// is sealed again under the new key, which the workers then hold.
	key = creds.NewKey() + "," + key
	t.Setenv("SOCIALSYNC_TOKEN_KEY", key)
	if out := n.operatorRun(t, "locations", "reseal"); !strings.Contains(out, "resealed 1,") {
		t.Fatalf("locations reseal: %s", out)
	}

	runAs(t, n, "fetcher", simSrv.URL, key, func(c *fetcher.Config) *fleet.Config { return &c.Config }, func(c *fetcher.Config) { c.PollInterval = 3 * time.Second }, cli.NewFetcher) // the posts poller on: it lists locations
	runAs(t, n, "enricher", simSrv.URL, key, func(c *enricher.Config) *fleet.Config { return &c.Config }, nil, cli.NewEnricher)
	runAs(t, n, "stats", simSrv.URL, key, func(c *stats.Config) *fleet.Config { return &c.Config }, nil, cli.NewStats)
	runAs(t, n, "contactsync", simSrv.URL, key, func(c *contactsync.Config) *fleet.Config { return &c.Config }, nil, cli.NewContactSync)
	runAs(t, n, "automation", simSrv.URL, key, func(c *automationworker.Config) *fleet.Config { return &c.Config }, nil, cli.NewAutomation)

	var detail ghlsim.LocationView
	getLocation := func() { t.Helper(); detail = fleettest.Location(t, simSrv.URL, loc.ID) }
	getLocation()
	var tagIDs, want, contacts []string
	for _, tag := range detail.SocialTags {
		if !tag.Deleted && len(tagIDs) < 2 {
			tagIDs = append(tagIDs, tag.ID)
			want = append(want, "social:"+strings.ToLower(tag.Tag))
		}
	}
	for _, c := range detail.Contacts {
		if !c.Deleted && len(contacts) < 3 {
			contacts = append(contacts, c.ID)
		}
	}
	n.operatorRun(t, "trigger", "post", "--location", loc.ID, "--post", "65f151c99bc2bf3aaf970d72",
		"--tags", strings.Join(tagIDs, ","), "--contacts", strings.Join(contacts, ","), "--event-id", "deploy-test")
	fleettest.Eventually(t, 60*time.Second, "the post's tags on its contacts", func() bool {
		getLocation()
		got := map[string][]string{}
		for _, c := range detail.Contacts {
			got[c.ID] = c.Tags
		}
		for _, c := range contacts {
			for _, w := range want {
				if !slices.Contains(got[c], w) {
					return false
				}
			}
		}
		return true
	})
	// A reconciliation, as the operator asks for one and contactsync runs
	// it: its request, its durable, the listing of the contact states.
	if out := n.operatorRun(t, "reconcile", "--location", loc.ID, "--dry-run", "--run-id", "deploy-test", "--timeout", "90s"); !strings.Contains(out, "summary:") {
		t.Errorf("socialsync reconcile --dry-run: %s", out)
	}
	// A segment of the first tag: the automation worker puts the contacts
	// in it, after contactsync tagged them.
	segFile := filepath.Join(t.TempDir(), "segments.yaml")
	if err := os.WriteFile(segFile, []byte("segments:\n  - name: deploy-fans\n    anyTags: [\""+want[0]+"\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.operatorRun(t, "segments", "apply", "-f", segFile)
	fleettest.Eventually(t, 60*time.Second, "the contacts in the segment (automation)", func() bool {
		getLocation()
		in := 0
		for _, c := range detail.Contacts {
			if slices.Contains(contacts, c.ID) && slices.Contains(c.Tags, "segment:deploy-fans") {
				in++
			}
		}
		return in == len(contacts)
	})
	fleettest.Eventually(t, 30*time.Second, "the tags mirrored into the location's tag catalogue (enricher)", func() bool {
		getLocation()
		return slices.Contains(detail.LocationTags, want[0]) && slices.Contains(detail.LocationTags, want[1])
	})

	n.operatorRun(t, "trigger", "stats", "--location", loc.ID)
	opConn, _ := n.connect(t, "operator")
	js, err := jetstream.New(opConn)
	if err != nil {
		t.Fatal(err)
	}
	history, err := js.KeyValue(context.Background(), topology.BucketStatsHistory)
	if err != nil {
		t.Fatal(err)
	}
	fleettest.Eventually(t, 30*time.Second, "a statistics snapshot in the history", func() bool {
		lister, err := history.ListKeys(context.Background())
		if err != nil {
			return false
		}
		found := false
		for k := range lister.Keys() {
			found = found || strings.HasPrefix(k, loc.ID+".")
		}
		return found
	})
	// The daily schedule the stats worker keeps per location.
	fleettest.Eventually(t, 30*time.Second, "the location's statistics schedule", func() bool {
		s, err := js.Stream(context.Background(), topology.StreamSchedules)
		if err != nil {
			return false
		}
		subject, _ := topology.StatsSchedules.Subject(loc.ID)
		_, err = s.GetLastMsgForSubject(context.Background(), subject)
		return err == nil
	})
	// A new contact-tag template, saved by the operator: contactsync renames
	// the tags it gave on its remap durable, and the operator follows it.
	mapFile := filepath.Join(t.TempDir(), "mapping.yaml")
	if err := os.WriteFile(mapFile, []byte("location: "+loc.ID+"\ncontactTag: \"ds-{{tagName}}\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	n.operatorRun(t, "mappings", "set", "-f", mapFile, "--offline")
	if out := n.operatorRun(t, "mappings", "status", "--location", loc.ID, "--follow", "--timeout", "90s"); !strings.Contains(out, "done at") {
		t.Errorf("mappings status --follow: %s", out)
	}
	getLocation()
	for _, c := range detail.Contacts {
		if slices.Contains(contacts, c.ID) && (!slices.Contains(c.Tags, "ds-"+strings.TrimPrefix(want[0], "social:")) || slices.Contains(c.Tags, want[0])) {
			t.Errorf("contact %s after the template change: %v", c.ID, c.Tags)
		}
	}
	// The operator lists dead letters (none here).
	n.operatorRun(t, "dlq")
	// The location lifecycle: paused, resumed, listed in the audit log, removed with its data.
	n.operatorRun(t, "locations", "pause", "--location", loc.ID)
	n.operatorRun(t, "locations", "resume", "--location", loc.ID)
	if out := n.operatorRun(t, "audit"); !strings.Contains(out, "resume") {
		t.Errorf("audit:\n%s", out)
	}
	n.operatorRun(t, "locations", "remove", "--location", loc.ID, "--purge-data")

	if v := n.violations.list(); len(v) > 0 {
		t.Errorf("permission violations while the fleet did its job:\n%s", strings.Join(v, "\n"))
	}
}

// operatorRun runs the socialsync CLI in-process as the operator user:
// args are the command and its flags; --nats is added.
func (e *natsEnv) operatorRun(t *testing.T, args ...string) string {
	t.Helper()
	return e.run(t, "operator", args...)
}

// run runs the socialsync CLI in-process as user: args are the command
// and its flags; --nats is added.
func (e *natsEnv) run(t *testing.T, user string, args ...string) string {
	t.Helper()
	n := 1
	if len(args) > 1 && (args[0] == "trigger" || args[0] == "locations" || args[0] == "segments" || args[0] == "topology" || args[0] == "mappings") {
		n = 2 // trigger post, locations add, segments apply, topology apply, mappings set: flags follow the subcommand
	}
	full := append(slices.Clone(args[:n]), "--nats", e.url(user))
	full = append(full, args[n:]...)
	var out, errOut bytes.Buffer
	if code := cli.Main(context.Background(), full, &out, &errOut); code != 0 {
		t.Fatalf("socialsync %s: exit %d: %s%s", strings.Join(args, " "), code, out.String(), errOut.String())
	}
	return out.String()
}

// check is one publish or subscribe a user attempts.
type check struct {
	op      string // "pub" or "sub"
	subject string
}

// TestUsersRefusedOutsideTheirSubjects connects as each user and shows that
// the server refuses what belongs to another (a permissions violation), and
// lets through what is its own: the same file, no JetStream needed for the
// checks themselves. Anonymous and wrong-password connections are refused.
func TestUsersRefusedOutsideTheirSubjects(t *testing.T) {
	n := startNATS(t)
	const loc = "aInbJ1FBHqUIXsDJP4dD"
	allowed := map[string][]check{
		"fetcher": {{"pub", "socialsync.refresh.catalogue." + loc}, {"pub", "socialsync.trigger.tagdetails." + loc},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_REFRESH.fetcher"}, {"pub", "socialsync.dlq.fetcher." + loc},
			{"pub", "$KV.socialsync_tags." + loc}, {"sub", "_INBOX_fetcher.abc.*"}},
		"enricher": {{"pub", "socialsync.event.tagdetails." + loc}, {"pub", "$KV.socialsync_tag_details." + loc + ".t1"},
			{"pub", "$JS.ACK.SOCIALSYNC_EVENTS.enricher.1.2.3.4.5.6"}},
		"stats": {{"pub", "socialsync.event.stats." + loc}, {"pub", "socialsync.schedule.stats." + loc},
			{"pub", "$JS.API.STREAM.PURGE.SOCIALSYNC_SCHEDULES"}, {"pub", "$KV.socialsync_stats_history." + loc + ".2026-11-27"},
			{"pub", "socialsync.schedule.agency." + loc}, {"qsub", topology.SubjectOAuthConnect + " " + topology.QueueOAuthConnect},
			{"qsub", topology.SubjectConsoleDoctor + " " + topology.QueueConsole},
			// A location's removal (stats.Remover): its purge's cursor, its held triggers, the audit entry.
			{"pub", "$KV.socialsync_relations.purge." + loc}, {"pub", "$JS.API.STREAM.PURGE.SOCIALSYNC_TRIGGERS"},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.remove"}, {"pub", "socialsync.audit.remove"}},
		"contactsync": {{"pub", "socialsync.event.contact." + loc}, {"pub", "$KV.socialsync_relations." + loc}, {"pub", "socialsync.refresh.catalogue." + loc},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.contactsync"},
			// A location's first event watches for its catalogue.
			{"pub", "$JS.API.CONSUMER.CREATE.KV_socialsync_tags.w1.$KV.socialsync_tags." + loc}, {"pub", "$JS.FC.KV_socialsync_tags.w1.1"},
			// A contact HighLevel deleted: its dead letters read and deleted (docs/personal-data.md).
			{"pub", "$JS.API.CONSUMER.CREATE.SOCIALSYNC_DLQ.erase1.socialsync.dlq.*." + loc}, {"pub", "$JS.API.STREAM.MSG.DELETE.SOCIALSYNC_DLQ"}},
		"automation": {{"pub", "socialsync.event.segment." + loc}, {"pub", "socialsync.trigger.segments." + loc},
			{"pub", "$KV.socialsync_segments.member." + loc + ".c1"}, {"pub", "$KV.socialsync_workflow_runs.r1"},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_EVENTS.workflows"}, {"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_EVENTS.segments"},
			{"pub", "socialsync.dlq.workflows." + loc}},
		"gateway": {{"pub", "socialsync.trigger.post." + loc}, {"pub", "socialsync.trigger.stats." + loc},
			{"pub", "$JS.API.CONSUMER.CREATE.SOCIALSYNC_EVENTS.dash1.socialsync.event.>"}, {"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_EVENTS.dash1"},
			{"pub", "$JS.API.STREAM.MSG.DELETE.SOCIALSYNC_DLQ"}, {"pub", "socialsync.event.tag." + loc},
			{"pub", topology.SubjectOAuthConnect}, {"pub", "$KV.socialsync_oauth_states.abc"},
			{"pub", topology.SubjectConsoleDoctor}},
		"operator": {{"pub", "socialsync.trigger.post." + loc}, {"pub", "$KV.socialsync_tokens." + loc},
			{"pub", "$JS.API.CONSUMER.CREATE.SOCIALSYNC_DLQ.list1.socialsync.dlq.>"}, {"pub", "$KV.socialsync_oauth_states.abc"}},
		"topology": {{"pub", "$JS.API.STREAM.INFO.SOCIALSYNC_TRIGGERS"}, {"pub", "$JS.API.CONSUMER.INFO.SOCIALSYNC_TRIGGERS.fetcher"},
			{"sub", "_INBOX_topology.abc.*"}},
		"backup": {{"pub", "$JS.API.STREAM.NAMES"}, {"pub", "$JS.API.CONSUMER.LIST.SOCIALSYNC_TRIGGERS"},
			{"pub", "$JS.API.CONSUMER.CREATE.KV_socialsync_tokens.ord1"}, {"pub", "$JS.API.CONSUMER.MSG.NEXT.KV_socialsync_tokens.ord1"},
			{"pub", "$JS.API.CONSUMER.DELETE.OBJ_socialsync_reports.ord1"}, {"sub", "_INBOX_backup.abc.*"}},
		"restore": {{"pub", "$JS.API.STREAM.INFO.KV_socialsync_relations"}, {"pub", "$KV.socialsync_relations." + loc},
			{"pub", "$KV.socialsync_tokens." + loc}, {"pub", "$O.socialsync_reports.C.abc"}, {"sub", "_INBOX_restore.abc.*"}},
	}
	refused := map[string][]check{
		"fetcher": {
			{"pub", "socialsync.event.contact." + loc},                           // contactsync's events
			{"pub", "socialsync.event.tagdetails." + loc},                        // the enricher's events
			{"pub", "socialsync.dlq.enricher." + loc},                            // another worker's dead letters
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.contactsync"}, // another worker's work
			{"pub", "$JS.ACK.SOCIALSYNC_TRIGGERS.contactsync.1.2.3.4.5.6"},
			{"pub", "$KV.socialsync_tag_details." + loc},
			{"pub", "$JS.API.STREAM.DELETE.SOCIALSYNC_TRIGGERS"},
			{"pub", "$JS.API.STREAM.CREATE.OTHER"},
			{"pub", "$JS.API.CONSUMER.CREATE.SOCIALSYNC_TRIGGERS.extra"},
			{"sub", "socialsync.>"},
			{"sub", "socialsync.trigger.post.*"},
		},
		"enricher": {
			{"pub", "socialsync.event.tag." + loc},     // the fetcher's events
			{"pub", "socialsync.trigger.post." + loc},  // outside systems' triggers
			{"pub", "socialsync.event.contact." + loc}, // contactsync's
			{"pub", "$KV.socialsync_tags." + loc},      // the fetcher's catalogue
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.fetcher"},
			{"pub", "$JS.API.STREAM.PURGE.SOCIALSYNC_EVENTS"},
			{"sub", "socialsync.event.>"},
		},
		"stats": {
			{"pub", "socialsync.event.contact." + loc},
			{"pub", "socialsync.trigger.post." + loc},
			{"pub", "socialsync.dlq.contactsync." + loc},
			{"pub", "$KV.socialsync_workflows.w1"},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.enricher"},
			{"pub", "$JS.API.STREAM.PURGE.SOCIALSYNC_EVENTS"},
			{"pub", "socialsync.audit.pause"}, // records removals only
			{"sub", "$KV.>"},
		},
		"contactsync": {
			{"pub", "socialsync.event.tag." + loc},
			{"pub", "socialsync.trigger.post." + loc},
			{"pub", "$KV.socialsync_tags." + loc},        // reads the catalogue, never writes it
			{"pub", "$KV.socialsync_tag_details." + loc}, // same for details
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.stats"},
			{"pub", "$JS.API.STREAM.PURGE.SOCIALSYNC_DLQ"},                   // deletes a deleted contact's dead letters one by one, never all
			{"pub", "socialsync.event.segment." + loc},                       // the automation worker's
			{"pub", "$KV.socialsync_segments.member." + loc + ".c1"},         // segment membership
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_EVENTS.workflows"}, // workflows
			{"sub", "socialsync.trigger.>"},
		},
		"automation": {
			{"pub", "socialsync.event.contact." + loc},                           // contactsync's
			{"pub", "$KV.socialsync_relations." + loc},                           // reads the contacts' states, never writes them
			{"pub", "$KV.socialsync_tags." + loc},                                // the fetcher's catalogue
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.contactsync"}, // contactsync's work
			{"pub", "socialsync.dlq.contactsync." + loc},
			{"pub", "socialsync.refresh.catalogue." + loc},
			{"sub", "socialsync.event.>"},
		},
		"gateway": {
			{"pub", "socialsync.event.contact." + loc}, // events come from the workers
			{"pub", "socialsync.dlq.fetcher." + loc},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.fetcher"},
			{"pub", "$JS.ACK.SOCIALSYNC_TRIGGERS.fetcher.1.2.3.4.5.6"},
			{"pub", "$JS.API.CONSUMER.DELETE.SOCIALSYNC_TRIGGERS.fetcher"},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_EVENTS.enricher"}, // its ordered consumers share the stream
			{"pub", "$JS.API.CONSUMER.DELETE.SOCIALSYNC_EVENTS.workflows"},
			{"pub", "$JS.API.STREAM.DELETE.SOCIALSYNC_DLQ"},
			{"pub", "$KV.socialsync_tags." + loc},
			{"sub", "socialsync.trigger.>"},
			// It reads tokens and never writes, deletes or reconfigures them.
			{"pub", "$KV.socialsync_tokens." + loc},
			{"pub", "$JS.API.STREAM.MSG.DELETE.KV_socialsync_tokens"},
			{"pub", "$JS.API.STREAM.PURGE.KV_socialsync_tokens"},
			{"pub", "$JS.API.STREAM.PURGE.KV_socialsync_locations"},
			{"pub", "$JS.API.STREAM.PURGE.SOCIALSYNC_AUDIT"},         // the audit log is appended to, never rewritten
			{"pub", "$KV.socialsync_segments.member." + loc + ".c1"}, // the automation worker's membership
		},
		"topology": {
			{"pub", "$KV.socialsync_tokens." + loc}, // applies the topology, reads and writes nothing stored
			{"pub", "$JS.API.DIRECT.GET.KV_socialsync_tokens.$KV.socialsync_tokens." + loc},
			{"pub", "socialsync.trigger.post." + loc},
			{"pub", "$JS.API.STREAM.DELETE.SOCIALSYNC_TRIGGERS"},
			{"pub", "$JS.API.STREAM.PURGE.SOCIALSYNC_EVENTS"},
			{"pub", "$JS.API.STREAM.CREATE.OTHER"},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.fetcher"},
		},
		"backup": {
			{"pub", "$KV.socialsync_tokens." + loc},                          // reads, never writes
			{"pub", "$KV.socialsync_relations." + loc},                       //
			{"pub", "$O.socialsync_reports.C.abc"},                           //
			{"pub", "socialsync.trigger.post." + loc},                        // publishes nothing
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.fetcher"}, // never the work streams' messages
			{"pub", "$JS.API.CONSUMER.CREATE.SOCIALSYNC_DLQ.ord1"},
			{"pub", "$JS.API.CONSUMER.CREATE.SOCIALSYNC_EVENTS.ord1.socialsync.event.>"},
			{"pub", "$JS.API.STREAM.MSG.GET.SOCIALSYNC_DLQ"},
			{"pub", "$JS.API.STREAM.PURGE.KV_socialsync_relations"},
			{"pub", "$JS.API.CONSUMER.DELETE.SOCIALSYNC_TRIGGERS.fetcher"},
		},
		"restore": {
			{"pub", "$JS.API.DIRECT.GET.KV_socialsync_tokens.$KV.socialsync_tokens." + loc}, // reads nothing stored
			{"pub", "$JS.API.CONSUMER.CREATE.KV_socialsync_tokens.ord1"},
			{"pub", "$JS.API.STREAM.MSG.GET.KV_socialsync_tokens"},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.fetcher"}, // pulls no work
			{"pub", "socialsync.trigger.post." + loc},
			{"pub", "socialsync.dlq.fetcher." + loc},
			{"pub", "$JS.API.STREAM.PURGE.KV_socialsync_relations"},
			{"pub", "$JS.API.STREAM.MSG.DELETE.KV_socialsync_tokens"},
			{"pub", "$JS.API.CONSUMER.DELETE.SOCIALSYNC_TRIGGERS.fetcher"},
			{"pub", "$JS.API.STREAM.CREATE.OTHER"},
		},
		"operator": {
			{"pub", "$JS.API.STREAM.DELETE.SOCIALSYNC_TRIGGERS"},
			{"pub", "$JS.API.STREAM.PURGE.SOCIALSYNC_EVENTS"},
			{"pub", "$JS.API.CONSUMER.MSG.NEXT.SOCIALSYNC_TRIGGERS.fetcher"}, // cannot take the workers' work
			{"pub", "$JS.API.CONSUMER.DELETE.SOCIALSYNC_TRIGGERS.fetcher"},
			{"pub", "socialsync.dlq.fetcher." + loc}, // cannot forge dead letters
			{"sub", "socialsync.>"},
		},
	}
	for _, user := range users {
		// Nobody but the topology and restore users creates, updates or
		// deletes a stream or a durable: a stolen worker password cannot
		// shorten the tokens' or the triggers' max age and wipe every tenant.
		if !creators[user] {
			refused[user] = append(refused[user],
				check{"pub", "$JS.API.STREAM.UPDATE.KV_socialsync_tokens"}, check{"pub", "$JS.API.STREAM.UPDATE.SOCIALSYNC_TRIGGERS"},
				check{"pub", "$JS.API.STREAM.CREATE.SOCIALSYNC_EVENTS"}, check{"pub", "$JS.API.STREAM.CREATE.KV_socialsync_tokens"},
				check{"pub", "$JS.API.CONSUMER.CREATE.SOCIALSYNC_TRIGGERS.fetcher.socialsync.trigger.post.*"},
				check{"pub", "$JS.API.CONSUMER.CREATE.SOCIALSYNC_EVENTS.workflows"})
		}
		refused[user] = append(refused[user], check{"pub", "$JS.API.STREAM.DELETE.KV_socialsync_tokens"},
			check{"pub", "$JS.API.STREAM.DELETE.SOCIALSYNC_TRIGGERS"})
		// Nobody reads another's replies: the shared _INBOX.> and every
		// other user's prefix are refused.
		refused[user] = append(refused[user], check{"sub", "_INBOX.>"}, check{"sub", ">"})
		// The hosted OAuth flow's codes reach the stats worker's queue
		// group only: nobody listens beside it, nobody but the gateway asks.
		refused[user] = append(refused[user], check{"sub", topology.SubjectOAuthConnect})
		if user != "stats" {
			refused[user] = append(refused[user], check{"qsub", topology.SubjectOAuthConnect + " " + topology.QueueOAuthConnect})
		}
		if user != "gateway" {
			refused[user] = append(refused[user], check{"pub", topology.SubjectOAuthConnect})
		}
		// The test console's doctor runs likewise: the stats worker
		// answers, the gateway asks.
		refused[user] = append(refused[user], check{"sub", topology.SubjectConsoleDoctor})
		if user != "stats" {
			refused[user] = append(refused[user], check{"qsub", topology.SubjectConsoleDoctor + " " + topology.QueueConsole})
		}
		if user != "gateway" {
			refused[user] = append(refused[user], check{"pub", topology.SubjectConsoleDoctor})
		}
		for _, other := range users {
			if other != user {
				refused[user] = append(refused[user], check{"sub", "_INBOX_" + other + ".>"})
			}
		}
	}
	for _, user := range users {
		t.Run(user, func(t *testing.T) {
			if len(allowed[user]) == 0 || len(refused[user]) == 0 {
				t.Fatalf("no checks for %s", user)
			}
			nc, errs := n.connect(t, user)
			for _, c := range allowed[user] {
				if err := attempt(nc, errs, c); err != nil {
					t.Errorf("%s %s %q: %v, want it allowed", user, c.op, c.subject, err)
				}
			}
			for _, c := range refused[user] {
				err := attempt(nc, errs, c)
				if err == nil || !errors.Is(err, nats.ErrPermissionViolation) {
					t.Errorf("%s %s %q: %v, want a permissions violation", user, c.op, c.subject, err)
				}
			}
		})
	}

	t.Run("anonymous", func(t *testing.T) {
		nc, err := nats.Connect(n.srv.ClientURL(), nats.RootCAs(n.tls.CA))
		if err == nil {
			nc.Close()
			t.Fatal("an anonymous connection was accepted")
		}
		if !errors.Is(err, nats.ErrAuthorization) {
			t.Errorf("anonymous connect: %v, want an authorization error", err)
		}
	})
	// The chart's server takes TLS connections only: a client without the
	// CA, right password or not, is refused before it authenticates.
	t.Run("without TLS", func(t *testing.T) {
		nc, err := nats.Connect(n.url("fetcher"))
		if err == nil {
			nc.Close()
			t.Fatal("a connection without TLS was accepted")
		}
		// nats.go upgrades to TLS when the server requires it, and then
		// cannot verify a certificate the system's CAs did not sign.
		if !errors.Is(err, nats.ErrSecureConnRequired) && !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Errorf("plain connect: %v, want a refusal of the connection without TLS", err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		u, _ := url.Parse(n.srv.ClientURL())
		u.User = url.UserPassword("fetcher", n.passwords["enricher"])
		nc, err := nats.Connect(u.String(), nats.RootCAs(n.tls.CA))
		if err == nil {
			nc.Close()
			t.Fatal("fetcher with the enricher's password was accepted")
		}
	})
}

// attempt publishes or subscribes as c says, and returns the permissions
// violation the server answers with, or nil when none comes: the server
// handles a PUB or SUB before the PING of Flush, so a refusal arrives
// before Flush returns (its callback may run a moment later).
func attempt(nc *nats.Conn, errs <-chan error, c check) error {
	for len(errs) > 0 { // stale errors of an earlier attempt
		<-errs
	}
	var sub *nats.Subscription
	var err error
	switch c.op {
	case "pub":
		err = nc.Publish(c.subject, []byte("{}"))
	case "sub":
		sub, err = nc.SubscribeSync(c.subject)
	case "qsub": // "subject queue"
		subject, queue, _ := strings.Cut(c.subject, " ")
		sub, err = nc.QueueSubscribeSync(subject, queue)
	default:
		return fmt.Errorf("unknown op %q", c.op)
	}
	if err != nil {
		return err
	}
	if sub != nil {
		defer func() { _ = sub.Unsubscribe() }()
	}
	if err := nc.Flush(); err != nil {
		return err
	}
	timeout := time.After(300 * time.Millisecond)
	for {
		select {
		case err := <-errs:
			if subject, _, _ := strings.Cut(c.subject, " "); strings.Contains(err.Error(), fmt.Sprintf("%q", subject)) {
				return err
			}
		case <-timeout:
			return nil
		}
	}
}

// TestAccountsCoverTopology reads accounts.conf with nats-server's own
// parser and checks it against the topology the code declares
// (topology.New): the topology user may create, update and read every
// stream, bucket, object store and durable Apply declares, and no other
// user may create, update or delete any stream or create any durable; every
// user may read stream info (Verify at start); each worker may read, pull
// and acknowledge its own durables and no other worker's; each user
// subscribes to its own inbox prefix only. A stream or consumer added to
// pkg/topology without its grants fails here, naming it.
func TestAccountsCoverTopology(t *testing.T) {
	for _, u := range users {
		t.Setenv("SOCIALSYNC_NATS_"+strings.ToUpper(u)+"_PASSWORD", "pw"+u)
	}
	opts, err := server.ProcessConfigFile(accountsFile)
	if err != nil {
		t.Fatal(err)
	}
	allow, deny := map[string][]string{}, map[string][]string{}
	for _, u := range opts.Users {
		if u.Account == nil || u.Account.Name != "SOCIALSYNC" {
			t.Errorf("user %s is not in the SOCIALSYNC account", u.Username)
		}
		if u.Permissions == nil || u.Permissions.Publish == nil || u.Permissions.Subscribe == nil {
			t.Fatalf("user %s has no publish and subscribe permissions: it could do anything", u.Username)
		}
		if want := append([]string{"_INBOX_" + u.Username + ".>"}, serves[u.Username]...); !slices.Equal(u.Permissions.Subscribe.Allow, want) {
			t.Errorf("user %s subscribes to %v, want only %v, its own replies and the requests it answers", u.Username, u.Permissions.Subscribe.Allow, want)
		}
		if got := fleet.DefaultInboxPrefix("nats://" + u.Username + ":pw@nats:4222"); got+".>" != "_INBOX_"+u.Username+".>" {
			t.Errorf("the processes of user %s reply on %s.>, which accounts.conf does not let it subscribe to", u.Username, got)
		}
		allow[u.Username], deny[u.Username] = u.Permissions.Publish.Allow, u.Permissions.Publish.Deny
	}
	if got := slices.Sorted(maps.Keys(allow)); !slices.Equal(got, slices.Sorted(slices.Values(users))) {
		t.Fatalf("users %v, want %v", got, users)
	}
	// As the server decides: allowed by a filter and denied by none.
	may := func(user, subject string) bool {
		matches := func(filter string) bool { return server.SubjectMatchesFilter(subject, filter) }
		return slices.ContainsFunc(allow[user], matches) && !slices.ContainsFunc(deny[user], matches)
	}
	topo := topology.New(topology.Options{})
	var stores []string
	for _, s := range topo.Streams {
		stores = append(stores, s.Name)
	}
	for _, kv := range topo.KeyValues {
		stores = append(stores, "KV_"+kv.Bucket)
	}
	for _, o := range topo.ObjectStores {
		stores = append(stores, "OBJ_"+o.Bucket)
	}
	var apply []string
	for _, name := range stores {
		apply = append(apply, "$JS.API.STREAM.CREATE."+name, "$JS.API.STREAM.UPDATE."+name, "$JS.API.STREAM.INFO."+name)
	}
	var durables []string
	for _, c := range topo.Consumers {
		subject := "$JS.API.CONSUMER.CREATE." + c.Stream + "." + c.Config.Durable
		if c.Config.FilterSubject != "" {
			subject += "." + c.Config.FilterSubject // nats.go's form with a single filter
		}
		durables = append(durables, subject)
		apply = append(apply, subject, "$JS.API.CONSUMER.INFO."+c.Stream+"."+c.Config.Durable)
	}
	for _, s := range apply {
		if !may("topology", s) {
			t.Errorf("the topology user may not %s, which socialsync topology apply does", s)
		}
		// socialsync restore creates the archived streams and durables:
		// those of the topology, the same way (it reads no durable's info).
		if !strings.HasPrefix(s, "$JS.API.CONSUMER.INFO.") && !may("restore", s) {
			t.Errorf("the restore user may not %s, which socialsync restore does with an archive of this topology", s)
		}
	}
	// socialsync backup reads every bucket and the object store with an
	// ordered consumer, socialsync restore stores their messages again;
	// neither takes any other part.
	for _, name := range stores {
		if !strings.HasPrefix(name, "KV_") && !strings.HasPrefix(name, "OBJ_") {
			for _, s := range []string{"$JS.API.CONSUMER.CREATE." + name + ".ord1", "$JS.API.CONSUMER.MSG.NEXT." + name + ".ord1"} {
				if may("backup", s) {
					t.Errorf("the backup user may %s: the work streams' messages are not backed up", s)
				}
			}
			continue
		}
		for _, s := range []string{"$JS.API.CONSUMER.CREATE." + name + ".ord1", "$JS.API.CONSUMER.MSG.NEXT." + name + ".ord1",
			"$JS.API.CONSUMER.DELETE." + name + ".ord1", "$JS.API.CONSUMER.LIST." + name} {
			if !may("backup", s) {
				t.Errorf("the backup user may not %s, which socialsync backup does", s)
			}
		}
		data := "$KV." + strings.TrimPrefix(name, "KV_") + ".k1"
		if strings.HasPrefix(name, "OBJ_") {
			data = "$O." + strings.TrimPrefix(name, "OBJ_") + ".C.n1"
		}
		if !may("restore", data) {
			t.Errorf("the restore user may not publish %s, which socialsync restore does", data)
		}
		for _, u := range []string{"backup", "restore"} {
			if u == "backup" && may(u, data) {
				t.Errorf("the backup user may write %s", data)
			}
			if u == "restore" && (may(u, "$JS.API.CONSUMER.CREATE."+name+".ord1") || may(u, "$JS.API.DIRECT.GET."+name+".x")) {
				t.Errorf("the restore user may read %s", name)
			}
		}
	}
	for _, u := range users {
		for _, name := range stores {
			if !may(u, "$JS.API.STREAM.INFO."+name) {
				t.Errorf("%s may not read the info of %s, which it waits for at start", u, name)
			}
			for _, op := range []string{"DELETE", "PURGE"} {
				if may(u, "$JS.API.STREAM."+op+"."+name) && !purgeAllowed[u+" "+name] {
					t.Errorf("%s may %s stream %s", u, strings.ToLower(op), name)
				}
			}
			if creators[u] {
				continue
			}
			for _, op := range []string{"CREATE", "UPDATE"} {
				if may(u, "$JS.API.STREAM."+op+"."+name) {
					t.Errorf("%s may %s stream %s: only the topology and restore users may", u, strings.ToLower(op), name)
				}
			}
		}
		if creators[u] {
			continue
		}
		for _, s := range durables {
			if may(u, s) {
				t.Errorf("%s may %s: only the topology and restore users create durables", u, s)
			}
		}
	}
	for _, c := range topo.Consumers {
		own := c.Config.Durable
		if o, ok := durableOwner[own]; ok {
			own = o
		}
		for _, s := range []string{
			"$JS.API.CONSUMER.INFO." + c.Stream + "." + c.Config.Durable,
			"$JS.API.CONSUMER.MSG.NEXT." + c.Stream + "." + c.Config.Durable,
			"$JS.ACK." + c.Stream + "." + c.Config.Durable + ".1.1.1.1.1.0",
			"socialsync.dlq." + c.Config.Durable + ".L1",
		} {
			if !may(own, s) {
				t.Errorf("worker %s may not %s on its own durable", own, s)
			}
		}
		for _, u := range users {
			if u == own {
				continue
			}
			d := c.Config.Durable
			for _, s := range []string{"$JS.API.CONSUMER.MSG.NEXT." + c.Stream + "." + d, "$JS.ACK." + c.Stream + "." + d + ".1.1.1.1.1.0",
				"$JS.API.CONSUMER.DELETE." + c.Stream + "." + d} {
				if may(u, s) {
					t.Errorf("%s may %s: the durable of %s", u, s, own)
				}
			}
		}
	}
	for _, u := range users {
		for _, s := range []string{"$JS.API.STREAM.CREATE.OTHER", "$JS.API.STREAM.UPDATE.OTHER", "$JS.API.ACCOUNT.PURGE.SOCIALSYNC", "$SYS.REQ.SERVER.PING",
			"$JS.API.CONSUMER.DURABLE.CREATE." + topology.StreamTriggers + ".fetcher"} {
			if may(u, s) {
				t.Errorf("%s may %s", u, s)
			}
		}
	}
	// The gateway, the one public component, reads tokens and never
	// writes them. It writes location records (pause and resume), which
	// hold no secret.
	for _, s := range []string{"$KV." + topology.BucketTokens + ".L1",
		"$JS.API.STREAM.MSG.DELETE.KV_" + topology.BucketTokens, "$JS.API.STREAM.PURGE.KV_" + topology.BucketTokens} {
		if may("gateway", s) {
			t.Errorf("the gateway may %s", s)
		}
	}
	if !may("gateway", "$JS.API.DIRECT.GET.KV_"+topology.BucketTokens+".$KV.socialsync_tokens.L1") {
		t.Error("the gateway may not read a token record (a location's status)")
	}
}

// purgeAllowed are the purges a user's code does: the stats worker
// removes a location's schedule (purge by subject) and, removing a
// location (DELETE /v1/locations/{loc}), its held triggers and pending
// refresh (by subject), the stats worker
// replaces a report in the object store, the operator deletes a removed
// location's reports (locations remove --purge-data) and purges its held
// triggers and pending refresh (by subject); contactsync and the operator
// purge an erased contact's delete markers (by subject).
var purgeAllowed = map[string]bool{"stats SOCIALSYNC_SCHEDULES": true, "stats SOCIALSYNC_TRIGGERS": true, "stats SOCIALSYNC_REFRESH": true, "stats OBJ_socialsync_reports": true, "operator OBJ_socialsync_reports": true,
	"operator SOCIALSYNC_TRIGGERS": true, "operator SOCIALSYNC_REFRESH": true,
	// Erasing a contact purges the delete markers of its records by subject (docs/personal-data.md).
	"contactsync KV_socialsync_relations": true, "contactsync KV_socialsync_contact_refs": true,
	"operator KV_socialsync_relations": true, "operator KV_socialsync_contact_refs": true}

// durableOwner names the user of a durable not named after its worker:
// the automation worker runs the segments, workflows and notifier durables,
// contactsync its HighLevel webhooks, reconcile and remap durables, the
// stats worker the agency syncs and the location removals.
var durableOwner = map[string]string{"remove": "stats", "segments": "automation", "workflows": "automation", "notifier": "automation", "contactsync-highlevel": "contactsync", "reconcile": "contactsync",
	"remap": "contactsync", "agency": "stats"}

// serves lists what a user subscribes to besides its own replies: the
// requests it answers, as "subject queue" (the stats worker holds the
// hosted OAuth flow's credentials, creds.Connector).
var serves = map[string][]string{"stats": {topology.SubjectOAuthConnect + " " + topology.QueueOAuthConnect,
	topology.SubjectConsoleDoctor + " " + topology.QueueConsole}}
