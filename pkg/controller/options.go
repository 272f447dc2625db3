package controller

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"

	"github.com/heptio/ark/pkg/metrics"
)

// Option sets an optional collaborator of a controller. Every controller's
// constructor takes them (opts ...Option), and ignores those it has no use for.
type Option func(*options)

// options are what a controller may be given besides its required
// collaborators: how it tells operators what happened (Prometheus metrics,
// Kubernetes Events; both optional), the cluster's identity, and who may
// delete a backup.
type options struct {
	metrics   *metrics.Metrics
	events    record.EventRecorder
	clusterID string
	deletions DeletionAuthorizer
}

// WithMetrics makes the controller record Prometheus metrics.
func WithMetrics(m *metrics.Metrics) Option { return func(o *options) { o.metrics = m } }

// WithEventRecorder makes the controller record Events on the objects it handles.
func WithEventRecorder(e record.EventRecorder) Option { return func(o *options) { o.events = e } }

// WithClusterID sets the identity of this cluster that the backup controller
// records in every backup's metadata (status.clusterID): the UID of its
// kube-system namespace. Unset, backups record none (ownership then goes by
// Backup UID alone).
func WithClusterID(id string) Option { return func(o *options) { o.clusterID = id } }

// WithDeletionAuthorizer makes the deletion controller carry out only the
// DeleteBackupRequests a decides for, and the gc controller record on its
// requests for expired backups whom a knows them by (authz.Deletions). Unset,
// every request is carried out (as with --single-tenant).
func WithDeletionAuthorizer(a DeletionAuthorizer) Option { return func(o *options) { o.deletions = a } }

func newOptions(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}

// event records an Event if a recorder is configured.
func (o options) event(obj runtime.Object, warning bool, reason, format string, args ...any) {
	if o.events == nil {
		return
	}
	kind := "Normal"
	if warning {
		kind = "Warning"
	}
	o.events.Eventf(obj, kind, reason, format, args...)
}
