package automation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"
)

// Workflow is a saved workflow: on a trigger, when a condition holds, run
// actions.
type Workflow struct {
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// On is the trigger: tag.created, tag.renamed, tag.deleted,
	// tagdetails.stored, stats.snapshot, segment.entered or segment.left.
	On Trigger `yaml:"on" json:"on"`
	// When is an optional condition (an expr-lang expression of type
	// bool) over the trigger's environment, such as
	// `tagName startsWith "promo"` or `impressions.change > 20`.
	When string `yaml:"when,omitempty" json:"when,omitempty"`
	// Locations limits the workflow to these locations; none: every
	// location.
	Locations []string `yaml:"locations,omitempty" json:"locations,omitempty"`
	// IncludeDiscovered makes a tag.created workflow fire also for the
	// tags of a location's first catalogue, which socialsync discovers
	// when the location is connected; by default it fires only for tags
	// created later.
	IncludeDiscovered bool `yaml:"includeDiscovered,omitempty" json:"includeDiscovered,omitempty"`
	// Disabled keeps the workflow stored without firing it.
	Disabled bool     `yaml:"disabled,omitempty" json:"disabled,omitempty"`
	Actions  []Action `yaml:"actions" json:"actions"`
}

// WorkflowsFile is the YAML file `socialsync workflows apply` reads.
type WorkflowsFile struct {
	Workflows []Workflow `yaml:"workflows"`
}

// Action is one action of a workflow: exactly one field is set.
type Action struct {
	AddContactTags    *TagsAction        `yaml:"addContactTags,omitempty" json:"addContactTags,omitempty"`
	RemoveContactTags *TagsAction        `yaml:"removeContactTags,omitempty" json:"removeContactTags,omitempty"`
	SetCustomValue    *CustomValueAction `yaml:"setCustomValue,omitempty" json:"setCustomValue,omitempty"`
	Publish           *PublishAction     `yaml:"publish,omitempty" json:"publish,omitempty"`
	Webhook           *WebhookAction     `yaml:"webhook,omitempty" json:"webhook,omitempty"`
}

// Kind names the action's kind: "addContactTags", "webhook", …; empty
// when none or several are set.
func (a Action) Kind() string {
	var kinds []string
	if a.AddContactTags != nil {
		kinds = append(kinds, "addContactTags")
	}
	if a.RemoveContactTags != nil {
		kinds = append(kinds, "removeContactTags")
	}
	if a.SetCustomValue != nil {
		kinds = append(kinds, "setCustomValue")
	}
	if a.Publish != nil {
		kinds = append(kinds, "publish")
	}
	if a.Webhook != nil {
		kinds = append(kinds, "webhook")
	}
	if len(kinds) != 1 {
		return ""
	}
	return kinds[0]
}

// TagsAction adds or removes contact tags.
type TagsAction struct {
	Tags []string `yaml:"tags" json:"tags"`
	// Contacts selects the contacts; by default the event's own: the
	// contact of a segment event, the contacts carrying the social tag of
	// a tag or tag details event. A statistics snapshot concerns no
	// contact, so its workflows must say which.
	Contacts *ContactSelector `yaml:"contacts,omitempty" json:"contacts,omitempty"`
}

// ContactSelector selects contacts of the event's location: the members
// of a segment, or the contacts socialsync gave a contact tag.
type ContactSelector struct {
	Segment string `yaml:"segment,omitempty" json:"segment,omitempty"`
	Tag     string `yaml:"tag,omitempty" json:"tag,omitempty"`
}

// CustomValueAction sets a custom value of the event's location,
// creating it when missing: to Value, or to the result of ValueExpr, an
// expression over the trigger's environment.
type CustomValueAction struct {
	Name      string `yaml:"name" json:"name"`
	Value     string `yaml:"value,omitempty" json:"value,omitempty"`
	ValueExpr string `yaml:"valueExpr,omitempty" json:"valueExpr,omitempty"`
}

// PublishAction publishes the event, as JSON, to a NATS subject.
type PublishAction struct {
	Subject string `yaml:"subject" json:"subject"`
}

// WebhookAction posts the event, as JSON, to a URL, signed with the
// HMAC-SHA256 secret named Secret.
type WebhookAction struct {
	URL string `yaml:"url" json:"url"`
	// Secret names the signing secret: a file of that name in the
	// worker's secrets directory (SOCIALSYNC_WORKFLOW_SECRETS_DIR). The
	// secret itself is never stored with the workflow.
	Secret string `yaml:"secret" json:"secret"`
	// BodyExpr, when set, is an expression over the trigger's environment
	// whose result is sent as JSON instead of the event, for receivers
	// that want a shape of their own:
	// `{"text": "New social tag: " + tagName}` for a chat webhook.
	BodyExpr string `yaml:"bodyExpr,omitempty" json:"bodyExpr,omitempty"`
}

// Compiled is a checked workflow with its expressions compiled.
type Compiled struct {
	Workflow
	when   *vm.Program
	values []*vm.Program // per action: setCustomValue's valueExpr, webhook's bodyExpr, or nil
}

// ParseWorkflows reads a workflows file; name is the file's name for
// error messages. Every workflow is checked and compiled: the first
// problem is returned as a *FieldError naming the line and the field.
func ParseWorkflows(name string, data []byte) ([]*Compiled, error) {
	var f WorkflowsFile
	doc, err := decode(name, data, &f)
	if err != nil {
		return nil, err
	}
	if len(f.Workflows) == 0 {
		return nil, doc.errorAt("workflows", "no workflows: want a list under workflows:")
	}
	seen := map[string]int{}
	out := make([]*Compiled, 0, len(f.Workflows))
	for i, w := range f.Workflows {
		field := fmt.Sprintf("workflows[%d]", i)
		c, err := w.compile(doc, field)
		if err != nil {
			return nil, err
		}
		if j, dup := seen[c.Name]; dup {
			return nil, doc.errorAt(field+".name", "workflow %q is defined twice (also workflows[%d])", c.Name, j)
		}
		seen[c.Name] = i
		out = append(out, c)
	}
	return out, nil
}

// DecodeWorkflow reads a workflow as the workflows bucket stores it
// (JSON), and checks and compiles it again: a broken stored workflow is
// refused.
func DecodeWorkflow(data []byte) (*Compiled, error) {
	var w Workflow
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return w.Compile()
}

// Compile checks w and compiles its expressions.
func (w Workflow) Compile() (*Compiled, error) { return w.compile(nil, "") }

func (w Workflow) compile(d *document, field string) (*Compiled, error) {
	at := func(f string) string {
		if field == "" {
			return f
		}
		return field + "." + f
	}
	if !ValidName(w.Name) {
		return nil, d.errorAt(at("name"), "want 1 to %d lower-case letters, digits, '-' or '_', got %q", MaxNameLen, w.Name)
	}
	if !w.On.valid() {
		if w.On == "" {
			return nil, d.errorAt(at("name"), "workflow %q has no trigger: want on: one of %s", w.Name, triggerList())
		}
		return nil, d.errorAt(at("on"), "unknown trigger %q: want one of %s", w.On, triggerList())
	}
	if w.IncludeDiscovered && w.On != TagCreated {
		return nil, d.errorAt(at("includeDiscovered"), "workflow %q: includeDiscovered applies to on: %s only, not %s", w.Name, TagCreated, w.On)
	}
	if err := d.checkLocations(at("locations"), w.Locations); err != nil {
		return nil, err
	}
	c := &Compiled{Workflow: w}
	env := envFor(w.On)
	if strings.TrimSpace(w.When) != "" {
		p, err := d.compileExpr(at("when"), w.When, w.On, expr.Env(env), expr.AsBool())
		if err != nil {
			return nil, err
		}
		c.when = p
	}
	if len(w.Actions) == 0 {
		return nil, d.errorAt(at("actions"), "workflow %q has no actions", w.Name)
	}
	c.values = make([]*vm.Program, len(w.Actions))
	for i, a := range w.Actions {
		af := fmt.Sprintf("%s[%d]", at("actions"), i)
		kind := a.Kind()
		if kind == "" {
			return nil, d.errorAt(af, "want exactly one of addContactTags, removeContactTags, setCustomValue, publish, webhook")
		}
		af += "." + kind
		var err error
		switch kind {
		case "addContactTags":
			c.Actions[i].AddContactTags, err = d.checkTagsAction(af, *a.AddContactTags, w.On)
		case "removeContactTags":
			c.Actions[i].RemoveContactTags, err = d.checkTagsAction(af, *a.RemoveContactTags, w.On)
		case "setCustomValue":
			c.values[i], err = d.checkCustomValue(af, *a.SetCustomValue, env, w.On)
		case "publish":
			err = d.checkPublish(af, *a.Publish)
		case "webhook":
			c.values[i], err = d.checkWebhook(af, *a.Webhook, env, w.On)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// compileExpr compiles expression src of field for trigger on, and
// checks that its cost is bounded (see MaxIterations).
func (d *document) compileExpr(field, src string, on Trigger, opts ...expr.Option) (*vm.Program, error) {
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, d.errorAt(field, "%s", exprMessage(err, on))
	}
	if err := checkCost(src, on); err != nil {
		return nil, d.errorAt(field, "expression limits: %v", err)
	}
	return p, nil
}

// exprMessage turns a compile error of expr into one line naming the
// column in the expression.
func exprMessage(err error, t Trigger) string {
	var fe *file.Error
	if errors.As(err, &fe) {
		return fmt.Sprintf("%s (column %d of the expression; fields of %s are listed in docs/workflows.md)", fe.Message, fe.Column+1, t)
	}
	return err.Error()
}

func (d *document) checkTagsAction(field string, a TagsAction, on Trigger) (*TagsAction, error) {
	if len(a.Tags) == 0 {
		return nil, d.errorAt(field+".tags", "no tags")
	}
	tags, err := d.checkTags(field+".tags", a.Tags)
	if err != nil {
		return nil, err
	}
	for i, t := range tags {
		if strings.HasPrefix(t, SegmentTagPrefix) {
			return nil, d.errorAt(fmt.Sprintf("%s.tags[%d]", field, i), "%q: segment tags are socialsync's to set, from segment definitions", t)
		}
	}
	a.Tags = tags
	if s := a.Contacts; s != nil {
		switch {
		case s.Segment != "" && s.Tag != "":
			return nil, d.errorAt(field+".contacts", "give segment or tag, not both")
		case s.Segment != "" && !ValidName(s.Segment):
			return nil, d.errorAt(field+".contacts.segment", "%q is not a segment name", s.Segment)
		case s.Segment == "" && normTag(s.Tag) == "":
			return nil, d.errorAt(field+".contacts", "want segment: NAME or tag: CONTACT-TAG")
		}
		a.Contacts = &ContactSelector{Segment: s.Segment, Tag: normTag(s.Tag)}
	} else if on == StatsSnapshot {
		return nil, d.errorAt(field, "a statistics snapshot concerns no contact: say which with contacts: {segment: NAME} or {tag: TAG}")
	}
	return &a, nil
}

func (d *document) checkCustomValue(field string, a CustomValueAction, env any, on Trigger) (*vm.Program, error) {
	if strings.TrimSpace(a.Name) == "" {
		return nil, d.errorAt(field+".name", "no custom value name")
	}
	if a.Value != "" && a.ValueExpr != "" {
		return nil, d.errorAt(field+".valueExpr", "give value or valueExpr, not both")
	}
	if a.ValueExpr == "" {
		return nil, nil
	}
	return d.compileExpr(field+".valueExpr", a.ValueExpr, on, expr.Env(env))
}

func (d *document) checkPublish(field string, a PublishAction) error {
	if err := ValidPublishSubject(a.Subject); err != nil {
		return d.errorAt(field+".subject", "%v", err)
	}
	return nil
}

// ValidPublishSubject checks a subject a workflow may publish to: dot-
// separated tokens of letters, digits, '-' and '_', no wildcard, and
// outside socialsync's own "socialsync." subjects (which carry protobuf
// messages of their own kind).
func ValidPublishSubject(s string) error {
	if s == "" {
		return errors.New("no subject")
	}
	if len(s) > 255 {
		return errors.New("subject longer than 255 characters")
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" {
			return fmt.Errorf("subject %q has an empty token", s)
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return fmt.Errorf("subject %q: %q is not allowed (letters, digits, '-', '_' and dots; no wildcards)", s, string(c))
			}
		}
	}
	if s == "socialsync" || strings.HasPrefix(s, "socialsync.") || strings.HasPrefix(s, "$") {
		return fmt.Errorf("subject %q is reserved for socialsync's own messages", s)
	}
	return nil
}

func (d *document) checkWebhook(field string, a WebhookAction, env any, on Trigger) (*vm.Program, error) {
	u, err := url.Parse(a.URL)
	switch {
	case a.URL == "":
		return nil, d.errorAt(field+".url", "no url")
	case err != nil:
		return nil, d.errorAt(field+".url", "%v", err)
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, d.errorAt(field+".url", "want an http or https URL, got scheme %q", u.Scheme)
	case u.Host == "":
		return nil, d.errorAt(field+".url", "no host in %q", a.URL)
	case u.User != nil:
		return nil, d.errorAt(field+".url", "credentials in the URL are not allowed: sign with secret instead")
	}
	if err := checkURLHost(u); err != nil {
		return nil, d.errorAt(field+".url", "%v", err)
	}
	if !ValidSecretName(a.Secret) {
		return nil, d.errorAt(field+".secret", "want the name of a secret (letters, digits, '-', '_', '.'), got %q", a.Secret)
	}
	if a.BodyExpr == "" {
		return nil, nil
	}
	return d.compileExpr(field+".bodyExpr", a.BodyExpr, on, expr.Env(env))
}

// checkURLHost checks the syntax of a webhook URL's host and port. Where
// the URL may lead is decided when the connection is made (Destinations).
func checkURLHost(u *url.URL) error {
	host, port := u.Hostname(), u.Port()
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port %q: want 1 to 65535", port)
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if !validHostName(host) {
		return fmt.Errorf("host %q is not a host name or an IP address", host)
	}
	return nil
}

// ValidSecretName reports whether s can name a webhook secret: 1 to 128
// letters, digits, '-', '_' and '.', not starting with '.'.
func ValidSecretName(s string) bool {
	if s == "" || len(s) > 128 || s[0] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Applies reports whether the workflow fires on events of trigger t in
// location loc (its condition aside).
func (c *Compiled) Applies(t Trigger, loc string) bool {
	return !c.Disabled && c.On == t && appliesTo(c.Locations, loc)
}

// Match evaluates the workflow's condition against env; true when it has
// none.
func (c *Compiled) Match(env any) (bool, error) { return c.match(nil, env) }

func (c *Compiled) match(e *Evaluator, env any) (bool, error) {
	if c.when == nil {
		return true, nil
	}
	out, err := e.Run(c.when, env)
	if err != nil {
		return false, fmt.Errorf("workflow %s: when: %w", c.Name, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// value returns the value action i sets.
func (c *Compiled) value(e *Evaluator, i int, env any) (string, error) {
	a := c.Actions[i].SetCustomValue
	if c.values[i] == nil {
		return a.Value, nil
	}
	out, err := e.Run(c.values[i], env)
	if err != nil {
		return "", fmt.Errorf("workflow %s: valueExpr: %w", c.Name, err)
	}
	switch v := out.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case float64:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", v), "0"), "."), nil
	default:
		return fmt.Sprint(v), nil
	}
}

// body returns what webhook action i sends: the result of its bodyExpr as
// JSON, or the event.
func (c *Compiled) body(e *Evaluator, i int, env any, event []byte) ([]byte, error) {
	if c.values[i] == nil {
		return event, nil
	}
	out, err := e.Run(c.values[i], env)
	if err != nil {
		return nil, fmt.Errorf("workflow %s: bodyExpr: %w", c.Name, err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("workflow %s: bodyExpr: %w", c.Name, err)
	}
	return b, nil
}

// Encode returns the workflow as the workflows bucket stores it.
func (w Workflow) Encode() ([]byte, error) { return json.Marshal(w) }

// Encode returns the segment as the segments bucket stores it.
func (s Segment) Encode() ([]byte, error) { return json.Marshal(s) }
