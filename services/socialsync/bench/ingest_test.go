package bench

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/bus/bustest"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// ingestMessages is how many post triggers each ingest benchmark moves.
const ingestMessages = 20000

func postEvent(i int) *socialsyncv1.PostEvent {
	return &socialsyncv1.PostEvent{
		LocationId: fmt.Sprintf("Loc%d", i%50), PostId: fmt.Sprintf("post%08d", i),
		TagIds: []string{"65fbdcfecc884f07e645ea8b", "65f151c99bc2bf3aaf970d72"}, ContactIds: []string{"sx6wyHhbFdRXh302LLNR"},
		OccurredAt: timestamppb.Now(), Source: "bench", EventId: fmt.Sprintf("bench-%d", i),
	}
}

// BenchmarkIngest compares, in one run, raw JetStream (publish with a
// message id, pull, ack) with socialsync's trigger ingest of the same
// messages (Publisher with trace headers and ids, Consumer decoding
// protobuf, checking the location and settling through the middleware).
func BenchmarkIngest(b *testing.B) {
	b.Run("raw-jetstream-async-publish", func(b *testing.B) {
		for b.Loop() {
			b.ReportMetric(rawJetStream(b, true), "msgs/s")
		}
	})
	b.Run("raw-jetstream", func(b *testing.B) {
		for b.Loop() {
			b.ReportMetric(rawJetStream(b, false), "msgs/s")
		}
	})
	b.Run("socialsync-ingest", func(b *testing.B) {
		for b.Loop() {
			b.ReportMetric(socialsyncIngest(b), "msgs/s")
		}
	})
}

// rawJetStream publishes with async acks (async) or, like the ingest
// benchmark and like a trigger source, from publishers goroutines that each
// wait for their ack.
func rawJetStream(b *testing.B, async bool) float64 {
	env := bustest.Start(b, topology.Options{})
	ctx := context.Background()
	payloads := make([][]byte, ingestMessages)
	for i := range payloads {
		p, err := bus.Marshal(postEvent(i))
		if err != nil {
			b.Fatal(err)
		}
		payloads[i] = p
	}
	cons, err := env.JS.Consumer(ctx, topology.StreamTriggers, topology.DurableFetcher)
	if err != nil {
		b.Fatal(err)
	}
	var got atomic.Int64
	done := make(chan struct{})
	start := time.Now()
	cc, err := cons.Consume(func(m jetstream.Msg) {
		_ = m.Ack()
		if got.Add(1) == ingestMessages {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Stop()
	subject := func(i int) string { return "socialsync.trigger.post." + postEvent(i).GetLocationId() }
	if async {
		for i, p := range payloads {
			if _, err := env.JS.PublishAsync(subject(i), p, jetstream.WithMsgID(fmt.Sprintf("raw-%d", i))); err != nil {
				b.Fatal(err)
			}
		}
		waitDone(b, done, env.JS.PublishAsyncComplete())
		return ingestMessages / time.Since(start).Seconds()
	}
	parallel(b, func(i int) error {
		_, err := env.JS.Publish(ctx, subject(i), payloads[i], jetstream.WithMsgID(fmt.Sprintf("raw-%d", i)))
		return err
	})
	waitDone(b, done, nil)
	return ingestMessages / time.Since(start).Seconds()
}

func socialsyncIngest(b *testing.B) float64 {
	env := bustest.Start(b, topology.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	spec, _ := topology.New(topology.Options{}).Consumer(topology.StreamTriggers, topology.DurableFetcher)
	var got atomic.Int64
	done := make(chan struct{})
	h := bus.Typed(func(_ context.Context, e *socialsyncv1.PostEvent) error {
		if got.Add(1) == ingestMessages {
			close(done)
		}
		return nil
	})
	c, err := bus.NewConsumer(env.JS, spec, h, bus.ConsumerOptions{Concurrency: 200,
		Middleware: []bus.Middleware{bus.Trace(nil, nil)}})
	if err != nil {
		b.Fatal(err)
	}
	runDone := make(chan error, 1)
	go func() { runDone <- c.Run(ctx) }()
	pub := bus.NewPublisher(env.JS, bus.PublisherOptions{Known: topology.Known})
	start := time.Now()
	parallel(b, func(i int) error {
		e := postEvent(i)
		_, err := pub.Publish(ctx, "socialsync.trigger.post."+e.GetLocationId(), e)
		return err
	})
	waitDone(b, done, nil)
	elapsed := time.Since(start)
	cancel()
	<-runDone
	return ingestMessages / elapsed.Seconds()
}

// publishers is how many goroutines publish at once, each waiting for its
// ack, as trigger sources do.
const publishers = 32

// parallel calls publish for 0..ingestMessages-1 from publishers goroutines.
func parallel(b *testing.B, publish func(i int) error) {
	b.Helper()
	errs := make(chan error, publishers)
	for w := range publishers {
		go func() {
			for i := w; i < ingestMessages; i += publishers {
				if err := publish(i); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range publishers {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

func waitDone(b *testing.B, done chan struct{}, published <-chan struct{}) {
	b.Helper()
	if published != nil {
		select {
		case <-published:
		case <-time.After(2 * time.Minute):
			b.Fatal("publishing did not complete")
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatal("not every message was consumed")
	}
}
