package contactsync

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MetricTagsSkipped counts the social tags of posts that contactsync left
// out, by reason ("deleted in Social Planner").
const MetricTagsSkipped = "socialsync.contactsync.tags.skipped"

// newSkippedCounter returns the counter of skipped tags, or nil when the
// meter provider cannot make one.
func (w *Worker) newSkippedCounter() metric.Int64Counter {
	if w.deps.Meter == nil {
		return nil
	}
	c, err := w.deps.Meter.Meter("github.com/socialsync/socialsync/services/contactsync").Int64Counter(MetricTagsSkipped,
		metric.WithDescription("Social tags of posts left out, by reason."))
	if err != nil {
		w.log.Warn("contactsync metrics", "err", err)
		return nil
	}
	return c
}

// skippedTags counts one tag skipped for reason. Location ids are not
// attributes: they would make one series per location.
func (w *Worker) skippedTags(ctx context.Context, _ string, reason string) {
	if w.skipped != nil {
		w.skipped.Add(ctx, 1, metric.WithAttributes(attribute.String("reason", reason)))
	}
}
