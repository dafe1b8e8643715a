package settings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/nats-io/nats.go/jetstream"
)

// DefaultContactTag is the contact-tag naming template when a location
// has none.
const DefaultContactTag = "social:{{tagName}}"

// Mapping is how a location's social data lands in HighLevel.
type Mapping struct {
	// Location is the location the mapping is for (a mapping file names
	// it; the stored value keeps it).
	Location string `json:"location" yaml:"location"`
	// ContactTag names the contact tag standing for a social tag. It
	// holds the placeholder {{tagName}} and some text of its own, so that
	// socialsync's tags stay apart from tags added by hand.
	ContactTag string `json:"contactTag,omitempty" yaml:"contactTag,omitempty"`
	// ContactFields copy tag-detail fields into contact custom fields.
	ContactFields []FieldMapping `json:"contactFields,omitempty" yaml:"contactFields,omitempty"`
	// CustomValues write statistics into the location's custom values
	// after every statistics run.
	CustomValues []ValueMapping `json:"customValues,omitempty" yaml:"customValues,omitempty"`
	// Contacts tells how the contacts a post event names by email, phone
	// or external id are found (docs/contacts.md).
	Contacts ContactsMapping `json:"contacts,omitzero" yaml:"contacts,omitempty"`
	// Reconcile tells what reconciliation does with the drift it finds
	// (docs/contacts.md, "Reconciliation").
	Reconcile ReconcileMapping `json:"reconcile,omitzero" yaml:"reconcile,omitempty"`
}

// Reconciliation policies (ReconcileMapping.Policy).
const (
	// PolicyRespect, the default, takes a contact tag removed by hand as
	// meant: socialsync records the removal and leaves the tag off the
	// contact until the posts that gave it change their tags; a tag
	// added by hand is left too.
	PolicyRespect = "respect"
	// PolicyRepair makes HighLevel hold what socialsync says: removed tags
	// are added again, and tags socialsync's own contacts carry that it
	// did not give them are removed.
	PolicyRepair = "repair"
)

// ReconcileMapping is a location's reconciliation setting.
type ReconcileMapping struct {
	// Policy is PolicyRespect (empty means it) or PolicyRepair.
	Policy string `json:"policy,omitempty" yaml:"policy,omitempty"`
	// Every, when set, reconciles the location on a schedule: a Go
	// duration of at least MinReconcileEvery ("24h", "168h"). A run
	// starts in each period (counted from the Unix epoch, in UTC).
	Every string `json:"every,omitempty" yaml:"every,omitempty"`
}

// MinReconcileEvery is the shortest reconciliation schedule.
const MinReconcileEvery = time.Hour

// ReconcileEvery returns the mapping's reconciliation period; 0 when it
// has no schedule (or an unreadable one: Validate refuses those).
func (m Mapping) ReconcileEvery() time.Duration {
	d, err := time.ParseDuration(m.Reconcile.Every)
	if err != nil || d < MinReconcileEvery {
		return 0
	}
	return d
}

// ReconcilePolicy returns the mapping's reconciliation policy, the
// default when it names none.
func (m Mapping) ReconcilePolicy() string {
	if m.Reconcile.Policy == "" {
		return PolicyRespect
	}
	return m.Reconcile.Policy
}

// ContactsMapping tells how contacts named by email, phone number or an
// id of the sending system are found in the location.
type ContactsMapping struct {
	// CreateMissing creates, through HighLevel's upsert, a contact named
	// by email or phone number that the location does not hold. Off by
	// default: such a reference is dead-lettered.
	CreateMissing bool `json:"createMissing,omitempty" yaml:"createMissing,omitempty"`
	// ExternalIDField is the key of the contact custom field holding the
	// sending systems' ids ("contact.crm_id"); without it, a contact
	// named by external id is dead-lettered.
	ExternalIDField string `json:"externalIdField,omitempty" yaml:"externalIdField,omitempty"`
}

// FieldMapping copies a tag-detail field into a contact custom field.
type FieldMapping struct {
	From string `json:"from" yaml:"from"`
	To   string `json:"to" yaml:"to"`
}

// ValueMapping writes a statistic into the custom value Name.
type ValueMapping struct {
	Name string `json:"name" yaml:"name"`
	From string `json:"from" yaml:"from"`
}

// TagDetailFields are the tag-detail fields a mapping may copy.
var TagDetailFields = []string{"tagId", "tagName", "createdBy", "createdAt", "updatedAt"}

// placeholder matches {{ name }} in a template.
var placeholder = regexp.MustCompile(`\{\{\s*([^{}]*?)\s*\}\}`)

var customFieldKey = regexp.MustCompile(`^[A-Za-z0-9_.]{1,100}$`)

// ParseMapping reads a mapping file (YAML or JSON), refusing unknown
// fields with their line, and validates it.
func ParseMapping(data []byte) (Mapping, error) {
	var m Mapping
	if err := yaml.UnmarshalWithOptions(data, &m, yaml.Strict()); err != nil {
		return Mapping{}, fmt.Errorf("%w: %s", ErrInvalid, yamlError(err))
	}
	return m, m.Validate()
}

var yamlPosition = regexp.MustCompile(`^\[(\d+):(\d+)\] `)

// yamlError returns the first line of a YAML error, its position written
// "line L, column C: ".
func yamlError(err error) string {
	msg, _, _ := strings.Cut(yaml.FormatError(err, false, false), "\n")
	return yamlPosition.ReplaceAllString(msg, "line $1, column $2: ")
}

// Validate reports every field it cannot apply, naming it.
func (m Mapping) Validate() error { return problems(m.Problems()).err("mapping") }

// Problems lists every field of m that cannot be applied, one problem
// each, in the order of the fields; none when m is valid.
func (m Mapping) Problems() []Problem {
	var errs problems
	if m.ContactTag != "" {
		if err := checkTemplate(m.ContactTag); err != nil {
			errs.add("contactTag", "%v", err)
		}
	}
	seen := map[string]bool{}
	for i, f := range m.ContactFields {
		if !slices.Contains(TagDetailFields, f.From) {
			errs.add(fmt.Sprintf("contactFields[%d].from", i), "unknown tag-detail field %q (want one of %s)", f.From, strings.Join(TagDetailFields, ", "))
		}
		if !customFieldKey.MatchString(f.To) {
			errs.add(fmt.Sprintf("contactFields[%d].to", i), "%q is not a custom field key (letters, digits, '_' and '.')", f.To)
		}
		if seen[f.To] {
			errs.add(fmt.Sprintf("contactFields[%d].to", i), "%q is mapped twice", f.To)
		}
		seen[f.To] = true
	}
	if k := m.Contacts.ExternalIDField; k != "" && !customFieldKey.MatchString(k) {
		errs.add("contacts.externalIdField", "%q is not a custom field key (letters, digits, '_' and '.')", k)
	}
	if p := m.Reconcile.Policy; p != "" && p != PolicyRespect && p != PolicyRepair {
		errs.add("reconcile.policy", "%q is not a policy (want %s or %s)", p, PolicyRespect, PolicyRepair)
	}
	if e := m.Reconcile.Every; e != "" && m.ReconcileEvery() == 0 {
		errs.add("reconcile.every", "%q: want a duration of at least %s, such as 24h", e, MinReconcileEvery)
	}
	names := map[string]bool{}
	for i, v := range m.CustomValues {
		if _, err := ParseMetric(v.From); err != nil {
			errs.add(fmt.Sprintf("customValues[%d].from", i), "%v", err)
		}
		switch n := strings.TrimSpace(v.Name); {
		case n == "" || len(n) > 100:
			errs.add(fmt.Sprintf("customValues[%d].name", i), "want 1 to 100 characters")
		case names[strings.ToLower(n)]:
			errs.add(fmt.Sprintf("customValues[%d].name", i), "%q is mapped twice", n)
		case strings.HasPrefix(strings.ToLower(n), RecommendationPrefix):
			errs.add(fmt.Sprintf("customValues[%d].name", i), "%q: names starting with %q are socialsync's recommendations", n, RecommendationPrefix)
		}
		names[strings.ToLower(strings.TrimSpace(v.Name))] = true
	}
	return errs
}

// RecommendationPrefix starts the names of the custom values socialsync
// writes its recommendations to.
const RecommendationPrefix = "socialsync_"

func checkTemplate(t string) error {
	found := false
	for _, m := range placeholder.FindAllStringSubmatch(t, -1) {
		if m[1] != "tagName" {
			return fmt.Errorf("unknown placeholder {{%s}} (want {{tagName}})", m[1])
		}
		found = true
	}
	rest := placeholder.ReplaceAllString(t, "")
	switch {
	case !found:
		return fmt.Errorf("%q lacks the placeholder {{tagName}}", t)
	case strings.Contains(rest, "{{") || strings.Contains(rest, "}}"):
		return fmt.Errorf("%q has an unclosed placeholder", t)
	case strings.TrimSpace(rest) == "":
		// Without text of its own, a tag removed because no post carries
		// it any more would also be removed where it was added by hand.
		return fmt.Errorf("%q needs text besides {{tagName}}, such as \"social:\"", t)
	case len(t) > 200:
		return fmt.Errorf("longer than 200 characters")
	}
	return nil
}

// Template returns the mapping's contact-tag template, the default when
// it has none.
func (m Mapping) Template() string {
	if m.ContactTag == "" {
		return DefaultContactTag
	}
	return m.ContactTag
}

// ContactTag renders the contact-tag template for a social tag's name.
func (m Mapping) ContactTagFor(name string) string {
	return placeholder.ReplaceAllLiteralString(m.Template(), strings.TrimSpace(name))
}

// YAML returns the mapping as a mapping file.
func (m Mapping) YAML() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// GetMapping returns loc's mapping; ok is false when none is stored.
func GetMapping(ctx context.Context, kv jetstream.KeyValue, loc string) (m Mapping, ok bool, err error) {
	ok, err = get(ctx, kv, MappingsKey(loc), &m)
	return m, ok, err
}

// PutMapping validates and stores m for m.Location.
func PutMapping(ctx context.Context, kv jetstream.KeyValue, m Mapping) error {
	if err := m.Validate(); err != nil {
		return err
	}
	return put(ctx, kv, MappingsKey(m.Location), m)
}

// ContactTagNaming returns how loc's contact tags are named: by the
// contact-tag template of its mapping, read now so that a change applies
// to the next event, else by fallback. A failed read is an error (the
// caller retries: guessing the naming would swap every tag of the
// location); a stored mapping that does not decode or validate (mappings
// are validated when saved, so only a hand-written value) falls back, with
// a warning on log.
func ContactTagNaming(ctx context.Context, kv jetstream.KeyValue, loc string, fallback func(string) string, log *slog.Logger) (func(string) string, error) {
	m, ok, err := GetMapping(ctx, kv, loc)
	switch {
	case errors.Is(err, ErrInvalid):
		log.Warn("mapping unreadable; naming contact tags by the prefix", "location", loc, "err", err)
		return fallback, nil
	case err != nil:
		return nil, err
	case !ok || m.ContactTag == "":
		return fallback, nil
	}
	if err := m.Validate(); err != nil {
		log.Warn("mapping invalid; naming contact tags by the prefix", "location", loc, "err", err)
		return fallback, nil
	}
	return m.ContactTagFor, nil
}
