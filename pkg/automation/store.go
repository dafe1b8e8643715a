package automation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/topology"
)

// ErrNotFound is a segment or workflow that is not stored.
var ErrNotFound = errors.New("not found")

// Applied is what storing one definition did: "created", "updated",
// "unchanged" or "deleted".
type Applied struct {
	Name, Action string
	Revision     uint64
}

// Stored is a stored definition as `list` shows it.
type Stored struct {
	Name     string
	Revision uint64
	Updated  time.Time
	// Summary is the definition's trigger and rule in one line; Err says
	// why a stored definition does not load (the worker skips it).
	Summary string
	Err     error
	// Value is the stored definition (JSON when it was stored by apply).
	Value []byte
	// Locations are the locations the definition is limited to; none:
	// every location (or a value that is not a definition).
	Locations []string
}

// storedLocations reads the locations of a stored segment or workflow
// (both keep them in "locations").
func storedLocations(value []byte) []string {
	var v struct {
		Locations []string `json:"locations"`
	}
	if json.Unmarshal(value, &v) != nil {
		return nil
	}
	return v.Locations
}

// definitions stores one kind of definition.
type definitions struct {
	bucket, prefix string
}

var (
	segmentDefs  = definitions{topology.BucketSegments, SegmentDefPrefix}
	workflowDefs = definitions{topology.BucketWorkflows, ""}
)

// ApplySegments stores checked segment definitions in the segments
// bucket; the running workers pick them up and recompute membership.
// With prune, stored segments missing from segs are deleted.
func ApplySegments(ctx context.Context, js jetstream.JetStream, segs []Segment, prune bool) ([]Applied, error) {
	return applySegments(ctx, js, segs, prune, nil)
}

func applySegments(ctx context.Context, js jetstream.JetStream, segs []Segment, prune bool, within func([]string) bool) ([]Applied, error) {
	items := map[string][]byte{}
	for _, s := range segs {
		s, err := s.Validate()
		if err != nil {
			return nil, err
		}
		if items[s.Name], err = s.Encode(); err != nil {
			return nil, err
		}
	}
	return segmentDefs.apply(ctx, js, items, prune, within)
}

// ApplyWorkflows stores compiled workflows in the workflows bucket; the
// running workers pick them up with no restart. With prune, stored
// workflows missing from wfs are deleted.
func ApplyWorkflows(ctx context.Context, js jetstream.JetStream, wfs []*Compiled, prune bool) ([]Applied, error) {
	return applyWorkflows(ctx, js, wfs, prune, nil)
}

func applyWorkflows(ctx context.Context, js jetstream.JetStream, wfs []*Compiled, prune bool, within func([]string) bool) ([]Applied, error) {
	items := map[string][]byte{}
	for _, w := range wfs {
		data, err := w.Workflow.Encode()
		if err != nil {
			return nil, err
		}
		items[w.Name] = data
	}
	return workflowDefs.apply(ctx, js, items, prune, within)
}

// ListSegments returns the stored segment definitions.
func ListSegments(ctx context.Context, js jetstream.JetStream) ([]Stored, error) {
	return segmentDefs.list(ctx, js, summarizeSegment)
}

// ListWorkflows returns the stored workflows.
func ListWorkflows(ctx context.Context, js jetstream.JetStream) ([]Stored, error) {
	return workflowDefs.list(ctx, js, summarizeWorkflow)
}

// DeleteSegment deletes a segment definition: its members lose its tag.
func DeleteSegment(ctx context.Context, js jetstream.JetStream, name string) error {
	return segmentDefs.remove(ctx, js, name)
}

// DeleteWorkflow deletes a workflow.
func DeleteWorkflow(ctx context.Context, js jetstream.JetStream, name string) error {
	return workflowDefs.remove(ctx, js, name)
}

func (d definitions) open(ctx context.Context, js jetstream.JetStream) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, d.bucket)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", d.bucket, err)
	}
	return kv, nil
}

// apply stores items (name → value) and, with prune, deletes the stored
// definitions items leaves out. With within, only stored definitions whose
// locations it accepts are replaced or pruned, each by compare-and-set.
func (d definitions) apply(ctx context.Context, js jetstream.JetStream, items map[string][]byte, prune bool, within func([]string) bool) ([]Applied, error) {
	kv, err := d.open(ctx, js)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(items))
	for n := range items {
		names = append(names, n)
	}
	slices.Sort(names)
	var out []Applied
	for _, n := range names {
		a := Applied{Name: n, Action: "created"}
		e, err := kv.Get(ctx, d.prefix+n)
		switch {
		case err == nil && within != nil && !within(storedLocations(e.Value())):
			return out, fmt.Errorf("%s: %w", n, ErrOutside)
		case err == nil && bytes.Equal(e.Value(), items[n]):
			out = append(out, Applied{Name: n, Action: "unchanged", Revision: e.Revision()})
			continue
		case err == nil:
			a.Action = "updated"
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return out, fmt.Errorf("read %s: %w", n, err)
		}
		switch {
		case within == nil:
			a.Revision, err = kv.Put(ctx, d.prefix+n, items[n])
		case e != nil:
			a.Revision, err = kv.Update(ctx, d.prefix+n, items[n], e.Revision())
		default:
			a.Revision, err = kv.Create(ctx, d.prefix+n, items[n])
		}
		if isConflict(err) {
			return out, fmt.Errorf("store %s: %w", n, ErrChanged)
		}
		if err != nil {
			return out, fmt.Errorf("store %s: %w", n, err)
		}
		out = append(out, a)
	}
	if prune {
		stored, err := d.names(ctx, kv)
		if err != nil {
			return out, err
		}
		for _, n := range stored {
			if _, keep := items[n]; keep {
				continue
			}
			var opts []jetstream.KVDeleteOpt
			if within != nil {
				e, err := kv.Get(ctx, d.prefix+n)
				if errors.Is(err, jetstream.ErrKeyNotFound) {
					continue
				}
				if err != nil {
					return out, fmt.Errorf("read %s: %w", n, err)
				}
				if !within(storedLocations(e.Value())) {
					continue
				}
				opts = append(opts, jetstream.LastRevision(e.Revision()))
			}
			err := kv.Delete(ctx, d.prefix+n, opts...)
			if isConflict(err) {
				return out, fmt.Errorf("delete %s: %w", n, ErrChanged)
			}
			if err != nil {
				return out, fmt.Errorf("delete %s: %w", n, err)
			}
			out = append(out, Applied{Name: n, Action: "deleted"})
		}
	}
	return out, nil
}

// isConflict reports whether err is a compare-and-set that lost: the key
// was written since the revision it was checked at (or created, for a
// create).
func isConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
}

func (d definitions) names(ctx context.Context, kv jetstream.KeyValue) ([]string, error) {
	filter := ">"
	if d.prefix != "" {
		filter = d.prefix + ">"
	}
	l, err := kv.ListKeysFiltered(ctx, filter)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", d.bucket, err)
	}
	defer func() { _ = l.Stop() }()
	var out []string
	for k := range l.Keys() {
		out = append(out, strings.TrimPrefix(k, d.prefix))
	}
	slices.Sort(out)
	return out, nil
}

func (d definitions) list(ctx context.Context, js jetstream.JetStream, summary func([]byte) (string, error)) ([]Stored, error) {
	kv, err := d.open(ctx, js)
	if err != nil {
		return nil, err
	}
	names, err := d.names(ctx, kv)
	if err != nil {
		return nil, err
	}
	var out []Stored
	for _, n := range names {
		e, err := kv.Get(ctx, d.prefix+n)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n, err)
		}
		s := Stored{Name: n, Revision: e.Revision(), Updated: e.Created(), Value: e.Value(), Locations: storedLocations(e.Value())}
		s.Summary, s.Err = summary(e.Value())
		out = append(out, s)
	}
	return out, nil
}

func (d definitions) remove(ctx context.Context, js jetstream.JetStream, name string) error {
	kv, err := d.open(ctx, js)
	if err != nil {
		return err
	}
	if !ValidName(name) {
		return fmt.Errorf("%w: %q is not a valid name", ErrInvalid, name)
	}
	if _, err := kv.Get(ctx, d.prefix+name); errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%s: %w", name, ErrNotFound)
	} else if err != nil {
		return err
	}
	return kv.Delete(ctx, d.prefix+name)
}

func segmentSummary(s Segment) string {
	var parts []string
	add := func(label string, tags []string) {
		if len(tags) > 0 {
			parts = append(parts, label+" "+strings.Join(tags, ","))
		}
	}
	add("all", s.AllTags)
	add("any", s.AnyTags)
	add("none", s.NoneTags)
	if s.PostedWithinDays > 0 {
		parts = append(parts, fmt.Sprintf("posted within %dd (≥%d)", s.PostedWithinDays, max(s.MinPosts, 1)))
	}
	if s.NotPostedWithinDays > 0 {
		parts = append(parts, fmt.Sprintf("no post within %dd", s.NotPostedWithinDays))
	}
	if len(s.Locations) > 0 {
		parts = append(parts, "in "+strings.Join(s.Locations, ","))
	}
	return strings.Join(parts, "; ")
}

func workflowSummary(w *Compiled) string {
	kinds := make([]string, len(w.Actions))
	for i, a := range w.Actions {
		kinds[i] = a.Kind()
	}
	s := "on " + string(w.On)
	if w.IncludeDiscovered {
		s += " (discovered too)"
	}
	if w.When != "" {
		s += " when " + w.When
	}
	s += " → " + strings.Join(kinds, ", ")
	if w.Disabled {
		s += " (disabled)"
	}
	return s
}
