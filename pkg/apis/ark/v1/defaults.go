package v1

import "time"

// Defaults of fields left unset. The server applies them when it reads an
// object; the objects themselves keep what the user wrote.
const (
	// DefaultBackupTTL is how long a backup is kept when spec.ttl is unset: 30 days.
	DefaultBackupTTL = 720 * time.Hour
	// DefaultHookTimeout is how long a hook may run when its timeout is unset.
	DefaultHookTimeout = 30 * time.Second
	// DefaultBackupSyncPeriod is how often the bucket is synced when unset.
	DefaultBackupSyncPeriod = 60 * time.Minute
	// DefaultGCSyncPeriod is how often expired backups are looked for when unset.
	DefaultGCSyncPeriod = 60 * time.Minute
	// DefaultScheduleSyncPeriod is how often schedules are checked when unset.
	DefaultScheduleSyncPeriod = time.Minute
)

// DefaultResourcePriorities is the order in which a restore creates resources
// when Config.resourcePriorities is unset: what other objects need comes first.
// Resources not named follow, sorted by name (admission webhooks and policies
// last). The order follows the admission plugins the API server enables by
// default, which reject or change an object whose prerequisite is missing:
//   - NamespaceLifecycle: an object's namespace exists.
//   - DefaultStorageClass, DefaultIngressClass: a claim or Ingress without a
//     class gets the default one, if it exists then; classes come first.
//   - Priority, RuntimeClass: a pod naming a missing PriorityClass or
//     RuntimeClass is rejected.
//   - ResourceQuota, LimitRanger: quotas and limits apply to what is created
//     after them (the engine waits for a restored quota's status: until the
//     quota controller sets it, admission rejects what the quota covers).
//   - ServiceAccount: a pod naming a missing service account is rejected.
//   - RBAC: a binding is rejected unless its role exists (or the creator may
//     bind anything); roles come before bindings.
//
// Workloads and pods come after all of these.
var DefaultResourcePriorities = []string{
	"customresourcedefinitions",
	"namespaces",
	"storageclasses.storage.k8s.io",
	"volumesnapshotclasses.snapshot.storage.k8s.io",
	"volumesnapshotcontents.snapshot.storage.k8s.io",
	"volumesnapshots.snapshot.storage.k8s.io",
	"priorityclasses.scheduling.k8s.io",
	"runtimeclasses.node.k8s.io",
	"ingressclasses.networking.k8s.io",
	"resourcequotas",
	"limitranges",
	"persistentvolumes",
	"persistentvolumeclaims",
	"secrets",
	"configmaps",
	"serviceaccounts",
	"clusterroles.rbac.authorization.k8s.io",
	"roles.rbac.authorization.k8s.io",
	"clusterrolebindings.rbac.authorization.k8s.io",
	"rolebindings.rbac.authorization.k8s.io",
}

func durationOr(d, fallback time.Duration) time.Duration {
	if d <= 0 {
		return fallback
	}
	return d
}

// EffectiveTTL is spec.ttl, or DefaultBackupTTL when unset.
func (s *BackupSpec) EffectiveTTL() time.Duration {
	return durationOr(s.TTL.Duration, DefaultBackupTTL)
}

// ShouldSnapshotVolumes is spec.snapshotVolumes, true when unset.
func (s *BackupSpec) ShouldSnapshotVolumes() bool {
	return s.SnapshotVolumes == nil || *s.SnapshotVolumes
}

// EffectiveTimeout is the hook's timeout, or DefaultHookTimeout when unset.
func (h *ExecHook) EffectiveTimeout() time.Duration {
	return durationOr(h.Timeout.Duration, DefaultHookTimeout)
}

// EffectiveOnError is the hook's onError, Continue when unset.
func (h *ExecHook) EffectiveOnError() HookErrorMode {
	if h.OnError == "" {
		return HookErrorModeContinue
	}
	return h.OnError
}

// ShouldRestorePVs is spec.restorePVs, true when unset.
func (s *RestoreSpec) ShouldRestorePVs() bool { return s.RestorePVs == nil || *s.RestorePVs }

// EffectiveBackupSyncPeriod is backupSyncPeriod, or its default.
func (c *Config) EffectiveBackupSyncPeriod() time.Duration {
	return durationOr(c.BackupSyncPeriod.Duration, DefaultBackupSyncPeriod)
}

// EffectiveGCSyncPeriod is gcSyncPeriod, or its default.
func (c *Config) EffectiveGCSyncPeriod() time.Duration {
	return durationOr(c.GCSyncPeriod.Duration, DefaultGCSyncPeriod)
}

// EffectiveScheduleSyncPeriod is scheduleSyncPeriod, or its default.
func (c *Config) EffectiveScheduleSyncPeriod() time.Duration {
	return durationOr(c.ScheduleSyncPeriod.Duration, DefaultScheduleSyncPeriod)
}

// EffectiveResourcePriorities is resourcePriorities, or DefaultResourcePriorities.
func (c *Config) EffectiveResourcePriorities() []string {
	if len(c.ResourcePriorities) == 0 {
		return append([]string(nil), DefaultResourcePriorities...)
	}
	return append([]string(nil), c.ResourcePriorities...)
}
