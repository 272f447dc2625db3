package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"k8s.io/client-go/util/workqueue"
)

// A queue made with the provider reports adds, depth and retries under its name.
func TestWorkqueueMetrics(t *testing.T) {
	m := New()
	q := workqueue.NewTypedRateLimitingQueueWithConfig(workqueue.DefaultTypedControllerRateLimiter[string](),
		workqueue.TypedRateLimitingQueueConfig[string]{Name: "backup", MetricsProvider: m.WorkqueueMetricsProvider()})
	defer q.ShutDown()
	q.Add("a")
	q.Add("b")
	if got := testutil.ToFloat64(m.workqueue.depth.WithLabelValues("backup")); got != 2 {
		t.Errorf("depth = %v, want 2", got)
	}
	item, _ := q.Get()
	q.Done(item)
	q.AddRateLimited("c")
	if got := testutil.ToFloat64(m.workqueue.adds.WithLabelValues("backup")); got != 2 {
		t.Errorf("adds = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.workqueue.retries.WithLabelValues("backup")); got != 1 {
		t.Errorf("retries = %v, want 1", got)
	}
	if m.WorkqueueMetricsProvider() != m.WorkqueueMetricsProvider() {
		t.Error("a second call registers the metrics again")
	}
	if n, err := testutil.GatherAndCount(m.Registry(), "workqueue_depth", "workqueue_work_duration_seconds"); err != nil || n != 2 {
		t.Errorf("gathered %d workqueue series, %v", n, err)
	}
}
