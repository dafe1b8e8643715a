package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// StreamDLQ holds dead letters for 14 days: the stream the dead letters
// of every consumer go to (DeadLetterPrefix), declared by the topology.
const StreamDLQ = "SOCIALSYNC_DLQ"

// BucketDeliveries keeps, per durable and stream sequence, the history of
// a redelivered message: its delivery whose handler runs, its crashes and
// failures, for the crash-loop guard and the backoff. See deliveries.go.
// The topology declares it.
const BucketDeliveries = "socialsync_deliveries"

// Consumer defaults.
const (
	// DefaultRetryHorizon is how long after it was published a message
	// whose handler keeps failing with a retryable error is retried before
	// it becomes a dead letter. It must be shorter than the MaxAge of
	// every stream a consumer reads (CheckRetryHorizon).
	DefaultRetryHorizon = 24 * time.Hour
	// DefaultCrashLimit is how many redeliveries of a message may have
	// their handler cut short (the process died while it ran) before it is
	// dead-lettered without running its handler again.
	DefaultCrashLimit = 3
	// DeliveriesTTL is how long BucketDeliveries keeps a count after its
	// last write: well beyond the longest wait a nak asks for (a day).
	DeliveriesTTL = 3 * 24 * time.Hour
)

// ConsumerSpec declares a durable pull consumer.
type ConsumerSpec struct {
	// Stream is the stream the consumer reads.
	Stream string
	// Config is sent to the server as is. Its MaxDeliver is -1
	// (unlimited): the number of deliveries decides nothing, since a
	// deferred message may be delivered any number of times. Retryable
	// failures are bounded by the consumer's retry horizon, deliveries
	// that end without a settle by its crash limit (ConsumerOptions).
	Config jetstream.ConsumerConfig
	// SilentBadInput lists the subject families this durable reads whose
	// bad input another durable owns: this one acks such a message without
	// a dead letter and counts it (MetricBadInputAcked), so that one bad
	// message leaves one dead letter. topology.New derives it from the
	// owner of each family read by several durables.
	SilentBadInput []Family
}

// Topology is a set of streams, durable consumers, key-value buckets and
// object stores. Apply (and Ensure) creates or updates them; Verify tells
// which of them the server does not hold. topology.New declares
// socialsync's.
type Topology struct {
	Streams      []jetstream.StreamConfig
	Consumers    []ConsumerSpec
	KeyValues    []jetstream.KeyValueConfig
	ObjectStores []jetstream.ObjectStoreConfig
}

// CheckRetryHorizon fails when horizon is not shorter than the MaxAge of
// a stream that one of the topology's durables reads: a message must
// become a dead letter before its stream drops it.
func (t Topology) CheckRetryHorizon(horizon time.Duration) error {
	read := map[string]bool{}
	for _, c := range t.Consumers {
		read[c.Stream] = true
	}
	for _, s := range t.Streams {
		if read[s.Name] && s.MaxAge > 0 && horizon >= s.MaxAge {
			return fmt.Errorf("retry horizon %v is not shorter than stream %s's max age %v", horizon, s.Name, s.MaxAge)
		}
	}
	return nil
}

// Consumer returns the spec of durable on stream.
func (t Topology) Consumer(stream, durable string) (ConsumerSpec, bool) {
	for _, c := range t.Consumers {
		if c.Stream == stream && c.Config.Durable == durable {
			return c, true
		}
	}
	return ConsumerSpec{}, false
}

// Ensure creates what is missing and updates what differs (Apply),
// without the account of what it did.
func (t Topology) Ensure(ctx context.Context, js jetstream.JetStream) error {
	_, err := t.Apply(ctx, js)
	return err
}

// Applied is what Apply did to one stream, consumer, bucket or object
// store.
type Applied struct {
	// What names it the way Verify names what is missing: "stream
	// SOCIALSYNC_TRIGGERS", "consumer fetcher on SOCIALSYNC_TRIGGERS",
	// "key-value bucket socialsync_tags", "object store socialsync_reports".
	What string
	// Action is "created", "updated" or "unchanged".
	Action string
}

// Apply creates what is missing and updates what differs, in order:
// streams, consumers, key-value buckets, object stores, and reports what
// it did to each. Running it again changes nothing. Consumers are created
// before anything can be published: an interest-retention stream drops a
// message that no consumer is interested in at the time it is stored.
//
// A change the server cannot apply in place (a stream's retention or
// storage, a consumer's deliver policy) fails Apply with the server's
// error; nothing is deleted to make it fit.
//
// Only the operator step (socialsync topology apply, its Kubernetes Job,
// the all-in-one binary and the test harnesses) applies the topology: the
// workers and the gateway wait for it with Verify.
func (t Topology) Apply(ctx context.Context, js jetstream.JetStream) ([]Applied, error) {
	var errs []error
	var done []Applied
	note := func(what, action string) { done = append(done, Applied{What: what, Action: action}) }
	for _, cfg := range t.Streams {
		action, err := unanswered(ctx, func(ctx context.Context) (string, error) { return ensureStream(ctx, js, cfg) })
		if err != nil {
			errs = append(errs, fmt.Errorf("ensure stream %s: %w", cfg.Name, noRoom(err)))
			continue
		}
		note(streamName(cfg.Name), action)
	}
	if len(errs) > 0 {
		return done, errors.Join(errs...)
	}
	for _, c := range t.Consumers {
		action, err := unanswered(ctx, func(ctx context.Context) (string, error) { return ensureConsumer(ctx, js, c) })
		if err != nil {
			errs = append(errs, fmt.Errorf("ensure consumer %s on %s: %w", c.Config.Durable, c.Stream, err))
			continue
		}
		note(consumerName(c.Stream, c.Config.Durable), action)
	}
	for _, cfg := range t.KeyValues {
		action, err := unanswered(ctx, func(ctx context.Context) (string, error) { return ensureKeyValue(ctx, js, cfg) })
		if err != nil {
			errs = append(errs, fmt.Errorf("ensure key-value bucket %s: %w", cfg.Bucket, noRoom(err)))
			continue
		}
		note(bucketName(cfg.Bucket), action)
	}
	for _, cfg := range t.ObjectStores {
		action, err := unanswered(ctx, func(ctx context.Context) (string, error) { return ensureObjectStore(ctx, js, cfg) })
		if err != nil {
			errs = append(errs, fmt.Errorf("ensure object store %s: %w", cfg.Bucket, noRoom(err)))
			continue
		}
		note(objectStoreName(cfg.Bucket), action)
	}
	return done, errors.Join(errs...)
}

// applyAttempt bounds one attempt at ensuring one stream, consumer, bucket
// or object store. nats-server may leave a JetStream API request without
// an answer when several clients create the same stream at once
// (nats-io/nats.go#949, seen here with three replicas applying the
// topology together under load): the attempt is given up and made again,
// which is safe since each ensure is idempotent, instead of letting one
// lost answer use up the caller's whole deadline.
var applyAttempt = 10 * time.Second

// unanswered runs ensure with a deadline of applyAttempt, again for as
// long as ctx lives when an attempt ran out of time without an answer.
func unanswered(ctx context.Context, ensure func(context.Context) (string, error)) (string, error) {
	for {
		actx, cancel := context.WithTimeout(ctx, applyAttempt)
		action, err := ensure(actx)
		cancel()
		if err == nil || ctx.Err() != nil || !(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)) {
			return action, err
		}
	}
}

func ensureConsumer(ctx context.Context, js jetstream.JetStream, c ConsumerSpec) (string, error) {
	action := "updated"
	if cons, err := js.Consumer(ctx, c.Stream, c.Config.Durable); errors.Is(err, jetstream.ErrConsumerNotFound) {
		action = "created"
	} else if err == nil && declared(c.Config, cons.CachedInfo().Config) {
		return "unchanged", nil
	}
	_, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.Config)
	return action, err
}

func ensureKeyValue(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (string, error) {
	action := "created"
	if kv, err := js.KeyValue(ctx, cfg.Bucket); err == nil {
		action = "updated"
		if st, err := kv.Status(ctx); err == nil && sameConfig(cfg, st.(*jetstream.KeyValueBucketStatus).Config()) {
			return "unchanged", nil
		}
	}
	_, err := js.CreateOrUpdateKeyValue(ctx, cfg)
	return action, err
}

func ensureObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (string, error) {
	exists, same := sameObjectStore(ctx, js, cfg)
	if same {
		return "unchanged", nil
	}
	_, err := js.CreateOrUpdateObjectStore(ctx, cfg)
	return map[bool]string{true: "updated", false: "created"}[exists], err
}

// Verify reports what of the topology the server does not hold: nil when
// every stream, consumer, key-value bucket and object store exists, a
// *MissingError naming each one missing, or the error that kept it from
// asking. It only reads their info (the JetStream API's STREAM.INFO and
// CONSUMER.INFO), which is all a worker's or the gateway's NATS user may
// do with them; it does not compare configurations, which is Apply's.
func (t Topology) Verify(ctx context.Context, js jetstream.JetStream) error {
	var missing []string
	check := func(what string, err error, notFound ...error) error {
		for _, nf := range notFound {
			if errors.Is(err, nf) {
				missing = append(missing, what)
				return nil
			}
		}
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	for _, cfg := range t.Streams {
		_, err := js.Stream(ctx, cfg.Name)
		if err := check(streamName(cfg.Name), err, jetstream.ErrStreamNotFound); err != nil {
			return err
		}
	}
	for _, c := range t.Consumers {
		_, err := js.Consumer(ctx, c.Stream, c.Config.Durable)
		if err := check(consumerName(c.Stream, c.Config.Durable), err, jetstream.ErrConsumerNotFound, jetstream.ErrStreamNotFound); err != nil {
			return err
		}
	}
	for _, cfg := range t.KeyValues {
		_, err := js.KeyValue(ctx, cfg.Bucket)
		if err := check(bucketName(cfg.Bucket), err, jetstream.ErrBucketNotFound); err != nil {
			return err
		}
	}
	for _, cfg := range t.ObjectStores {
		_, err := js.ObjectStore(ctx, cfg.Bucket)
		if err := check(objectStoreName(cfg.Bucket), err, jetstream.ErrBucketNotFound, jetstream.ErrStreamNotFound); err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return &MissingError{Missing: missing}
	}
	return nil
}

func streamName(name string) string              { return "stream " + name }
func consumerName(stream, durable string) string { return "consumer " + durable + " on " + stream }
func bucketName(name string) string              { return "key-value bucket " + name }
func objectStoreName(name string) string         { return "object store " + name }

// declared reports whether the server's consumer configuration got holds
// every setting want declares; the server fills in the ones it leaves
// unset.
func declared(want, got jetstream.ConsumerConfig) bool {
	w, err1 := normalConfig(want)
	g, err2 := normalConfig(got)
	if err1 != nil || err2 != nil {
		return false
	}
	for k, v := range w {
		if !reflect.DeepEqual(v, g[k]) {
			return false
		}
	}
	return true
}

// ensureStream creates the stream cfg describes, or updates it when the
// server's differs, and says which it did ("created", "updated",
// "unchanged"). Several applies may run at once (the Job of two releases,
// the test harnesses' processes): a stream that is already as described
// is left alone, so that they do not send the server concurrent updates of
// one stream (which nats-server 2.15 applies racily).
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (string, error) {
	action := "updated"
	s, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		action = "created"
		if _, err = js.CreateStream(ctx, cfg); !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return action, err
		}
		s, err = js.Stream(ctx, cfg.Name) // created meanwhile, maybe otherwise
	}
	if err != nil {
		return action, err
	}
	if sameConfig(cfg, s.CachedInfo().Config) {
		return "unchanged", nil
	}
	_, err = js.UpdateStream(ctx, cfg)
	return "updated", err
}

// sameObjectStore reports whether the server holds object store cfg, and
// whether it holds it as declared (see sameConfig).
func sameObjectStore(ctx context.Context, js jetstream.JetStream, cfg jetstream.ObjectStoreConfig) (exists, same bool) {
	obs, err := js.ObjectStore(ctx, cfg.Bucket)
	if err != nil {
		return false, false
	}
	st, err := obs.Status(ctx)
	if err != nil {
		return true, false
	}
	bs, ok := st.(*jetstream.ObjectBucketStatus)
	if !ok {
		return true, false
	}
	si := bs.StreamInfo().Config
	return true, sameConfig(cfg, jetstream.ObjectStoreConfig{Bucket: cfg.Bucket, Description: si.Description, TTL: si.MaxAge,
		MaxBytes: si.MaxBytes, Storage: si.Storage, Replicas: si.Replicas, Placement: si.Placement,
		Compression: si.Compression != jetstream.NoCompression, Metadata: si.Metadata})
}

// sameConfig reports whether want, a stream's or a bucket's configuration
// as declared, is what the server holds (got): equal once the server's
// defaults stand for what want leaves unset (0 limits are -1, 0 replicas
// and history 1, the 2-minute duplicate window) and the metadata the
// server adds (_nats.*) is set aside. Any other difference, or anything it
// cannot tell, is a difference: an update too many is harmless.
func sameConfig(want, got any) bool {
	w, err1 := normalConfig(want)
	g, err2 := normalConfig(got)
	return err1 == nil && err2 == nil && reflect.DeepEqual(w, g)
}

func normalConfig(cfg any) (map[string]any, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	zero := func(v any) bool {
		switch v := v.(type) {
		case nil:
			return true
		case bool:
			return !v
		case float64:
			return v == 0
		case string:
			return v == ""
		case map[string]any:
			return len(v) == 0
		case []any:
			return len(v) == 0
		}
		return false
	}
	for key, def := range map[string]float64{
		"max_consumers": -1, "max_msgs": -1, "max_bytes": -1, "max_msgs_per_subject": -1, "max_msg_size": -1,
		"max_value_size": -1, "num_replicas": 1, "history": 1, "duplicate_window": float64(serverDuplicateWindow),
	} {
		if _, isStream := m["subjects"]; key == "duplicate_window" && !isStream {
			continue
		}
		if zero(m[key]) {
			m[key] = def
		}
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		for k := range md {
			if strings.HasPrefix(k, "_nats.") {
				delete(md, k)
			}
		}
	}
	for k, v := range m {
		if zero(v) {
			delete(m, k)
		}
	}
	return m, nil
}

// serverDuplicateWindow is the server's duplicate window for a stream
// that sets none.
const serverDuplicateWindow = 2 * time.Minute

// jsInsufficientResources is the JetStream error code of a stream whose
// MaxBytes the server cannot reserve (JSInsufficientResourcesErr).
const jsInsufficientResources jetstream.ErrorCode = 10047

// noRoom explains a server that cannot reserve a store's limit.
func noRoom(err error) error {
	var ae *jetstream.APIError
	if errors.As(err, &ae) && ae.ErrorCode == jsInsufficientResources {
		return fmt.Errorf("%w: the server reserves every stream's and bucket's size limit, and their sum is more than its "+
			"JetStream storage (max_file_store): lower SOCIALSYNC_LIMIT_FLEET_LOCATIONS or SOCIALSYNC_LIMIT_<NAME>_BYTES, "+
			"or give the server more (docs/storage.md)", err)
	}
	return err
}

// OpenBuckets opens the KV buckets the topology declares into the
// variables buckets maps their names to, naming the first that fails.
func OpenBuckets(ctx context.Context, js jetstream.JetStream, buckets map[string]*jetstream.KeyValue) error {
	for name, kv := range buckets {
		var err error
		if *kv, err = js.KeyValue(ctx, name); err != nil {
			return fmt.Errorf("open bucket %s: %w", name, err)
		}
	}
	return nil
}
