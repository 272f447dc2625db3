package restore

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// namespaceRef is a field the Kubernetes API defines as naming a namespace,
// as a path through the object: "*" steps into every element of a list.
// When only some elements name a namespace (RBAC subjects: only those of
// kind ServiceAccount), when says which.
type namespaceRef struct {
	path []string
	when func(elem map[string]any) bool
}

func ref(path string) namespaceRef { return namespaceRef{path: strings.Split(path, ".")} }

// serviceAccountSubject: of an RBAC subject, only a ServiceAccount's
// namespace is a namespace reference (a User or Group has none); see
// rbac.authorization.k8s.io/v1 Subject.
func serviceAccountSubject(m map[string]any) bool { return m["kind"] == "ServiceAccount" }

// podSpecRefs are the namespace references of a PodSpec: the namespaces
// pod (anti-)affinity terms select pods in (core/v1 PodAffinityTerm).
var podSpecRefs = func() []string {
	var out []string
	for _, a := range []string{"podAffinity", "podAntiAffinity"} {
		out = append(out,
			"affinity."+a+".requiredDuringSchedulingIgnoredDuringExecution.*.namespaces.*",
			"affinity."+a+".preferredDuringSchedulingIgnoredDuringExecution.*.podAffinityTerm.namespaces.*")
	}
	return out
}()

// secretRefs are the SecretReferences (name and namespace) of a
// PersistentVolume's sources (core/v1 PersistentVolumeSpec).
var pvSecretRefs = []string{
	"spec.csi.controllerPublishSecretRef.namespace", "spec.csi.nodeStageSecretRef.namespace",
	"spec.csi.nodePublishSecretRef.namespace", "spec.csi.controllerExpandSecretRef.namespace",
	"spec.csi.nodeExpandSecretRef.namespace",
	"spec.rbd.secretRef.namespace", "spec.cephfs.secretRef.namespace", "spec.iscsi.secretRef.namespace",
	"spec.scaleIO.secretRef.namespace", "spec.storageos.secretRef.namespace", "spec.azureFile.secretNamespace",
}

// namespaceRefs lists, by group-resource, the fields that name a namespace.
// A restore with namespace mappings rewrites those that name a mapped
// namespace, so that a restored object points into the restored copy and
// never grants or reaches into the source namespace. PV claimRefs are
// rewritten with the PV (transformPV).
var namespaceRefs = func() map[string][]namespaceRef {
	m := map[string][]namespaceRef{
		"rolebindings.rbac.authorization.k8s.io":        {{path: []string{"subjects", "*", "namespace"}, when: serviceAccountSubject}},
		"clusterrolebindings.rbac.authorization.k8s.io": {{path: []string{"subjects", "*", "namespace"}, when: serviceAccountSubject}},
		// Webhooks and aggregated APIs served by a Service of the backup.
		"mutatingwebhookconfigurations.admissionregistration.k8s.io":   {ref("webhooks.*.clientConfig.service.namespace")},
		"validatingwebhookconfigurations.admissionregistration.k8s.io": {ref("webhooks.*.clientConfig.service.namespace")},
		"apiservices.apiregistration.k8s.io":                           {ref("spec.service.namespace")},
		"customresourcedefinitions.apiextensions.k8s.io":               {ref("spec.conversion.webhook.clientConfig.service.namespace")},
		// Namespace-scoped parameters of an IngressClass.
		"ingressclasses.networking.k8s.io": {ref("spec.parameters.namespace")},
		// A cross-namespace data source of a claim.
		"persistentvolumeclaims": {ref("spec.dataSourceRef.namespace")},
		// The VolumeSnapshot a pre-provisioned content is bound to.
		"volumesnapshotcontents.snapshot.storage.k8s.io": {ref("spec.volumeSnapshotRef.namespace")},
	}
	for _, p := range pvSecretRefs {
		m["persistentvolumes"] = append(m["persistentvolumes"], ref(p))
	}
	for gr, prefix := range map[string]string{
		"pods": "spec", "podtemplates": "template.spec",
		"deployments.apps": "spec.template.spec", "replicasets.apps": "spec.template.spec",
		"statefulsets.apps": "spec.template.spec", "daemonsets.apps": "spec.template.spec",
		"replicationcontrollers": "spec.template.spec", "jobs.batch": "spec.template.spec",
		"cronjobs.batch": "spec.jobTemplate.spec.template.spec",
	} {
		for _, p := range podSpecRefs {
			m[gr] = append(m[gr], ref(prefix+"."+p))
		}
	}
	return m
}()

// mapNamespaceRefs rewrites obj's namespace references (namespaceRefs) that
// name a mapped namespace. It returns how many it rewrote.
func (s *run) mapNamespaceRefs(gr schema.GroupResource, obj *unstructured.Unstructured) int {
	if len(s.restore.Spec.NamespaceMapping) == 0 {
		return 0
	}
	n := 0
	for _, r := range namespaceRefs[gr.String()] {
		n += mapAt(obj.Object, r.path, r.when, s.mapNamespace)
	}
	return n
}

// mapAt rewrites the strings at path under v with f; "*" steps into every
// element of a list, and when (if set) filters the list's elements.
func mapAt(v any, path []string, when func(map[string]any) bool, f func(string) string) int {
	if len(path) == 0 {
		return 0
	}
	key, rest := path[0], path[1:]
	if key == "*" {
		l, _ := v.([]any)
		n := 0
		for i, e := range l {
			if len(rest) == 0 {
				if s, ok := e.(string); ok && f(s) != s {
					l[i] = f(s)
					n++
				}
				continue
			}
			if m, ok := e.(map[string]any); ok && when != nil && !when(m) {
				continue
			}
			n += mapAt(e, rest, when, f)
		}
		return n
	}
	m, ok := v.(map[string]any)
	if !ok {
		return 0
	}
	if len(rest) == 0 {
		if s, ok := m[key].(string); ok && s != "" && f(s) != s {
			m[key] = f(s)
			return 1
		}
		return 0
	}
	return mapAt(m[key], rest, when, f)
}
