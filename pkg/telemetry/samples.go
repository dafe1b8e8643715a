package telemetry

import "fmt"

// Sample is one series of a metric as /metrics shows it: its labels and
// its value (a counter's total or a gauge's value).
type Sample struct {
	Labels map[string]string
	Value  float64
}

// Samples returns the series of the metric /metrics names name (the
// Prometheus name: "socialsync_ghl_calls_total"), read from the process's
// own registry, without a request; none when the metric has no series
// yet. Histograms and summaries have no single value and are refused.
func (t *Telemetry) Samples(name string) ([]Sample, error) {
	families, err := t.registry.Gather()
	if err != nil && len(families) == 0 {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	var out []Sample
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			s := Sample{Labels: map[string]string{}}
			switch {
			case m.GetCounter() != nil:
				s.Value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				s.Value = m.GetGauge().GetValue()
			case m.GetUntyped() != nil:
				s.Value = m.GetUntyped().GetValue()
			default:
				return nil, fmt.Errorf("read metric %s: not a counter or a gauge", name)
			}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			out = append(out, s)
		}
	}
	return out, nil
}
