package stats

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socialsync/socialsync/pkg/bus"
	"github.com/socialsync/socialsync/pkg/creds"
	"github.com/socialsync/socialsync/pkg/ghl"
	"github.com/socialsync/socialsync/pkg/report"
	"github.com/socialsync/socialsync/pkg/settings"
	"github.com/socialsync/socialsync/pkg/topology"
	socialsyncv1 "github.com/socialsync/socialsync/proto/socialsync/v1"
	"github.com/socialsync/socialsync/services/stats/snapshot"
)

// audience fetches, for a location whose selected accounts span several
// platforms, each platform's statistics alone and keeps their
// demographics: the location-wide answer mixes every platform's
// audience. With one platform the main answer is that platform's.
func audience(ctx context.Context, client Client, loc string, accounts []snapshot.Account, ids []string) (map[string][]json.RawMessage, error) {
	byPlatform := map[string][]string{}
	for _, a := range accounts {
		if slices.Contains(ids, a.ProfileID) && !slices.Contains(byPlatform[a.Platform], a.ProfileID) {
			byPlatform[a.Platform] = append(byPlatform[a.Platform], a.ProfileID)
		}
	}
	if len(byPlatform) < 2 {
		return nil, nil
	}
	out := map[string][]json.RawMessage{}
	for _, p := range slices.Sorted(maps.Keys(byPlatform)) {
		chunks, err := client.Statistics(ctx, loc, byPlatform[p], []string{p})
		if err != nil {
			return nil, fmt.Errorf("audience of %s on %s: %w", loc, p, err)
		}
		for _, c := range chunks {
			raw, err := json.Marshal(c.Statistics.Demographics)
			if err != nil {
				return nil, fmt.Errorf("encode demographics: %w", err)
			}
			out[p] = append(out[p], raw)
		}
	}
	return out, nil
}

// follow runs the follow-ups of the snapshot stored at revision rev of
// key, then marks it followed: it prunes the history past its retention,
// builds the report of the ReportDays before the snapshot's day and stores
// it in every format, publishes the recommendations and writes them, with
// the mapped statistics, to the location's custom values. A failure
// leaves the snapshot unfollowed, and the redelivered request runs the
// follow-ups again (they are idempotent) without calling the statistics
// endpoint.
func (h *handler) follow(ctx context.Context, l creds.Location, tz *time.Location, key string, snap report.Record, rev uint64) error {
	loc, log := l.ID, bus.LoggerFrom(ctx)
	st, err := h.w.deps.FollowUps.Settings(ctx, loc)
	if err != nil {
		log.Warn("statistics settings unreadable; using the defaults", "err", err)
	}
	retention := h.w.cfg.RetentionDays
	if st.RetentionDays > 0 {
		retention = st.RetentionDays
	}
	if err := h.prune(ctx, loc, snap.Day, retention); err != nil {
		return err
	}

	to, err := report.Shift(snap.Day, -1)
	if err != nil {
		return bus.Permanent(err)
	}
	from, _ := report.Shift(to, 1-h.w.cfg.ReportDays)
	r, err := h.build(ctx, loc, tz, from, to)
	if err != nil {
		return err
	}
	name, err := h.w.deps.FollowUps.StoreReport(ctx, r)
	if err != nil {
		return err
	}
	if err := h.announce(ctx, loc, snap, r, name); err != nil {
		return err
	}
	if d, off := l.FeatureDisabled(creds.FeatureCustomValues); h.w.cfg.CustomValues && off {
		log.Debug("custom values not written: the token lacks a scope", "scope", d.Scope)
	} else if h.w.cfg.CustomValues {
		values := snapshot.CustomValues(r.Recommendations)
		// Recorded before they are written: a purge removes them.
		if err := h.recordWritten(ctx, loc, slices.Collect(maps.Keys(values))); err != nil {
			return err
		}
		m, _, err := h.w.deps.FollowUps.Mapping(ctx, loc)
		if err != nil {
			log.Warn("mapping unreadable; no statistics mapped to custom values", "err", err)
		}
		rs, err := report.FromRecord(snap)
		if err != nil {
			return bus.Permanent(err)
		}
		for _, v := range m.CustomValues {
			if metric, err := settings.ParseMetric(v.From); err == nil {
				values[strings.TrimSpace(v.Name)] = snapshot.FormatNumber(metric.Value(rs.Answers))
			}
		}
		err = writeCustomValues(ctx, h.w.deps.Client(loc), loc, values)
		var se *ghl.ScopeError
		switch {
		case errors.As(err, &se):
			// Custom values are optional (creds.FeatureCustomValues): no
			// refresh, no re-authorisation, the rest of the follow-up runs.
			if err := h.w.deps.Locations.DisableFeature(ctx, loc, creds.FeatureCustomValues, se.MissingScope()); err != nil {
				return fmt.Errorf("turn off custom values for %s: %w", loc, err)
			}
		case err != nil:
			return err
		}
	}
	snap.Followed = true
	if _, err := h.w.deps.History.Store(ctx, key, snap, rev); err != nil && !errors.Is(err, errConflict) {
		return err
	}
	log.Info("statistics followed up", "day", snap.Day, "report", name, "retention_days", retention)
	return nil
}

// prune deletes loc's snapshots older than retention days before today.
func (h *handler) prune(ctx context.Context, loc, today string, retention int) error {
	if retention <= 0 {
		return nil
	}
	days, err := h.w.deps.FollowUps.HistoryDays(ctx, loc)
	if err != nil {
		return err
	}
	for _, d := range snapshot.Expired(days, today, retention) {
		if err := h.w.deps.FollowUps.Prune(ctx, report.HistoryKey(loc, d)); err != nil {
			return fmt.Errorf("prune statistics of %s on %s: %w", loc, d, err)
		}
		bus.LoggerFrom(ctx).Info("statistics pruned", "day", d, "retention_days", retention)
	}
	return nil
}

// build builds loc's report of from … to from the history and the tags'
// activity.
func (h *handler) build(ctx context.Context, loc string, tz *time.Location, from, to string) (report.Report, error) {
	return h.w.deps.FollowUps.Build(ctx, loc, tz, from, to, h.w.now())
}

// announce publishes the recommendations of r.
func (h *handler) announce(ctx context.Context, loc string, snap report.Record, r report.Report, name string) error {
	subject, err := topology.RecommendationEvents.Subject(loc)
	if err != nil {
		return err
	}
	sum := sha256.Sum256([]byte(snap.Trigger))
	id := "recommendation:" + loc + ":" + snap.Day + ":" + hex.EncodeToString(sum[:8])
	_, err = h.w.deps.Publisher.Publish(ctx, subject, ToRecommendationEvent(loc, r, name), bus.WithMsgID(id))
	return err
}

// writeCustomValues sets the location's custom values named in want,
// creating those that do not exist and leaving those already right. A
// create that races with another replica's adopts the custom value the
// other one made (ghl.EnsureCustomValue).
func writeCustomValues(ctx context.Context, client Client, loc string, want map[string]string) error {
	existing, err := client.CustomValues(ctx, loc)
	if err != nil {
		return fmt.Errorf("list custom values of %s: %w", loc, err)
	}
	byName := map[string]ghl.CustomValue{}
	for _, cv := range existing {
		byName[strings.ToLower(strings.TrimSpace(cv.Name))] = cv
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		v := want[name]
		cv, ok := byName[strings.ToLower(name)]
		switch {
		case ok && cv.Value == v:
		case ok:
			if _, err := client.UpdateCustomValue(ctx, loc, cv.ID, cv.Name, v); err != nil {
				return fmt.Errorf("set custom value %s of %s: %w", name, loc, err)
			}
		default:
			if _, err := client.EnsureCustomValue(ctx, loc, name, v); err != nil {
				return fmt.Errorf("create custom value %s of %s: %w", name, loc, err)
			}
		}
	}
	return nil
}

// ToRecommendationEvent converts the recommendations of r.
func ToRecommendationEvent(loc string, r report.Report, name string) *socialsyncv1.RecommendationsUpdated {
	rec := r.Recommendations
	ev := &socialsyncv1.RecommendationsUpdated{
		LocationId: loc, From: rec.From, To: rec.To, GeneratedAt: timestamppb.New(r.GeneratedAt),
		BestPlatforms: rec.BestPlatforms, Report: name,
	}
	for _, c := range rec.Cadence {
		pc := &socialsyncv1.CadenceRecommendation{
			Platform: c.Platform, Status: c.Status, Missing: c.Missing, Days: int32(c.Days),
			Posts: c.Posts, Impressions: c.Impressions, Likes: c.Likes,
			ImpressionsPerPost: c.ImpressionsPerPost, LikesPerPost: c.LikesPerPost, PostsPerWeek: c.PostsPerWeek,
			TrendPercent: c.TrendPercent, SuggestedPostsPerWeek: int32(c.SuggestedPostsPerWeek), BestWeekdays: c.BestWeekdays,
		}
		for _, w := range c.Weekdays {
			pc.Weekdays = append(pc.Weekdays, &socialsyncv1.WeekdayFigures{Weekday: w.Weekday, Days: int32(w.Days), Posts: w.Posts,
				Impressions: w.Impressions, Likes: w.Likes, ImpressionsPerPost: w.ImpressionsPerPost, LikesPerPost: w.LikesPerPost})
		}
		ev.Cadence = append(ev.Cadence, pc)
	}
	for _, a := range rec.Audience {
		ev.Audience = append(ev.Audience, &socialsyncv1.AudienceRecommendation{
			Platform: a.Platform, Status: a.Status, Missing: a.Missing, TakenOn: a.TakenOn, Followers: a.Followers,
			Gender: a.Gender, GenderShare: a.GenderShare, AgeBand: a.AgeBand, AgeShare: a.AgeShare, Genders: a.Genders, Ages: a.Ages,
		})
	}
	return ev
}
