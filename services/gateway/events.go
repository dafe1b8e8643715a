package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// liveEvent is one server-sent event: an event of SOCIALSYNC_EVENTS,
// decoded.
type liveEvent struct {
	// Type is the family's last word: tag, tagdetails, stats, contact,
	// location, recommendation or segment.
	Type     string    `json:"type"`
	Subject  string    `json:"subject"`
	Location string    `json:"location"`
	Seq      uint64    `json:"seq"`
	Time     time.Time `json:"time"`
	Data     any       `json:"data,omitempty"`
}

// hub fans the events out to the open event streams. A subscriber that
// falls behind by a full buffer is dropped (its stream ends; browsers
// reconnect), so that one slow client never holds the others back.
type hub struct {
	mu sync.Mutex
	// max bounds len(subs): each open stream holds a connection and a
	// buffer.
	max    int
	subs   map[*subscriber]bool
	done   chan struct{}
	closed bool
	// recent are the last recentEvents events, oldest first, for clients
	// that reconnect with Last-Event-ID.
	recent []hubMsg
}

// recentEvents is how many events a reconnecting client can catch up on.
const recentEvents = 1024

type subscriber struct {
	// wants reports whether the subscriber gets the events of a location.
	wants func(loc string) bool
	ch    chan hubMsg
}

type hubMsg struct {
	seq  uint64
	loc  string
	data []byte
}

const subscriberBuffer = 256

func newHub(max int) *hub {
	return &hub{max: max, subs: map[*subscriber]bool{}, done: make(chan struct{})}
}

// Why subscribe refuses a subscriber.
var (
	errHubClosed = errors.New("the gateway is shutting down")
	errHubFull   = errors.New("too many open event streams on this replica")
)

// subscribe registers a subscriber for the events of the locations wants
// accepts and returns, with it, the recent events after sequence after
// (none when after is 0), which it will not receive again. It refuses one
// with errHubClosed or, past max subscribers, errHubFull.
func (h *hub) subscribe(wants func(loc string) bool, after uint64) (*subscriber, []hubMsg, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, nil, errHubClosed
	}
	if len(h.subs) >= h.max {
		return nil, nil, errHubFull
	}
	var backlog []hubMsg
	if after > 0 {
		for _, m := range h.recent {
			if m.seq > after && wants(m.loc) {
				backlog = append(backlog, m)
			}
		}
	}
	s := &subscriber{wants: wants, ch: make(chan hubMsg, subscriberBuffer)}
	h.subs[s] = true
	return s, backlog, nil
}

func (h *hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.subs[s] {
		delete(h.subs, s)
		close(s.ch)
	}
}

func (h *hub) publish(m hubMsg) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.recent) == recentEvents {
		h.recent = append(h.recent[:0], h.recent[1:]...)
	}
	h.recent = append(h.recent, m)
	for s := range h.subs {
		if !s.wants(m.loc) {
			continue
		}
		select {
		case s.ch <- m:
		default:
			delete(h.subs, s)
			close(s.ch)
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return
	}
	h.closed = true
	close(h.done)
	for s := range h.subs {
		delete(h.subs, s)
		close(s.ch)
	}
}

// feed reads new events with an ordered (ephemeral) consumer, which the
// client library recreates after a disconnect, and hands them to the hub.
// It resumes a second after every interruption, for as long as ctx lasts:
// a supervisor with a fixed pause, not a retry toward a result, so it
// needs no backoff.
func (g *Gateway) feed(ctx context.Context) error {
	for {
		err := g.consumeEvents(ctx)
		if ctx.Err() != nil {
			return nil
		}
		g.log.Warn("live events interrupted; resuming", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func (g *Gateway) consumeEvents(ctx context.Context) error {
	stream, err := g.deps.JS.Stream(ctx, topology.StreamEvents)
	if err != nil {
		return fmt.Errorf("open stream %s: %w", topology.StreamEvents, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"socialsync.event.>"}, DeliverPolicy: jetstream.DeliverNewPolicy})
	if err != nil {
		return fmt.Errorf("live events consumer: %w", err)
	}
	msgs, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("live events consumer: %w", err)
	}
	stop := context.AfterFunc(ctx, msgs.Stop)
	defer stop()
	defer msgs.Stop()
	for {
		msg, err := msgs.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) && ctx.Err() != nil {
				return nil
			}
			return err
		}
		ev, ok := toLiveEvent(msg)
		if !ok {
			continue
		}
		data, err := json.Marshal(ev)
		if err != nil {
			continue
		}
		g.hub.publish(hubMsg{seq: ev.Seq, loc: ev.Location, data: data})
	}
}

func toLiveEvent(msg jetstream.Msg) (liveEvent, bool) {
	family, loc, err := topology.ParseSubject(msg.Subject())
	if err != nil {
		return liveEvent{}, false
	}
	ev := liveEvent{Type: string(family)[len("socialsync.event."):], Subject: msg.Subject(), Location: loc, Time: time.Now().UTC()}
	if meta, err := msg.Metadata(); err == nil {
		ev.Seq, ev.Time = meta.Sequence.Stream, meta.Timestamp.UTC()
	}
	if m := messageOf(family); m != nil && bus.Unmarshal(msg.Headers(), msg.Data(), m) == nil {
		if s, ok := m.(*socialsyncv1.StatsSnapshot); ok {
			s.Metrics = nil // large; the API serves the figures
		}
		ev.Data = rawJSON(m)
	}
	return ev, true
}

// events is GET /v1/events: server-sent events, one "message" per event
// of the pipeline ("data:" holds a liveEvent, "id:" its stream sequence),
// optionally of one location, and only of the locations the caller's key
// may see. A client reconnecting with Last-Event-ID first gets the recent
// events it missed.
func (g *Gateway) events(w http.ResponseWriter, r *http.Request) {
	loc := r.URL.Query().Get("location")
	if loc != "" && !ids.ValidHighLevel(loc) {
		writeError(w, http.StatusBadRequest, "bad_request", "location: want a HighLevel location id, got "+quote(loc))
		return
	}
	if loc != "" && !allow(w, r, loc) {
		return
	}
	k := keyOfRequest(r)
	wants := func(l string) bool { return (loc == "" || l == loc) && k.allows(l) }
	var after uint64
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "bad_request", "Last-Event-ID: want the id of an event this stream sent")
			return
		}
		after = n
	}
	sub, backlog, err := g.hub.subscribe(wants, after)
	switch {
	case errors.Is(err, errHubFull):
		// 503, not 429: the client did nothing wrong; another replica, or
		// this one a little later, can serve it.
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
		writeError(w, http.StatusServiceUnavailable, "too_many_streams",
			fmt.Sprintf("this replica serves at most %d event streams at once; retry later", g.cfg.MaxSSEClients))
		return
	case err != nil:
		unavailable(w, err.Error())
		return
	}
	defer g.hub.unsubscribe(sub)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n: connected\n\n")
	if rc.Flush() != nil {
		return
	}
	for _, m := range backlog {
		fmt.Fprintf(w, "id: %d\ndata: %s\n\n", m.seq, m.data)
	}
	if rc.Flush() != nil {
		return
	}
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-g.hub.done:
			return
		case <-ping.C:
			fmt.Fprint(w, ": ping\n\n")
		case m, ok := <-sub.ch:
			if !ok {
				return
			}
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", m.seq, m.data)
		}
		if rc.Flush() != nil {
			return
		}
	}
}
