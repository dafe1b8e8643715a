package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/settings"
)

func mappingsCmd(ctx context.Context, env *Env, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: want a subcommand: set, get or status", errUsage)
	}
	switch args[0] {
	case "set":
		return mappingsSet(ctx, env, args[1:])
	case "get":
		return mappingsGet(ctx, env, args[1:])
	case "status":
		return mappingsStatus(ctx, env, args[1:])
	default:
		return fmt.Errorf("%w: unknown subcommand %q: want set, get or status", errUsage, args[0])
	}
}

func mappingsSet(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "mappings set", "Store a location's field mappings (YAML), applied live by the running workers:\n\n"+
		"  location: <id>\n"+
		"  contactTag: \"social:{{tagName}}\"          # contact tag per social tag; {{tagName}} is the only placeholder\n"+
		"  contactFields:                             # tag-detail field → contact custom field\n"+
		"    - { from: tagName, to: contact.last_social_tag }   # from: "+strings.Join(settings.TagDetailFields, ", ")+"\n"+
		"  customValues:                              # statistic → custom value, after every statistics run\n"+
		"    - { name: \"Weekly impressions\", from: totals.impressions }  # totals.<field> or <platform>.<field>\n\n"+
		"A file with an unknown field, placeholder, tag-detail field or statistic is refused, and nothing is stored.")
	url := natsFlag(fs)
	file := fs.String("f", "", "mapping file (required; - reads standard input)")
	offline := fs.Bool("offline", false, "do not ask HighLevel whether the contactFields' custom fields exist (they are checked otherwise,\nwith the location's token: SOCIALSYNC_TOKEN_KEY and SOCIALSYNC_GHL_BASE_URL as for doctor)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var data []byte
	var err error
	switch *file {
	case "":
		return fmt.Errorf("%w: -f is required", errUsage)
	case "-":
		data, err = io.ReadAll(os.Stdin)
	default:
		data, err = os.ReadFile(*file)
	}
	if err != nil {
		return err
	}
	m, err := settings.ParseMapping(data)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", errUsage, *file, err)
	}
	if !ids.ValidHighLevel(m.Location) {
		return fmt.Errorf("%w: %s: location: want a HighLevel location id (letters and digits), got %q", errUsage, *file, m.Location)
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	if _, err := locate(ctx, c.js, m.Location, time.Now()); err != nil {
		return err
	}
	if (len(m.ContactFields) > 0 || m.Contacts.ExternalIDField != "") && !*offline {
		if err := checkCustomFields(ctx, env, *url, m); err != nil {
			return err
		}
	}
	kv, err := settings.Open(ctx, c.js)
	if err != nil {
		return err
	}
	remap, err := settings.SaveMapping(ctx, c.js, kv, m, "cli", env.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "mappings of %s stored: contact tags %q, %d contact fields, %d custom values\n",
		m.Location, m.Template(), len(m.ContactFields), len(m.CustomValues))
	if !remap {
		return nil
	}
	fmt.Fprintf(env.Stdout, "the contact tags socialsync gave are being renamed to %q; follow with: socialsync mappings status --location %s --follow\n",
		m.Template(), m.Location)
	return nil
}

func mappingsGet(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "mappings get", "Print a location's field mappings as a mapping file (the defaults when none are stored).")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := locationArg(*loc); err != nil {
		return err
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	kv, err := settings.Open(ctx, c.js)
	if err != nil {
		return err
	}
	m, ok, err := settings.GetMapping(ctx, kv, *loc)
	if err != nil {
		return err
	}
	if !ok {
		m = settings.Mapping{Location: *loc, ContactTag: settings.DefaultContactTag}
		fmt.Fprintln(env.Stdout, "# no mappings stored: the defaults")
	}
	data, err := m.YAML()
	if err != nil {
		return err
	}
	_, err = env.Stdout.Write(data)
	return err
}

// locationsSchedule sets or shows a location's statistics schedule and
// retention.
func locationsSchedule(ctx context.Context, env *Env, args []string) error {
	fs := newFlags(env, "locations schedule", "Set a location's statistics schedule and history retention; the running stats workers\n"+
		"reschedule it at once. With no setting flag, show them.")
	url := natsFlag(fs)
	loc := fs.String("location", "", "HighLevel location id (required)")
	cron := fs.String("cron", "", "6-field cron with seconds first (\"0 0 6 * * *\"), @daily, @hourly or @every <duration>")
	tz := fs.String("timezone", "", "IANA time zone the cron runs in (default: the location's)")
	retention := fs.Int("retention-days", -1, "days of statistics history kept (0: the worker's default)")
	reset := fs.Bool("reset", false, "remove the location's settings: the worker's defaults apply")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := locationArg(*loc); err != nil {
		return err
	}
	if *cron != "" {
		if err := settings.CheckSpec(*cron); err != nil {
			return fmt.Errorf("%w: --cron: %v", errUsage, err)
		}
		if *tz != "" && !settings.TakesTimeZone(*cron) {
			return fmt.Errorf("%w: --timezone: %q runs in UTC and takes no time zone", errUsage, *cron)
		}
	}
	c, err := dial(ctx, *url)
	if err != nil {
		return err
	}
	defer c.close()
	if _, err := locate(ctx, c.js, *loc, time.Now()); err != nil {
		return err
	}
	kv, err := settings.Open(ctx, c.js)
	if err != nil {
		return err
	}
	if *reset {
		if err := kv.Delete(ctx, settings.StatsKey(*loc)); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "statistics settings of %s removed: the worker's defaults apply\n", *loc)
		return nil
	}
	st, err := settings.GetStats(ctx, kv, *loc)
	if err != nil {
		return err
	}
	changed := *cron != "" || *tz != "" || *retention >= 0
	if *cron != "" {
		st.Cron = *cron
	}
	if *tz != "" {
		st.Timezone = *tz
	}
	if *retention >= 0 {
		st.RetentionDays = *retention
	}
	if changed {
		if err := settings.PutStats(ctx, kv, *loc, st); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
	}
	fmt.Fprintf(env.Stdout, "location %s: cron %s, time zone %s, retention %s\n", *loc,
		orDefault(st.Cron), orDefault(st.Timezone), orDefault(fmt.Sprint(st.RetentionDays), "0"))
	return nil
}

// orDefault writes "default" for an unset value (the empty string, or
// one of unset).
func orDefault(v string, unset ...string) string {
	if v == "" || len(unset) > 0 && v == unset[0] {
		return "default"
	}
	return v
}

// checkCustomFields refuses a mapping whose contactFields name a contact
// custom field the location does not define, asking HighLevel with the
// location's token.
func checkCustomFields(ctx context.Context, env *Env, url string, m settings.Mapping) error {
	cfg, c, store, err := openRefreshingStore(ctx, url)
	if err != nil {
		return err
	}
	defer c.close()
	gc, closeGov, err := cfg.governedClient(ctx, env, c, ghl.Options{})
	if err != nil {
		return err
	}
	defer closeGov()
	defs, err := gc.ForLocation(m.Location, store.TokenSource(m.Location)).ContactCustomFields(ctx, m.Location)
	if err != nil {
		return fmt.Errorf("list the contact custom fields of %s (--offline skips this check): %w", m.Location, err)
	}
	keys := map[string]bool{}
	var known []string
	for _, d := range defs {
		keys[d.FieldKey] = true
		known = append(known, d.FieldKey)
	}
	var bad []string
	for i, f := range m.ContactFields {
		if !keys[f.To] && !keys["contact."+f.To] {
			bad = append(bad, fmt.Sprintf("contactFields[%d].to: custom field %q is not defined in location %s", i, f.To, m.Location))
		}
	}
	if f := m.Contacts.ExternalIDField; f != "" && !keys[f] && !keys["contact."+f] {
		bad = append(bad, fmt.Sprintf("contacts.externalIdField: custom field %q is not defined in location %s", f, m.Location))
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s (defined: %s)", errUsage, strings.Join(bad, "; "), strings.Join(known, ", "))
	}
	return nil
}
