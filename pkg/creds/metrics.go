package creds

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// MetricTokenRefreshes counts the OAuth token refreshes a Store made (one
// per expiry and location across the fleet; a refresh whose answer was
// lost and that asked once more counts once), by result: socialsync_token_refreshes_total{result}, result
// one of RefreshSuccess, RefreshRejected and RefreshFailed. Recorded when
// the Store was opened WithMeterProvider.
const MetricTokenRefreshes = "socialsync.token.refreshes"

// The result label values of MetricTokenRefreshes.
const (
	// RefreshSuccess: new tokens were issued and stored.
	RefreshSuccess = "success"
	// RefreshRejected: HighLevel refused the refresh token (or none was
	// stored); the location needs re-authorisation.
	RefreshRejected = "rejected"
	// RefreshFailed: no usable answer, a 429, or refused app credentials;
	// refreshes of the location pause and are tried again.
	RefreshFailed = "failed"
)

// refreshMetrics holds the counter; a nil *refreshMetrics counts nothing.
type refreshMetrics struct {
	refreshes metric.Int64Counter
}

func newRefreshMetrics(mp metric.MeterProvider) (*refreshMetrics, error) {
	if mp == nil {
		return nil, nil
	}
	c, err := mp.Meter("github.com/socialsync/socialsync/pkg/creds").Int64Counter(MetricTokenRefreshes,
		metric.WithDescription("OAuth token refreshes, by result (success, rejected, failed)."))
	if err != nil {
		return nil, err
	}
	// Every result's series exists from the start at 0, so that an alert
	// on increase() sees a process's first failure: a series born at 1
	// has not increased.
	for _, result := range []string{RefreshSuccess, RefreshRejected, RefreshFailed} {
		c.Add(context.Background(), 0, metric.WithAttributes(attribute.String("result", result)))
	}
	return &refreshMetrics{refreshes: c}, nil
}

// count records a refresh that returned err.
func (m *refreshMetrics) count(err error) {
	if m == nil {
		return
	}
	result := RefreshSuccess
	var reauth *NeedsReauthError
	switch {
	case errors.As(err, &reauth):
		result = RefreshRejected
	case err != nil:
		result = RefreshFailed
	}
	m.refreshes.Add(context.Background(), 1, metric.WithAttributes(attribute.String("result", result)))
}
