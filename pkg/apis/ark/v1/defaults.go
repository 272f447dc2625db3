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
var DefaultResourcePriorities = []string{
	"customresourcedefinitions",
	"namespaces",
	"persistentvolumes",
	"persistentvolumeclaims",
	"secrets",
	"configmaps",
	"serviceaccounts",
	"limitranges",
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
