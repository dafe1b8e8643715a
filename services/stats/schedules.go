package stats

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sync/errgroup"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ids"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// RequestedBySchedule is the requested_by of the StatsRequested a schedule
// fires.
const RequestedBySchedule = "schedule"

// Watch retry bounds: a broken watch of the locations bucket is restarted
// after a delay doubling from watchRetryMin to watchRetryMax.
const (
	watchRetryMin = time.Second
	watchRetryMax = 30 * time.Second
)

// scheduler keeps one JetStream message schedule per registered location
// on "socialsync.schedule.stats.<loc>", firing a StatsRequested to
// "socialsync.scheduled.stats.<loc>" (which SOCIALSYNC_TRIGGERS sources as
// "socialsync.trigger.stats.<loc>") at the configured cron, in the
// location's time zone.
//
// It watches the locations bucket: the initial values bring every
// location's schedule up to date and then the schedules of locations no
// longer registered are removed; later puts and deletes do the same for
// one location. A schedule that is already as wanted is not published
// again, so that a restart (or a second replica) neither moves the next
// run nor adds a message; one that is published anyway replaces its
// predecessor, since the server rolls up each schedule subject.
type scheduler struct {
	w         *Worker
	locations jetstream.KeyValue
	stream    jetstream.Stream
	// settings hold each location's own cron and time zone ("stats.<loc>"),
	// watched too: a change reschedules the location at once.
	settings jetstream.KeyValue
}

// run reconciles until ctx ends, restarting a failed watch; it returns nil.
func (s *scheduler) run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.keep(gctx, s.watch) })
	g.Go(func() error { return s.keep(gctx, s.watchSettings) })
	return g.Wait()
}

// keep runs watch until ctx ends, restarting it when it fails. watch
// returns nil only when ctx ended.
func (s *scheduler) keep(ctx context.Context, watch func(context.Context) error) error {
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(watchRetryMin),
		backoff.WithMaxInterval(watchRetryMax),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxElapsedTime(0),
	)
	restart := func(err error, delay time.Duration) {
		s.w.log.Warn("watch of registered locations stopped; restarting", "err", err, "delay", delay)
	}
	_ = backoff.RetryNotify(func() error { return watch(ctx) }, backoff.WithContext(b, ctx), restart)
	return nil
}

// watch follows the locations bucket until ctx ends or the watch fails.
func (s *scheduler) watch(ctx context.Context) error {
	kw, err := s.locations.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", topology.BucketLocations, err)
	}
	defer func() { _ = kw.Stop() }()
	registered := map[string]bool{}
	initial := true
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case e, ok = <-kw.Updates():
		}
		switch {
		case !ok:
			return errors.New("watch closed")
		case e == nil:
			// The initial values are in: drop the schedules of locations
			// that are gone.
			initial = false
			if err := s.removeStale(ctx, registered); err != nil {
				s.w.log.Error("remove schedules of removed locations", "err", err)
			}
		case e.Operation() == jetstream.KeyValuePut:
			if initial {
				registered[e.Key()] = true
			}
			if err := s.ensure(ctx, e.Key(), e.Value()); err != nil {
				s.w.log.Error("schedule statistics", "location", e.Key(), "err", err)
			}
		default: // deleted or purged
			if err := s.remove(ctx, e.Key()); err != nil {
				s.w.log.Error("unschedule statistics", "location", e.Key(), "err", err)
			}
		}
	}
}

// watchSettings follows the locations' statistics settings until ctx
// ends or the watch fails: a change reschedules its location, if it is
// registered. The initial values are left to watch, which reads the
// settings of every location it schedules.
func (s *scheduler) watchSettings(ctx context.Context) error {
	kw, err := s.settings.Watch(ctx, settings.StatsPrefix+"*", jetstream.UpdatesOnly())
	if err != nil {
		return fmt.Errorf("watch bucket %s: %w", topology.BucketSettings, err)
	}
	defer func() { _ = kw.Stop() }()
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return nil
		case e, ok = <-kw.Updates():
		}
		if !ok {
			return errors.New("watch closed")
		}
		if e == nil {
			continue
		}
		_, loc, valid := settings.Location(e.Key())
		if !valid {
			continue
		}
		le, err := s.locations.Get(ctx, loc)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // not registered: scheduled when it is
		}
		if err != nil {
			s.w.log.Error("reschedule statistics", "location", loc, "err", err)
			continue
		}
		if err := s.ensure(ctx, loc, le.Value()); err != nil {
			s.w.log.Error("reschedule statistics", "location", loc, "err", err)
		}
	}
}

// ensure makes the schedule of the location registered under key, with
// record value, what it should be.
func (s *scheduler) ensure(ctx context.Context, key string, value []byte) error {
	if !ids.ValidHighLevel(key) {
		return fmt.Errorf("registered location %q: invalid id", key)
	}
	var l creds.Location
	if err := json.Unmarshal(value, &l); err != nil {
		return fmt.Errorf("registered location %s: %w", key, err)
	}
	if _, held := l.Held(); held || l.State == creds.StateUninstalled || l.State == creds.StateConnecting {
		// Paused, or waiting for re-authorisation: no run is fired (and
		// HighLevel is not asked for its time zone) until it resumes,
		// whose record update schedules it again. Uninstalled, or waiting
		// for its OAuth callback: no token to fetch with; its connection
		// writes the record again.
		return s.remove(ctx, key)
	}
	// A location without the operator's time zone (an agency install,
	// one added without --timezone) is scheduled in HighLevel's; the
	// record's update brings ensure back here, with nothing to learn.
	l = s.w.learn(ctx, l)
	cron, tz := s.w.cfg.Cron, l.Timezone
	st, err := settings.GetStats(ctx, s.settings, key)
	if err != nil {
		s.w.log.Warn("statistics settings unreadable; using the defaults", "location", key, "err", err)
	}
	if st.Cron != "" {
		if err := settings.CheckSpec(st.Cron); err != nil {
			s.w.log.Warn("location's statistics cron unusable; using the default", "location", key, "err", err)
		} else {
			cron = st.Cron
		}
	}
	if st.Timezone != "" {
		tz = st.Timezone
	}
	sched, req, err := s.scheduleOf(key, cron, tz)
	if err != nil {
		return err
	}
	same, err := s.current(ctx, sched, req)
	if err != nil || same {
		return err
	}
	if _, err := s.w.deps.Publisher.Schedule(ctx, sched, req); err != nil {
		return err
	}
	s.w.log.Info("statistics scheduled", "location", key, "spec", sched.Spec, "time_zone", sched.TimeZone)
	return nil
}

// scheduleOf returns the schedule of loc in time zone tz and the request
// it fires. A time zone the server would reject falls back to UTC, so
// that the location still gets its daily run.
func (s *scheduler) scheduleOf(loc, cron, tz string) (bus.Schedule, *socialsyncv1.StatsRequested, error) {
	subject, err := topology.StatsSchedules.Subject(loc)
	if err != nil {
		return bus.Schedule{}, nil, err
	}
	target, err := topology.ScheduledStats.Subject(loc)
	if err != nil {
		return bus.Schedule{}, nil, err
	}
	sched := bus.Schedule{Subject: subject, Target: target, Spec: cron}
	if settings.TakesTimeZone(sched.Spec) {
		if _, err := report.LoadZone(tz); err != nil {
			s.w.log.Warn("location time zone unusable; scheduling in UTC", "location", loc, "err", err)
			tz = ""
		}
		sched.TimeZone = tz
	}
	return sched, &socialsyncv1.StatsRequested{LocationId: loc, RequestedBy: RequestedBySchedule}, nil
}

// current reports whether the stored schedule already is sched firing req.
func (s *scheduler) current(ctx context.Context, sched bus.Schedule, req *socialsyncv1.StatsRequested) (bool, error) {
	m, err := s.stream.GetLastMsgForSubject(ctx, sched.Subject)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read schedule %s: %w", sched.Subject, err)
	}
	data, err := bus.Marshal(req)
	if err != nil {
		return false, err
	}
	return m.Header.Get(jetstream.ScheduleHeader) == sched.Spec &&
		m.Header.Get(jetstream.ScheduleTargetHeader) == sched.Target &&
		m.Header.Get(jetstream.ScheduleTimeZoneHeader) == sched.TimeZone &&
		bytes.Equal(m.Data, data), nil
}

// remove drops the schedule of location key.
func (s *scheduler) remove(ctx context.Context, key string) error {
	subject, err := topology.StatsSchedules.Subject(key)
	if err != nil {
		return nil // never scheduled
	}
	if err := s.w.deps.Publisher.Unschedule(ctx, subject); err != nil {
		return err
	}
	s.w.log.Info("statistics unscheduled", "location", key)
	return nil
}

// removeStale drops the schedules of locations not in registered.
func (s *scheduler) removeStale(ctx context.Context, registered map[string]bool) error {
	info, err := s.stream.Info(ctx, jetstream.WithSubjectFilter(topology.StatsSchedules.Filter()))
	if err != nil {
		return fmt.Errorf("list schedules: %w", err)
	}
	var errs []error
	for subject := range info.State.Subjects {
		_, loc, err := topology.ParseSubject(subject)
		if err != nil || registered[loc] {
			continue
		}
		errs = append(errs, s.remove(ctx, loc))
	}
	return errors.Join(errs...)
}
