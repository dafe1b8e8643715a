package stats

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
)

// The stats worker is the credentials-holding worker of the hosted OAuth
// flow: it answers the gateway's callbacks and install webhooks
// (creds.Connector, a loop) and runs each agency's periodic sync (the
// DurableAgency route, fed by the agency's schedule).

// agencyHandler handles AgencySyncRequested.
type agencyHandler struct {
	w *Worker
}

// handle connects the locations of the agency the subject names that
// are installed and not connected (creds.Store.SyncAgency). An agency
// whose token is no longer kept (uninstalled) is no failure: its schedule
// is dropped.
func (h *agencyHandler) handle(ctx context.Context, msg jetstream.Msg) error {
	var req socialsyncv1.AgencySyncRequested
	company, err := bus.Decode(msg, &req)
	if err != nil {
		return err
	}
	c := h.w.deps.Connector
	if c == nil {
		return bus.Permanent(errors.New("this stats worker has no token key and cannot sync agencies"))
	}
	locs, err := c.Store.SyncAgency(ctx, c.Client, company)
	if errors.Is(err, creds.ErrNoAgency) {
		h.w.log.Info("agency sync: the agency is not connected; its schedule is dropped", "company", company)
		return h.w.keepAgencySchedule(ctx, company, false)
	}
	for _, l := range locs {
		h.w.log.Info("agency sync connected a location", "company", company, "location", l.ID)
	}
	return err
}

// agencySchedulesCheck is how often the worker looks for connected
// agencies without a sync schedule.
const agencySchedulesCheck = time.Hour

// keepAgencySchedules gives every connected agency its sync schedule,
// at start and every agencySchedulesCheck, until ctx ends: an agency
// connected from the operator's machine (`socialsync connect --user-type
// Company` on its loopback callback) gets one too. A schedule that
// exists is left alone: storing it again would restart its period.
func (w *Worker) keepAgencySchedules(ctx context.Context) error {
	t := time.NewTicker(agencySchedulesCheck)
	defer t.Stop()
	for {
		if err := w.scheduleAgencies(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("agency schedules", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// scheduleAgencies schedules the syncs of the agencies that have none.
func (w *Worker) scheduleAgencies(ctx context.Context) error {
	companies, err := w.deps.Connector.Store.Agencies(ctx)
	if err != nil {
		return err
	}
	for _, company := range companies {
		subject, err := topology.AgencySchedules.Subject(company)
		if err != nil {
			return err
		}
		_, err = w.deps.Stores.Schedules.GetLastMsgForSubject(ctx, subject)
		switch {
		case err == nil:
			continue
		case !errors.Is(err, jetstream.ErrMsgNotFound):
			return err
		}
		if err := w.keepAgencySchedule(ctx, company, true); err != nil {
			return err
		}
		w.log.Info("agency sync scheduled", "company", company)
	}
	return nil
}

// keepAgencySchedule keeps company's sync schedule while the agency is
// connected: every topology.AgencySyncEvery, an AgencySyncRequested.
func (w *Worker) keepAgencySchedule(ctx context.Context, company string, connected bool) error {
	subject, err := topology.AgencySchedules.Subject(company)
	if err != nil {
		return err
	}
	if !connected {
		return w.deps.Publisher.Unschedule(ctx, subject)
	}
	target, err := topology.ScheduledAgency.Subject(company)
	if err != nil {
		return err
	}
	_, err = w.deps.Publisher.Schedule(ctx, bus.Schedule{Subject: subject, Target: target, Spec: "@every " + topology.AgencySyncEvery.String()},
		&socialsyncv1.AgencySyncRequested{CompanyId: company, RequestedBy: "schedule"})
	return err
}
