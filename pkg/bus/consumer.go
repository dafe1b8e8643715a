package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"

	"github.com/socialsync/socialsync/pkg/ids"
)

// Consumer defaults.
const (
	DefaultConcurrency     = 4
	DefaultShutdownTimeout = 10 * time.Second
	DefaultHeartbeat       = 5 * time.Second
	DefaultSettleTimeout   = 5 * time.Second

	// pullExpiry is how long one pull request waits on the server.
	pullExpiry = 30 * time.Second
	// abandonGrace is how long Run waits, after cancelling the handlers'
	// contexts at the shutdown deadline, before it naks what still runs.
	abandonGrace = time.Second
)

// ConsumerOptions configure a Consumer. The zero value of every field is a
// usable default.
type ConsumerOptions struct {
	// Worker is the <worker> of the dead-letter subject; defaults to the
	// durable name. Letters, digits, '-' and '_'.
	Worker string
	// Concurrency is how many messages this replica handles at once, and
	// how many it pulls ahead: DefaultConcurrency when zero. The durable's
	// MaxAckPending bounds all replicas together.
	Concurrency int
	// MaxMessageBytes is the largest payload handed to the handler; a
	// larger one is dead-lettered. DefaultMaxMessageBytes when zero.
	MaxMessageBytes int
	// Middleware decorates the handler, the first outermost. The Consumer
	// itself always recovers panics, checks the message size and subject
	// (inside the middleware, so that Trace and Log see those failures),
	// and settles.
	Middleware []Middleware
	// Backoff shapes the redelivery delay of retryable failures.
	Backoff Backoff
	// RetryHorizon is how long after its stream stored it a message is
	// retried while its handler fails with a retryable error; then it is
	// dead-lettered (ClassRetryHorizon). Deferrals and a location waiting
	// for re-authorisation are not bounded by it. DefaultRetryHorizon when
	// zero; no bound when negative.
	RetryHorizon time.Duration
	// CrashLimit is how many redeliveries of a message may have their
	// handler cut short within CrashWindow of its start (the process
	// died, or froze past the ack wait) before the message is
	// dead-lettered (ClassCrashLoop) without running the handler again;
	// deliveries pulled but never started do not count, nor deaths later
	// in a run (see deliveries.go). DefaultCrashLimit when zero; no limit
	// when negative.
	CrashLimit int
	// Now is the clock a message's age is measured with; time.Now when
	// nil.
	Now func() time.Time
	// ShutdownTimeout is how long Run lets in-flight handlers finish after
	// its context ends. Then their contexts are cancelled, and a second
	// later what still runs is nakked for another replica: Run returns
	// within ShutdownTimeout plus that second. DefaultShutdownTimeout when
	// zero.
	ShutdownTimeout time.Duration
	// Heartbeat is the idle heartbeat the server sends on a waiting pull
	// request; two missed ones make the consumer pull again.
	// DefaultHeartbeat when zero; at most 15s.
	Heartbeat time.Duration
	// SettleTimeout bounds one ack or dead letter. DefaultSettleTimeout
	// when zero.
	SettleTimeout time.Duration
	// Logger defaults to one that discards everything.
	Logger *slog.Logger
	// OnSettle, when set, is called after every settled delivery, from the
	// handler's goroutine. It must be quick and safe for concurrent use.
	OnSettle func(Outcome)
	// MeterProvider, when set, gets the consumer's metrics, labelled with
	// Worker: MetricMessagesHandled, MetricMessageHandling,
	// MetricDeadLetters and MetricConsumerLag.
	MeterProvider metric.MeterProvider
}

// Consumer runs a Handler on a durable pull consumer declared in the
// topology. Every replica of a worker runs one Consumer per durable; they
// share the durable's messages, none is delivered to two at once.
type Consumer struct {
	js          jetstream.JetStream
	spec        ConsumerSpec
	handler     Handler
	concurrency int
	maxBytes    int
	shutdown    time.Duration
	heartbeat   time.Duration
	log         *slog.Logger
	settler     *settler
	metrics     *consumerMetrics
	crashLimit  int
}

// NewConsumer returns a Consumer running h on spec's durable, which Ensure
// must have created.
func NewConsumer(js jetstream.JetStream, spec ConsumerSpec, h Handler, opts ConsumerOptions) (*Consumer, error) {
	if h == nil {
		return nil, errors.New("bus: nil handler")
	}
	if spec.Stream == "" || spec.Config.Durable == "" {
		return nil, errors.New("bus: consumer spec without stream or durable name")
	}
	worker := opts.Worker
	if worker == "" {
		worker = spec.Config.Durable
	}
	if !ids.ValidSource(worker) {
		return nil, fmt.Errorf("bus: invalid worker name %q", truncate(worker, maxWorkerLen))
	}
	c := &Consumer{
		js:          js,
		spec:        spec,
		concurrency: opts.Concurrency,
		maxBytes:    opts.MaxMessageBytes,
		shutdown:    opts.ShutdownTimeout,
		heartbeat:   opts.Heartbeat,
		log:         opts.Logger,
	}
	if c.concurrency <= 0 {
		c.concurrency = DefaultConcurrency
	}
	if c.maxBytes <= 0 {
		c.maxBytes = DefaultMaxMessageBytes
	}
	if c.shutdown <= 0 {
		c.shutdown = DefaultShutdownTimeout
	}
	if c.heartbeat <= 0 {
		c.heartbeat = DefaultHeartbeat
	}
	c.heartbeat = min(c.heartbeat, pullExpiry/2)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With(slog.String("stream", spec.Stream), slog.String("consumer", spec.Config.Durable))
	settle := opts.SettleTimeout
	if settle <= 0 {
		settle = DefaultSettleTimeout
	}
	horizon := opts.RetryHorizon
	switch {
	case horizon == 0:
		horizon = DefaultRetryHorizon
	case horizon < 0:
		horizon = 0
	}
	c.crashLimit = opts.CrashLimit
	if c.crashLimit == 0 {
		c.crashLimit = DefaultCrashLimit
	}
	silent := map[Family]bool{}
	for _, f := range spec.SilentBadInput {
		silent[f] = true
	}
	metrics, err := newConsumerMetrics(opts.MeterProvider, worker, reads(spec))
	if err != nil {
		return nil, fmt.Errorf("bus: consumer metrics: %w", err)
	}
	c.metrics = metrics
	c.settler = &settler{
		js:             js,
		worker:         worker,
		backoff:        opts.Backoff,
		horizon:        horizon,
		now:            opts.Now,
		silentBadInput: silent,
		timeout:        settle,
		log:            c.log,
		onSettle:       opts.OnSettle,
		metrics:        metrics,
	}
	c.handler = Chain(c.validate(h), opts.Middleware...)
	return c, nil
}

// Run pulls and handles messages until ctx ends, then shuts down: it stops
// pulling, naks the messages pulled but not started, lets the running
// handlers finish for up to ShutdownTimeout, cancels their contexts, naks
// what still runs a second later, and returns nil. It returns an error
// when the durable does not exist or the pull fails for good (the consumer
// was deleted, the connection closed), after the same shutdown.
func (c *Consumer) Run(ctx context.Context) error {
	cons, err := c.js.Consumer(ctx, c.spec.Stream, c.spec.Config.Durable)
	if err != nil {
		return fmt.Errorf("consumer %s on %s: %w", c.spec.Config.Durable, c.spec.Stream, err)
	}
	ackWait := cons.CachedInfo().Config.AckWait
	kv, err := c.js.KeyValue(ctx, BucketDeliveries)
	if err != nil {
		return fmt.Errorf("consumer %s on %s: open bucket %s: %w", c.spec.Config.Durable, c.spec.Stream, BucketDeliveries, err)
	}
	c.settler.deliveries = &deliveries{kv: kv}
	lag, err := c.metrics.watch(cons, c.spec)
	if err != nil {
		return fmt.Errorf("consumer %s on %s: lag metric: %w", c.spec.Config.Durable, c.spec.Stream, err)
	}
	defer func() { _ = lag.Unregister() }()
	iter, err := cons.Messages(
		jetstream.PullMaxMessages(c.concurrency),
		jetstream.PullExpiry(pullExpiry),
		jetstream.PullHeartbeat(c.heartbeat),
	)
	if err != nil {
		return fmt.Errorf("consume %s on %s: %w", c.spec.Config.Durable, c.spec.Stream, err)
	}
	defer iter.Stop()

	// runCtx ends on shutdown, whether ctx ended or the pull failed.
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	// Handlers keep their context through the shutdown until the deadline.
	handlerCtx, cancelHandlers := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelHandlers()
	// pullCtx unblocks Next at the deadline, should the drain not end.
	pullCtx, cancelPull := context.WithCancel(context.Background())
	defer cancelPull()

	expired := make(chan struct{})
	exited := make(chan struct{})
	var watcher sync.WaitGroup
	watcher.Go(func() {
		select {
		case <-runCtx.Done():
		case <-exited:
			return
		}
		iter.Drain()
		t := time.NewTimer(c.shutdown)
		defer t.Stop()
		select {
		case <-t.C:
			cancelPull()
			cancelHandlers()
			close(expired)
		case <-exited:
		}
	})

	var (
		handlers sync.WaitGroup
		slots    = make(chan struct{}, c.concurrency)
		flights  inflight
		runErr   error
	)
	for {
		slot := false
		if runCtx.Err() == nil {
			select {
			case slots <- struct{}{}:
				slot = true
			case <-runCtx.Done():
			}
		}
		msg, err := iter.Next(jetstream.NextContext(pullCtx))
		if err != nil {
			if slot {
				<-slots
			}
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) || pullCtx.Err() != nil {
				if ctx.Err() == nil && runErr == nil {
					runErr = fmt.Errorf("consume %s on %s: %w", c.spec.Config.Durable, c.spec.Stream, err)
				}
				break
			}
			c.log.LogAttrs(ctx, slog.LevelWarn, "pull failed", slog.String("err", headerValue(err.Error(), maxReasonBytes)))
			if isTerminal(err) {
				runErr = fmt.Errorf("consume %s on %s: %w", c.spec.Config.Durable, c.spec.Stream, err)
				stopRun()
			}
			continue
		}
		if !slot || runCtx.Err() != nil {
			// Shutting down: a message pulled but not started goes
			// straight back, for another replica.
			if slot {
				<-slots
			}
			if err := c.nakNow(msg); err != nil {
				c.log.LogAttrs(ctx, slog.LevelWarn, "nak on shutdown failed", slog.String("err", err.Error()))
			}
			continue
		}
		handlers.Go(func() {
			defer func() { <-slots }()
			c.process(handlerCtx, msg, ackWait, &flights)
		})
	}
	stopRun()

	done := make(chan struct{})
	go func() {
		handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-expired:
		select {
		case <-done:
		case <-time.After(abandonGrace):
			n := flights.abandon(c.nakFlight)
			c.log.LogAttrs(ctx, slog.LevelWarn, "handlers still running at shutdown deadline; messages nakked", slog.Int("count", n))
		}
	}
	close(exited)
	watcher.Wait()
	return runErr
}

// isTerminal reports a pull error after which the consumer cannot go on.
func isTerminal(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrBadRequest) ||
		errors.Is(err, jetstream.ErrConnectionClosed)
}

// validate rejects, before the handler runs, a message too large, or whose
// subject is of no Family or names an invalid location. Whether the
// location is registered is the Registered middleware's question.
func (c *Consumer) validate(next Handler) Handler {
	return func(ctx context.Context, msg jetstream.Msg) error {
		if n := len(msg.Data()); n > c.maxBytes {
			return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, c.maxBytes)
		}
		if _, _, err := ParseSubject(msg.Subject()); err != nil {
			return err
		}
		return next(ctx, msg)
	}
}

// process runs the handler on one message and settles it.
func (c *Consumer) process(ctx context.Context, msg jetstream.Msg, ackWait time.Duration, flights *inflight) {
	meta, err := msg.Metadata()
	if err != nil {
		// Not a JetStream message; a pull consumer delivers none.
		c.log.LogAttrs(ctx, slog.LevelError, "message without metadata", slog.String("subject", truncate(msg.Subject(), 256)), slog.String("err", err.Error()))
		_ = msg.Term()
		return
	}
	if target := msg.Headers().Get(HeaderReplayFor); target != "" && target != meta.Consumer {
		// A replayed dead letter of another durable: not ours to redo.
		if err := msg.DoubleAck(ctx); err != nil {
			c.log.LogAttrs(ctx, slog.LevelWarn, "ack of another durable's replay failed", append(msgAttrs(msg), slog.String("err", err.Error()))...)
		}
		return
	}
	f := flights.add(msg)
	defer flights.remove(f)
	stop := keepAlive(msg, ackWait)

	start := time.Now()
	h := c.historyOf(ctx, msg, meta)
	crashed := false
	stopAlive := func() {}
	age := c.settler.clock()().Sub(meta.Timestamp)
	switch {
	case c.settler.deliveries != nil && c.crashLimit > 0 && h.crashes >= uint64(c.crashLimit):
		// Earlier runs died on this message as often as the limit
		// allows: do not run it again.
		err = fmt.Errorf("%w: %d of %d deliveries died within %v of starting the handler (limit %d)", ErrCrashLoop, h.crashes, meta.NumDelivered-1, CrashWindow, c.crashLimit)
		crashed = true
	case h.diedLate && c.settler.horizon > 0 && age >= c.settler.horizon:
		// A run died after the crash window, and the message is as old
		// as the retry horizon: a slow crash loop ends there too.
		err = fmt.Errorf("%w: the delivery before this one died while the handler ran, %v after the message was published (retry horizon %v)", ErrCrashLoop, age.Round(time.Second), c.settler.horizon)
		crashed = true
	case meta.NumDelivered > 1 && c.settler.deliveries != nil && !h.unknown:
		h.open, h.alive = meta.NumDelivered, false
		if werr := c.settler.deliveries.write(ctx, meta, h); werr != nil {
			// This run's crash, should it crash, goes unseen.
			c.log.LogAttrs(ctx, slog.LevelWarn, "delivery start not recorded", append(msgAttrs(msg), slog.String("err", werr.Error()))...)
		} else {
			stopAlive = c.markAlive(ctx, meta, h)
		}
	}
	f.history.Store(&h)
	if !crashed {
		err = Recover()(c.handler)(withMetrics(ctx, c.metrics), msg)
	}
	stopAlive() // before the settle writes the history
	took := time.Since(start)
	stop()
	if f.abandoned.Load() {
		c.log.LogAttrs(ctx, slog.LevelWarn, "handler returned after its message was nakked at shutdown", msgAttrs(msg)...)
		return
	}
	c.settler.settle(msg, meta, err, took, ctx.Err() != nil, h)
}

// markAlive records, once the handler has run for CrashWindow, that the
// open delivery h is past it: should the process die later, that is no
// crash. The returned func, called when the handler returns and before
// the settle, cancels the mark or waits for it.
func (c *Consumer) markAlive(ctx context.Context, meta *jetstream.MsgMetadata, h history) func() {
	var mu sync.Mutex
	done := false
	t := time.AfterFunc(CrashWindow, func() {
		mu.Lock()
		defer mu.Unlock()
		if done {
			return
		}
		h.alive = true
		_ = c.settler.deliveries.write(context.WithoutCancel(ctx), meta, h) // unwritten: a death counts as a crash
	})
	return func() {
		t.Stop()
		mu.Lock()
		done = true
		mu.Unlock()
	}
}

// historyOf returns what is known of msg's earlier deliveries, as this
// delivery finds it (see deliveries.go): nothing on a first delivery, and
// an unknown history when the record cannot be read, which neither trips
// the crash-loop guard nor is written back.
func (c *Consumer) historyOf(ctx context.Context, msg jetstream.Msg, meta *jetstream.MsgMetadata) history {
	if meta.NumDelivered <= 1 || c.settler.deliveries == nil {
		return history{}
	}
	h, err := c.settler.deliveries.read(ctx, meta)
	if err != nil {
		c.log.LogAttrs(ctx, slog.LevelWarn, "crash-loop check skipped", append(msgAttrs(msg), slog.String("err", err.Error()))...)
		return history{unknown: true}
	}
	return h.begin(meta.NumDelivered)
}

// nakNow naks msg, pulled but never started, for immediate redelivery at
// shutdown. Its history is left as it is: a delivery that never ran the
// handler is no crash.
func (c *Consumer) nakNow(msg jetstream.Msg) error {
	return msg.Nak()
}

// nakFlight naks a running message at the shutdown deadline, closing the
// open delivery of the history its delivery read.
func (c *Consumer) nakFlight(f *flight) error {
	meta, err := f.msg.Metadata()
	h := f.history.Load()
	if err != nil || c.settler.deliveries == nil || h == nil {
		return f.msg.Nak()
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.settler.timeout)
	defer cancel()
	return c.settler.nak(ctx, f.msg, meta, *h, false, 0)
}

// keepAlive tells the server every ackWait/3 that msg is still being
// worked on, so that a handler slower than AckWait does not get its
// message redelivered to another replica. The returned func stops it.
func keepAlive(msg jetstream.Msg, ackWait time.Duration) func() {
	if ackWait <= 0 {
		return func() {}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(max(ackWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if msg.InProgress() != nil {
					// Settled (nakked at the shutdown deadline) or
					// disconnected: nothing left to keep alive.
					return
				}
			case <-stop:
				return
			}
		}
	})
	return func() {
		close(stop)
		wg.Wait()
	}
}

// inflight tracks the messages whose handler runs, so that Run can hand
// them back when a handler outlives the shutdown deadline.
type inflight struct {
	mu   sync.Mutex
	msgs map[*flight]struct{}
}

type flight struct {
	msg       jetstream.Msg
	abandoned atomic.Bool
	// history is the message's delivery history as this delivery
	// recorded it at its start; nil until then.
	history atomic.Pointer[history]
}

func (i *inflight) add(msg jetstream.Msg) *flight {
	f := &flight{msg: msg}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.msgs == nil {
		i.msgs = make(map[*flight]struct{})
	}
	i.msgs[f] = struct{}{}
	return f
}

func (i *inflight) remove(f *flight) {
	i.mu.Lock()
	defer i.mu.Unlock()
	delete(i.msgs, f)
}

// abandon naks every tracked message with nak and returns how many there
// were.
func (i *inflight) abandon(nak func(*flight) error) int {
	i.mu.Lock()
	defer i.mu.Unlock()
	for f := range i.msgs {
		f.abandoned.Store(true)
		_ = nak(f)
	}
	return len(i.msgs)
}
