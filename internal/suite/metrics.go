package suite

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/metric"

	"github.com/jiayuan/jiayuan/platform/sqlstore"
)

// calendarMetrics reports, for a service that reads the district's rules file (Spec.Rules),
// until when its holiday calendar is known: jiayuan.calendar.covered_until, the end of the
// last year it lists (unix seconds). Deadlines in a year it does not cover count Monday to
// Friday, so an alert asks for next year's arrangement from 1 December (docs/deploy.md). The
// file is read again here, as the service read it; stop ends the reports.
func calendarMetrics(spec Spec, db *sqlstore.DB, rulesFile string) (stop func(), err error) {
	if !spec.Rules {
		return func() {}, nil
	}
	r, err := LoadRules(rulesFile)
	if err != nil {
		return nil, fmt.Errorf("%s: rules: %w", spec.Name, err)
	}
	end, ok := r.Calendar().CoveredUntil()
	meter, attrs := db.Meter("github.com/jiayuan/jiayuan/internal/suite")
	g, err := meter.Float64ObservableGauge("jiayuan.calendar.covered_until", metric.WithUnit("s"),
		metric.WithDescription("The end of the last year the district's holiday calendar (rules.yaml) lists, in unix seconds; absent when it lists none."))
	if err != nil {
		return nil, fmt.Errorf("%s: calendar metrics: %w", spec.Name, err)
	}
	reg, err := meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		if ok {
			o.ObserveFloat64(g, float64(end.Unix()), metric.WithAttributeSet(attrs))
		}
		return nil
	}, g)
	if err != nil {
		return nil, fmt.Errorf("%s: calendar metrics: %w", spec.Name, err)
	}
	return func() { _ = reg.Unregister() }, nil
}
