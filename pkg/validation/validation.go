// Package validation checks ark objects without asking the cluster: what can
// be known wrong from the object alone. Each function returns every problem it
// finds, as sentences for status.validationErrors; none means valid.
package validation

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/robfig/cron/v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/cloudprovider/factory"
	"github.com/heptio/ark/pkg/encryption"
	"github.com/heptio/ark/pkg/encryption/kms"
)

// CronParser parses schedules: five fields (minute hour day month weekday) and
// descriptors such as @daily.
var CronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// IncludesExcludes checks one include/exclude pair: "*" may only stand alone in
// includes, never in excludes, and nothing may be both included and excluded.
func IncludesExcludes(what string, includes, excludes []string) []string {
	var errs []string
	if len(includes) > 1 {
		for _, i := range includes {
			if i == "*" {
				errs = append(errs, fmt.Sprintf("included %s: \"*\" must be the only entry when given", what))
				break
			}
		}
	}
	inc := map[string]bool{}
	for _, i := range includes {
		inc[i] = true
	}
	for _, e := range excludes {
		if e == "*" {
			errs = append(errs, fmt.Sprintf("excluded %s: \"*\" is not allowed", what))
			continue
		}
		if inc[e] {
			errs = append(errs, fmt.Sprintf("%s %q is both included and excluded", what, e))
		}
	}
	return errs
}

func namespaceNames(what string, names []string) []string {
	var errs []string
	for _, n := range names {
		if n == "*" {
			continue
		}
		for _, msg := range utilvalidation.IsDNS1123Label(n) {
			errs = append(errs, fmt.Sprintf("%s %q is not a valid namespace name: %s", what, n, msg))
		}
	}
	return errs
}

func labelSelector(s *metav1.LabelSelector) []string {
	if s == nil {
		return nil
	}
	if _, err := metav1.LabelSelectorAsSelector(s); err != nil {
		return []string{fmt.Sprintf("invalid label selector: %v", err)}
	}
	return nil
}

// BackupSpec checks a backup's (or a schedule template's) spec; with res, the
// resource names of its filters must resolve (see ResourceFilters).
func BackupSpec(spec *arkv1.BackupSpec, res Resources) []string {
	var errs []string
	errs = append(errs, IncludesExcludes("namespace", spec.IncludedNamespaces, spec.ExcludedNamespaces)...)
	errs = append(errs, IncludesExcludes("resource", spec.IncludedResources, spec.ExcludedResources)...)
	errs = append(errs, ResourceFilters(res, spec.IncludedResources, spec.ExcludedResources)...)
	errs = append(errs, namespaceNames("included namespace", spec.IncludedNamespaces)...)
	errs = append(errs, namespaceNames("excluded namespace", spec.ExcludedNamespaces)...)
	errs = append(errs, labelSelector(spec.LabelSelector)...)
	if spec.TTL.Duration < 0 {
		errs = append(errs, fmt.Sprintf("ttl %s is negative", spec.TTL.Duration))
	}
	for i, h := range spec.Hooks.Resources {
		name := h.Name
		if name == "" {
			errs = append(errs, fmt.Sprintf("hooks.resources[%d]: name is required", i))
			name = fmt.Sprintf("#%d", i)
		}
		errs = append(errs, labelSelector(h.LabelSelector)...)
		for j, hook := range append(append([]arkv1.BackupResourceHook{}, h.Pre...), h.Post...) {
			switch {
			case hook.Exec == nil:
				errs = append(errs, fmt.Sprintf("hook %s[%d]: exec is required", name, j))
			case len(hook.Exec.Command) == 0:
				errs = append(errs, fmt.Sprintf("hook %s[%d]: exec.command is empty", name, j))
			case hook.Exec.OnError != "" && hook.Exec.OnError != arkv1.HookErrorModeContinue && hook.Exec.OnError != arkv1.HookErrorModeFail:
				errs = append(errs, fmt.Sprintf("hook %s[%d]: onError %q is not Continue or Fail", name, j, hook.Exec.OnError))
			case hook.Exec.Timeout.Duration < 0:
				errs = append(errs, fmt.Sprintf("hook %s[%d]: timeout is negative", name, j))
			}
		}
	}
	return errs
}

// RestoreSpec checks a restore's spec (not whether its backup exists); with
// res, the resource names of its filters must resolve (see ResourceFilters:
// the restore engine passes discovery plus the backup's own resources).
func RestoreSpec(spec *arkv1.RestoreSpec, res Resources) []string {
	var errs []string
	if spec.BackupName == "" {
		errs = append(errs, "backupName is required")
	}
	errs = append(errs, IncludesExcludes("namespace", spec.IncludedNamespaces, spec.ExcludedNamespaces)...)
	errs = append(errs, IncludesExcludes("resource", spec.IncludedResources, spec.ExcludedResources)...)
	errs = append(errs, ResourceFilters(res, spec.IncludedResources, spec.ExcludedResources)...)
	errs = append(errs, labelSelector(spec.LabelSelector)...)
	errs = append(errs, NamespaceMapping(spec.NamespaceMapping)...)
	if p := spec.ExistingResourcePolicy; p != "" && !slices.Contains(arkv1.ExistingResourcePolicies, p) {
		allowed := make([]string, len(arkv1.ExistingResourcePolicies))
		for i, a := range arkv1.ExistingResourcePolicies {
			allowed[i] = string(a)
		}
		errs = append(errs, fmt.Sprintf("existingResourcePolicy %q is not one of %s", p, strings.Join(allowed, ", ")))
	}
	return errs
}

// NamespaceMapping checks that every source and target is a namespace name and
// that no two sources map to one target (their objects would collide).
func NamespaceMapping(m map[string]string) []string {
	var errs []string
	sources := make([]string, 0, len(m))
	for src := range m {
		sources = append(sources, src)
	}
	sort.Strings(sources)
	bySource := map[string]string{}
	for _, src := range sources {
		dst := m[src]
		for _, msg := range utilvalidation.IsDNS1123Label(src) {
			errs = append(errs, fmt.Sprintf("namespace mapping %s:%s: source is not a valid namespace name: %s", src, dst, msg))
		}
		for _, msg := range utilvalidation.IsDNS1123Label(dst) {
			errs = append(errs, fmt.Sprintf("namespace mapping %s:%s: target is not a valid namespace name: %s", src, dst, msg))
		}
		if other, ok := bySource[dst]; ok {
			errs = append(errs, fmt.Sprintf("namespace mapping: %s and %s both map to %s", other, src, dst))
		}
		bySource[dst] = src
	}
	return errs
}

// ProtectedNamespaces are the namespaces a namespace mapping may target only
// with the restore's allowProtectedNamespaceTargets: the cluster's own, and
// (added by ProtectedNamespaceTargets) the ark server's.
var ProtectedNamespaces = []string{"kube-system", "kube-public", "kube-node-lease"}

// ProtectedNamespaceTargets returns an error for each mapping of spec whose
// target is a protected namespace (ProtectedNamespaces or serverNamespace),
// unless spec.AllowProtectedNamespaceTargets is set.
func ProtectedNamespaceTargets(spec *arkv1.RestoreSpec, serverNamespace string) []string {
	if spec.AllowProtectedNamespaceTargets {
		return nil
	}
	protected := map[string]string{serverNamespace: "the ark server's namespace"}
	for _, ns := range ProtectedNamespaces {
		protected[ns] = "a namespace of the cluster's own components"
	}
	sources := make([]string, 0, len(spec.NamespaceMapping))
	for src := range spec.NamespaceMapping {
		sources = append(sources, src)
	}
	sort.Strings(sources)
	var errs []string
	for _, src := range sources {
		dst := spec.NamespaceMapping[src]
		if what, ok := protected[dst]; ok && dst != "" {
			errs = append(errs, fmt.Sprintf("namespace mapping %s:%s: %s is %s; set allowProtectedNamespaceTargets (ark restore create --allow-protected-namespace-targets) to restore into it", src, dst, dst, what))
		}
	}
	return errs
}

// Schedule checks a schedule's cron expression and template (with res, as
// BackupSpec does).
func Schedule(spec *arkv1.ScheduleSpec, res Resources) []string {
	var errs []string
	if spec.Schedule == "" {
		errs = append(errs, "schedule is required: a cron expression such as \"0 7 * * *\"")
	} else if _, err := CronParser.Parse(spec.Schedule); err != nil {
		errs = append(errs, fmt.Sprintf("invalid schedule %q: %v", spec.Schedule, err))
	}
	return append(errs, BackupSpec(&spec.Template, res)...)
}

func oneOf(name string, allowed []string) bool {
	for _, a := range allowed {
		if a == name {
			return true
		}
	}
	return false
}

// Config checks the server's Config.
func Config(c *arkv1.Config) []string {
	var errs []string
	p := c.BackupStorageProvider
	switch {
	case p.Name == "":
		errs = append(errs, fmt.Sprintf("backupStorageProvider.name is required (one of %v)", factory.ObjectStoreNames()))
	case !oneOf(p.Name, factory.ObjectStoreNames()):
		errs = append(errs, fmt.Sprintf("backupStorageProvider.name %q is not one of %v", p.Name, factory.ObjectStoreNames()))
	}
	if p.Bucket == "" {
		errs = append(errs, "backupStorageProvider.bucket is required")
	}
	if v := c.PersistentVolumeProvider; v != nil && !oneOf(v.Name, factory.VolumeProviderNames()) {
		errs = append(errs, fmt.Sprintf("persistentVolumeProvider.name %q is not one of %v", v.Name, factory.VolumeProviderNames()))
	}
	for name, d := range map[string]metav1.Duration{"backupSyncPeriod": c.BackupSyncPeriod, "gcSyncPeriod": c.GCSyncPeriod, "scheduleSyncPeriod": c.ScheduleSyncPeriod} {
		if d.Duration < 0 {
			errs = append(errs, fmt.Sprintf("%s %s is negative", name, d.Duration))
		}
	}
	errs = append(errs, encryptionConfig(c)...)
	sort.Strings(errs)
	return errs
}

// encryptionConfig checks Config.encryption: each recipient parses (encryption.ParseRecipient),
// and a Config that encrypts names the Secret of identities, without which its own backups
// could not be restored, unless one recipient is a KMS key (which decrypts what it wrapped).
// A Velero bucket is read-only, so there is nothing to encrypt.
func encryptionConfig(c *arkv1.Config) []string {
	e := c.Encryption
	if e == nil {
		return nil
	}
	var errs []string
	decrypts := false // a KMS recipient is also an identity
	for i, r := range e.Recipients {
		if _, err := encryption.ParseRecipient(r); err != nil {
			errs = append(errs, fmt.Sprintf("encryption.recipients[%d]: %v", i, err))
		} else if kms.IsURI(strings.TrimSpace(r)) {
			decrypts = true
		}
	}
	switch s := e.IdentitySecret; {
	case s == nil && decrypts:
	case s == nil && len(e.Recipients) > 0:
		errs = append(errs, "encryption.identitySecret is required with encryption.recipients: without an identity the server cannot restore its own backups")
	case s == nil:
		errs = append(errs, "encryption needs recipients (to encrypt new backups) or identitySecret (to decrypt backups)")
	case len(utilvalidation.IsDNS1123Subdomain(s.Name)) > 0:
		errs = append(errs, fmt.Sprintf("encryption.identitySecret.name %q is not a valid Secret name", s.Name))
	case s.Key != "" && len(utilvalidation.IsConfigMapKey(s.Key)) > 0:
		errs = append(errs, fmt.Sprintf("encryption.identitySecret.key %q is not a valid Secret key", s.Key))
	}
	return errs
}
