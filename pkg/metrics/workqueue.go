package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
)

// workqueueMetrics are client-go's work-queue metrics, under the names and
// labels Kubernetes components export them with (k8s.io/component-base's
// workqueue provider: workqueue_depth{name} and so on), so that the usual
// dashboards work; "name" is the controller's name.
type workqueueMetrics struct {
	depth, unfinished, longest *prometheus.GaugeVec
	adds, retries              *prometheus.CounterVec
	latency, workDuration      *prometheus.HistogramVec
}

// WorkqueueMetricsProvider returns a client-go workqueue.MetricsProvider that
// records into this registry. Set it with workqueue.SetProvider before the
// first queue is made (client-go takes the first provider set and ignores
// later ones), or in a queue's config.
func (m *Metrics) WorkqueueMetricsProvider() workqueue.MetricsProvider {
	if m == nil {
		return nil
	}
	m.workqueueOnce.Do(func() {
		labels := []string{"name"}
		w := &workqueueMetrics{
			depth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Subsystem: "workqueue", Name: "depth",
				Help: "Current depth of the work queue."}, labels),
			adds: prometheus.NewCounterVec(prometheus.CounterOpts{Subsystem: "workqueue", Name: "adds_total",
				Help: "Adds handled by the work queue."}, labels),
			latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Subsystem: "workqueue", Name: "queue_duration_seconds",
				Help: "Seconds an item stays in the work queue before it is worked on.", Buckets: prometheus.ExponentialBuckets(10e-9, 10, 12)}, labels),
			workDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Subsystem: "workqueue", Name: "work_duration_seconds",
				Help: "Seconds working on an item of the work queue takes.", Buckets: prometheus.ExponentialBuckets(10e-9, 10, 12)}, labels),
			unfinished: prometheus.NewGaugeVec(prometheus.GaugeOpts{Subsystem: "workqueue", Name: "unfinished_work_seconds",
				Help: "Seconds of work in progress not yet observed by work_duration: a large value means a stuck worker."}, labels),
			longest: prometheus.NewGaugeVec(prometheus.GaugeOpts{Subsystem: "workqueue", Name: "longest_running_processor_seconds",
				Help: "Seconds the longest-running worker of the queue has been running."}, labels),
			retries: prometheus.NewCounterVec(prometheus.CounterOpts{Subsystem: "workqueue", Name: "retries_total",
				Help: "Retries handled by the work queue."}, labels),
		}
		m.registry.MustRegister(w.depth, w.adds, w.latency, w.workDuration, w.unfinished, w.longest, w.retries)
		m.workqueue = w
	})
	return m.workqueue
}

func (w *workqueueMetrics) NewDepthMetric(name string) workqueue.GaugeMetric {
	return w.depth.WithLabelValues(name)
}

func (w *workqueueMetrics) NewAddsMetric(name string) workqueue.CounterMetric {
	return w.adds.WithLabelValues(name)
}

func (w *workqueueMetrics) NewLatencyMetric(name string) workqueue.HistogramMetric {
	return w.latency.WithLabelValues(name)
}

func (w *workqueueMetrics) NewWorkDurationMetric(name string) workqueue.HistogramMetric {
	return w.workDuration.WithLabelValues(name)
}

func (w *workqueueMetrics) NewUnfinishedWorkSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return w.unfinished.WithLabelValues(name)
}

func (w *workqueueMetrics) NewLongestRunningProcessorSecondsMetric(name string) workqueue.SettableGaugeMetric {
	return w.longest.WithLabelValues(name)
}

func (w *workqueueMetrics) NewRetriesMetric(name string) workqueue.CounterMetric {
	return w.retries.WithLabelValues(name)
}
