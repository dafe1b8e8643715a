package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
)

// Kind is one kind of stored definition, as `socialsync segments|workflows`
// and the gateway's API handle it: parse and check a file, store it, list,
// read and delete what is stored.
type Kind struct {
	// Name is "segments" or "workflows".
	Name string
	// Parse checks a YAML (or JSON) file of definitions; file names it in
	// errors, which are *FieldError naming the line and field.
	Parse func(file string, data []byte) (Parsed, error)
	List  func(ctx context.Context, js jetstream.JetStream) ([]Stored, error)
	// Get returns one stored definition; ErrNotFound when there is none.
	Get    func(ctx context.Context, js jetstream.JetStream, name string) (Stored, error)
	Delete func(ctx context.Context, js jetstream.JetStream, name string) error
}

// Parsed is a checked file: the names it defines and the locations each
// is limited to (Locations[i] is Names[i]'s; empty: every location).
type Parsed struct {
	Names     []string
	Locations [][]string
	apply     func(ctx context.Context, js jetstream.JetStream, prune bool, within func([]string) bool) ([]Applied, error)
}

// Apply stores the file; with prune, stored definitions it does not
// define are deleted.
func (p Parsed) Apply(ctx context.Context, js jetstream.JetStream, prune bool) ([]Applied, error) {
	return p.apply(ctx, js, prune, nil)
}

// ApplyWithin is Apply for a caller that may touch only the stored
// definitions whose locations within accepts: replacing another fails
// with ErrOutside (nothing after it is stored), and a prune deletes only
// those within accepts. Each definition is stored, and pruned, by
// compare-and-set against the revision it was checked at (ErrChanged when
// it changed meanwhile). A nil within is Apply.
func (p Parsed) ApplyWithin(ctx context.Context, js jetstream.JetStream, prune bool, within func(locations []string) bool) ([]Applied, error) {
	return p.apply(ctx, js, prune, within)
}

// Segments is the kind of segment definitions.
var Segments = Kind{
	Name: "segments",
	Parse: func(file string, data []byte) (Parsed, error) {
		segs, err := ParseSegments(file, data)
		if err != nil {
			return Parsed{}, err
		}
		p := Parsed{apply: func(ctx context.Context, js jetstream.JetStream, prune bool, within func([]string) bool) ([]Applied, error) {
			return applySegments(ctx, js, segs, prune, within)
		}}
		for _, s := range segs {
			p.Names = append(p.Names, s.Name)
			p.Locations = append(p.Locations, s.Locations)
		}
		return p, nil
	},
	List: ListSegments,
	Get: func(ctx context.Context, js jetstream.JetStream, name string) (Stored, error) {
		return segmentDefs.get(ctx, js, name, summarizeSegment)
	},
	Delete: DeleteSegment,
}

// Workflows is the kind of saved workflows.
var Workflows = Kind{
	Name: "workflows",
	Parse: func(file string, data []byte) (Parsed, error) {
		wfs, err := ParseWorkflows(file, data)
		if err != nil {
			return Parsed{}, err
		}
		p := Parsed{apply: func(ctx context.Context, js jetstream.JetStream, prune bool, within func([]string) bool) ([]Applied, error) {
			return applyWorkflows(ctx, js, wfs, prune, within)
		}}
		for _, w := range wfs {
			p.Names = append(p.Names, w.Name)
			p.Locations = append(p.Locations, w.Locations)
		}
		return p, nil
	},
	List: ListWorkflows,
	Get: func(ctx context.Context, js jetstream.JetStream, name string) (Stored, error) {
		return workflowDefs.get(ctx, js, name, summarizeWorkflow)
	},
	Delete: DeleteWorkflow,
}

func summarizeSegment(data []byte) (string, error) {
	s, err := DecodeSegment(data)
	return segmentSummary(s), err
}

func summarizeWorkflow(data []byte) (string, error) {
	w, err := DecodeWorkflow(data)
	if err != nil {
		return "", err
	}
	return workflowSummary(w), nil
}

func (d definitions) get(ctx context.Context, js jetstream.JetStream, name string, summary func([]byte) (string, error)) (Stored, error) {
	if !ValidName(name) {
		return Stored{}, fmt.Errorf("%w: %q is not a valid name", ErrInvalid, name)
	}
	kv, err := d.open(ctx, js)
	if err != nil {
		return Stored{}, err
	}
	e, err := kv.Get(ctx, d.prefix+name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Stored{}, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Stored{}, fmt.Errorf("read %s: %w", name, err)
	}
	s := Stored{Name: name, Revision: e.Revision(), Updated: e.Created(), Value: e.Value(), Locations: storedLocations(e.Value())}
	s.Summary, s.Err = summary(e.Value())
	return s, nil
}

// SegmentSizes counts the members of each segment per location, from the
// membership the workers keep ("member.<loc>.<contact>"): sizes[segment][loc].
// loc "" counts every location.
func SegmentSizes(ctx context.Context, js jetstream.JetStream, loc string) (map[string]map[string]int, error) {
	if loc != "" && !ids.ValidHighLevel(loc) {
		return nil, fmt.Errorf("%w: location %q", ErrInvalid, loc)
	}
	kv, err := js.KeyValue(ctx, topology.BucketSegments)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", topology.BucketSegments, err)
	}
	pattern := "member.>"
	if loc != "" {
		pattern = MemberPrefix(loc) + "*"
	}
	watcher, err := kv.Watch(ctx, pattern, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read segment members: %w", err)
	}
	defer func() { _ = watcher.Stop() }()
	sizes := map[string]map[string]int{}
	for {
		var e jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read segment members: %w", ctx.Err())
		case u, ok := <-watcher.Updates():
			if !ok {
				return nil, errors.New("read segment members: watcher stopped")
			}
			e = u
		}
		if e == nil { // every current value is delivered
			return sizes, nil
		}
		parts := strings.Split(e.Key(), ".")
		if len(parts) != 3 {
			continue
		}
		var m Members
		if json.Unmarshal(e.Value(), &m) != nil {
			continue
		}
		for _, s := range slices.Compact(slices.Sorted(slices.Values(m.Segments))) {
			if sizes[s] == nil {
				sizes[s] = map[string]int{}
			}
			sizes[s][parts[1]]++
		}
	}
}
