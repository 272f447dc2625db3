package controller

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"

	"github.com/heptio/ark/pkg/metrics"
)

// Option adds an optional collaborator to a controller.
type Option func(*reporting)

// reporting is how a controller tells operators what happened: Prometheus
// metrics and Kubernetes Events. Both are optional.
type reporting struct {
	metrics *metrics.Metrics
	events  record.EventRecorder
}

// WithMetrics makes the controller record Prometheus metrics.
func WithMetrics(m *metrics.Metrics) Option { return func(r *reporting) { r.metrics = m } }

// WithEventRecorder makes the controller record Events on the objects it handles.
func WithEventRecorder(e record.EventRecorder) Option { return func(r *reporting) { r.events = e } }

func newReporting(opts []Option) reporting {
	var r reporting
	for _, o := range opts {
		o(&r)
	}
	return r
}

// event records an Event if a recorder is configured.
func (r reporting) event(obj runtime.Object, warning bool, reason, format string, args ...any) {
	if r.events == nil {
		return
	}
	kind := "Normal"
	if warning {
		kind = "Warning"
	}
	r.events.Eventf(obj, kind, reason, format, args...)
}
