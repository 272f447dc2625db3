//go:build integration

package restore

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	nodev1 "k8s.io/api/node/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	clientdiscovery "k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"

	arkv1 "github.com/heptio/ark/pkg/apis/ark/v1"
	"github.com/heptio/ark/pkg/backup"
	"github.com/heptio/ark/pkg/discovery"
	"github.com/heptio/ark/pkg/format"
)

// Regression tests for issue 16: restores that did not bring back what was
// backed up, from operators' reports. Each runs on the real control plane.

// fixedNamespace creates the namespace name (deleting a leftover first) and
// deletes it when the test ends: the regression inputs use fixed names.
func fixedNamespace(t *testing.T, name string, create bool) {
	t.Helper()
	ctx := context.Background()
	if err := testCluster.DeleteNamespaceAndWait(ctx, name, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testCluster.DeleteNamespaceAndWait(context.Background(), name, 2*time.Minute) })
	if create {
		if _, err := testCluster.Client().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// backupWithEngine backs up with ark's backup engine, as the server does.
func backupWithEngine(t *testing.T, spec arkv1.BackupSpec) []byte {
	t.Helper()
	dc, err := clientdiscovery.NewDiscoveryClientForConfig(testCluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	spec.SnapshotVolumes = ptr.To(false)
	b := backup.NewBackupper(discovery.NewHelper(dc), testCluster.Dynamic(), nil, nil, nil)
	var contents, blog bytes.Buffer
	bk := &arkv1.Backup{ObjectMeta: metav1.ObjectMeta{Namespace: "heptio-ark", Name: "fidelity"}, Spec: spec}
	if _, err := b.Backup(context.Background(), bk, &contents, &blog, nil); err != nil {
		t.Fatalf("backup: %v\n%s", err, blog.String())
	}
	return contents.Bytes()
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// Issue 16, input 1: a RoleBinding's ServiceAccount subject follows the
// namespace mapping, so the restored account, not the source's, is granted.
func TestIntegrationRestoreMapsRoleBindingSubjects(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	fixedNamespace(t, "rb-src", true)
	fixedNamespace(t, "rb-dst", false)
	must[*corev1.ServiceAccount](t)(kube.CoreV1().ServiceAccounts("rb-src").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "worker"}}, metav1.CreateOptions{}))
	must[*rbacv1.Role](t)(kube.RbacV1().Roles("rb-src").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "cm-reader"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list"}}},
	}, metav1.CreateOptions{}))
	must[*rbacv1.RoleBinding](t)(kube.RbacV1().RoleBindings("rb-src").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "worker-reads"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "cm-reader"},
		Subjects: []rbacv1.Subject{
			{Kind: "ServiceAccount", Namespace: "rb-src", Name: "worker"},
			// Not namespace references: left as they are.
			{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "rb-src"},
		},
	}, metav1.CreateOptions{}))
	contents := backupWithEngine(t, arkv1.BackupSpec{IncludedNamespaces: []string{"rb-src"}})

	res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("rb", func(s *arkv1.RestoreSpec) {
		s.NamespaceMapping = map[string]string{"rb-src": "rb-dst"}
	}), contents)
	if res.Results.ErrorCount() != 0 {
		t.Fatalf("errors %v\n%s", res.Results.Errors, log)
	}
	rb := must[*rbacv1.RoleBinding](t)(kube.RbacV1().RoleBindings("rb-dst").Get(ctx, "worker-reads", metav1.GetOptions{}))
	want := []rbacv1.Subject{
		{Kind: "ServiceAccount", Namespace: "rb-dst", Name: "worker"},
		{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: "rb-src"},
	}
	if len(rb.Subjects) != 2 || rb.Subjects[0] != want[0] || rb.Subjects[1] != want[1] {
		t.Errorf("subjects %+v, want %+v", rb.Subjects, want)
	}
	for _, tc := range []struct {
		user string
		want bool
	}{
		{"system:serviceaccount:rb-dst:worker", true},
		{"system:serviceaccount:rb-src:worker", false}, // the source's account gains nothing in rb-dst
	} {
		sar := must[*authorizationv1.SubjectAccessReview](t)(kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:               tc.user,
			ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: "rb-dst", Verb: "get", Resource: "configmaps"},
		}}, metav1.CreateOptions{}))
		if sar.Status.Allowed != tc.want {
			t.Errorf("%s get configmaps in rb-dst: allowed=%t, want %t (%s)", tc.user, sar.Status.Allowed, tc.want, sar.Status.Reason)
		}
	}
	// The source is untouched.
	src := must[*rbacv1.RoleBinding](t)(kube.RbacV1().RoleBindings("rb-src").Get(ctx, "worker-reads", metav1.GetOptions{}))
	if src.Subjects[0].Namespace != "rb-src" {
		t.Errorf("source binding changed: %+v", src.Subjects)
	}
}

// Issue 16, input 2: a Pod's cluster-scoped prerequisite (its PriorityClass)
// is restored before it, and so are its namespaced ones (a ResourceQuota
// covering pods, a LimitRange, its ServiceAccount, a RuntimeClass), all of
// which admission checks when the Pod is created.
func TestIntegrationRestoreOrderPrerequisites(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	fixedNamespace(t, "pc-src", true)
	deletePC := func() {
		err := kube.SchedulingV1().PriorityClasses().Delete(ctx, "high", metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		err = kube.NodeV1().RuntimeClasses().Delete(ctx, "pc-sandbox", metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	deletePC()
	t.Cleanup(deletePC)
	must[*schedulingv1.PriorityClass](t)(kube.SchedulingV1().PriorityClasses().Create(ctx, &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000}, metav1.CreateOptions{}))
	must[*nodev1.RuntimeClass](t)(kube.NodeV1().RuntimeClasses().Create(ctx, &nodev1.RuntimeClass{ObjectMeta: metav1.ObjectMeta{Name: "pc-sandbox"}, Handler: "runc"}, metav1.CreateOptions{}))
	must[*corev1.ServiceAccount](t)(kube.CoreV1().ServiceAccounts("pc-src").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "runner"}}, metav1.CreateOptions{}))
	must[*corev1.ResourceQuota](t)(kube.CoreV1().ResourceQuotas("pc-src").Create(ctx, &corev1.ResourceQuota{
		ObjectMeta: metav1.ObjectMeta{Name: "pods"},
		Spec:       corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"count/pods": resource.MustParse("10"), "limits.memory": resource.MustParse("1Gi")}},
	}, metav1.CreateOptions{}))
	must[*corev1.LimitRange](t)(kube.CoreV1().LimitRanges("pc-src").Create(ctx, &corev1.LimitRange{
		ObjectMeta: metav1.ObjectMeta{Name: "mem"},
		Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{Type: corev1.LimitTypeContainer,
			Default: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")}}}},
	}, metav1.CreateOptions{}))
	// The quota covers limits.memory: admission rejects a pod without a limit
	// unless the LimitRange gave it one, and any pod until the quota has a status.
	waitQuota := func() {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
			q, err := kube.CoreV1().ResourceQuotas("pc-src").Get(ctx, "pods", metav1.GetOptions{})
			return err == nil && len(q.Status.Hard) > 0, nil
		})
		if err != nil {
			t.Fatal("quota without status:", err)
		}
	}
	waitQuota()
	pod := must[*corev1.Pod](t)(kube.CoreV1().Pods("pc-src").Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: corev1.PodSpec{PriorityClassName: "high", ServiceAccountName: "runner", RuntimeClassName: ptr.To("pc-sandbox"),
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}},
	}, metav1.CreateOptions{}))
	if pod.Spec.Priority == nil || *pod.Spec.Priority != 1000 {
		t.Fatalf("source pod priority %v", pod.Spec.Priority)
	}
	contents := backupWithEngine(t, arkv1.BackupSpec{IncludedNamespaces: []string{"pc-src"}, IncludeClusterResources: ptr.To(true)})

	// Delete both.
	if err := testCluster.DeleteNamespaceAndWait(ctx, "pc-src", 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	deletePC()

	res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("pc", nil), contents)
	if res.Results.ErrorCount() != 0 {
		t.Fatalf("errors (the restore would be PartiallyFailed): %v\n%s", res.Results.Errors, log)
	}
	got := must[*corev1.Pod](t)(kube.CoreV1().Pods("pc-src").Get(ctx, "app", metav1.GetOptions{}))
	if got.Spec.Priority == nil || *got.Spec.Priority != 1000 || got.Spec.PriorityClassName != "high" {
		t.Errorf("restored pod: priority %v class %q, want 1000 high", got.Spec.Priority, got.Spec.PriorityClassName)
	}
	if got.Spec.ServiceAccountName != "runner" || got.Spec.Containers[0].Resources.Limits.Memory().String() != "64Mi" {
		t.Errorf("restored pod: service account %q, limits %v", got.Spec.ServiceAccountName, got.Spec.Containers[0].Resources.Limits)
	}
	pc := must[*schedulingv1.PriorityClass](t)(kube.SchedulingV1().PriorityClasses().Get(ctx, "high", metav1.GetOptions{}))
	if pc.Value != 1000 {
		t.Errorf("priority class value %d", pc.Value)
	}
}

// Issue 16, item 3: the objects the cluster makes in every namespace (the
// default ServiceAccount, kube-root-ca.crt) get what the user set on them
// merged in, and the results say so; none is an "already exists" warning.
func TestIntegrationRestoreMergesClusterMadeObjects(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	src := testCluster.NewNamespace(t)
	waitObj := func(what string, get func() error) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) { return get() == nil, nil }); err != nil {
			t.Fatalf("%s never appeared: %v", what, err)
		}
	}
	waitObj("default service account", func() error {
		_, err := kube.CoreV1().ServiceAccounts(src).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	waitObj("kube-root-ca.crt", func() error {
		_, err := kube.CoreV1().ConfigMaps(src).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err
	})
	sa := must[*corev1.ServiceAccount](t)(kube.CoreV1().ServiceAccounts(src).Get(ctx, "default", metav1.GetOptions{}))
	sa.Labels = map[string]string{"team": "payments"}
	sa.Annotations = map[string]string{"example.com/owner": "alice"}
	sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: "registry-creds"}}
	must[*corev1.ServiceAccount](t)(kube.CoreV1().ServiceAccounts(src).Update(ctx, sa, metav1.UpdateOptions{}))
	ca := must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(src).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}))
	clusterCA := ca.Data["ca.crt"]
	ca.Labels = map[string]string{"team": "payments"}
	must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(src).Update(ctx, ca, metav1.UpdateOptions{}))
	contents := backupWithEngine(t, arkv1.BackupSpec{IncludedNamespaces: []string{src}})

	check := func(ns string) {
		t.Helper()
		waitObj("merged default service account", func() error {
			got, err := kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			if err == nil && (got.Labels["team"] != "payments" || got.Annotations["example.com/owner"] != "alice" ||
				len(got.ImagePullSecrets) != 1 || got.ImagePullSecrets[0].Name != "registry-creds") {
				err = fmt.Errorf("default service account %+v", got)
			}
			return err
		})
		waitObj("root CA config map with the label and the cluster's CA", func() error {
			got, err := kube.CoreV1().ConfigMaps(ns).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			if err == nil && (got.Labels["team"] != "payments" || got.Data["ca.crt"] != clusterCA) {
				err = fmt.Errorf("kube-root-ca.crt %+v", got)
			}
			return err
		})
	}
	noExistingWarnings := func(res *Result, log string) {
		t.Helper()
		if res.Results.ErrorCount() != 0 {
			t.Fatalf("errors %v\n%s", res.Results.Errors, log)
		}
		for ns, ws := range res.Results.Warnings {
			for _, w := range ws {
				if strings.Contains(w, "default") || strings.Contains(w, "kube-root-ca.crt") {
					t.Errorf("warning in %q: %s", ns, w)
				}
			}
		}
	}

	// Into an existing namespace: the cluster made both; the user's content
	// is merged, and listed.
	dst := testCluster.NewNamespace(t)
	waitObj("default service account in the target", func() error {
		_, err := kube.CoreV1().ServiceAccounts(dst).Get(ctx, "default", metav1.GetOptions{})
		return err
	})
	waitObj("kube-root-ca.crt in the target", func() error {
		_, err := kube.CoreV1().ConfigMaps(dst).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		return err
	})
	restore := newRestore("merge", func(s *arkv1.RestoreSpec) { s.NamespaceMapping = map[string]string{src: dst} })
	res, log := runRealRestore(t, newRealRestorer(t, Options{}), restore, contents)
	noExistingWarnings(res, log)
	check(dst)
	updated := strings.Join(res.Results.Updated[dst], "\n")
	for _, want := range []string{
		"serviceaccounts " + dst + "/default: made by the cluster; merged from the backup: label team, annotation example.com/owner, imagePullSecret registry-creds",
		"configmaps " + dst + "/kube-root-ca.crt: made by the cluster; merged from the backup: label team",
	} {
		if !strings.Contains(updated, want) {
			t.Errorf("results' updated lack %q:\n%s", want, updated)
		}
	}
	// Again: nothing left to merge, so both are unchanged, not warnings.
	res, log = runRealRestore(t, newRealRestorer(t, Options{}), newRestore("merge-again", func(s *arkv1.RestoreSpec) { s.NamespaceMapping = map[string]string{src: dst} }), contents)
	noExistingWarnings(res, log)
	if res.Updated != 0 || res.Unchanged < 2 {
		t.Errorf("second restore: updated %d unchanged %d, want 0 and >= 2: %v", res.Updated, res.Unchanged, res.Results.Updated)
	}

	// Into a namespace the restore creates: whether the cluster or the
	// restore makes them first, they end up with the user's content.
	if err := testCluster.DeleteNamespaceAndWait(ctx, src, 2*time.Minute); err != nil {
		t.Fatal(err)
	}
	res, log = runRealRestore(t, newRealRestorer(t, Options{}), newRestore("merge-new", nil), contents)
	noExistingWarnings(res, log)
	check(src)
}

// Issue 16, item 4: existingResourcePolicy update brings existing objects to
// their backed-up state by server-side apply, listing each; fields the
// backup does not hold (set by others since) stay; objects equal to the
// backup are unchanged. Policy none leaves a changed object untouched, with
// a warning.
func TestIntegrationRestoreExistingResourcePolicy(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	ns := testCluster.NewNamespace(t)
	must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Labels: map[string]string{"app": "web"}},
		Data:       map[string]string{"mode": "safe"},
	}, metav1.CreateOptions{}))
	must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "untouched"}, Data: map[string]string{"k": "v"},
	}, metav1.CreateOptions{}))
	createNginx(t, ns)
	contents := backupWithEngine(t, arkv1.BackupSpec{IncludedNamespaces: []string{ns}})

	// Drift: data changed, a label added by someone else, the deployment scaled.
	cm := must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{}))
	cm.Data["mode"] = "unsafe"
	cm.Labels["added-later"] = "yes"
	must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(ns).Update(ctx, cm, metav1.UpdateOptions{}))
	d := must[*appsv1.Deployment](t)(kube.AppsV1().Deployments(ns).Get(ctx, "nginx-deployment", metav1.GetOptions{}))
	d.Spec.Replicas = ptr.To[int32](5)
	must[*appsv1.Deployment](t)(kube.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{}))

	// none: left as they are, the changed ones are warnings.
	res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("policy-none", nil), contents)
	if res.Results.ErrorCount() != 0 || res.Updated != 0 {
		t.Fatalf("errors %v updated %v\n%s", res.Results.Errors, res.Results.Updated, log)
	}
	warnings := strings.Join(res.Results.Warnings[ns], "\n")
	for _, want := range []string{"configmaps " + ns + "/settings: already exists", "deployments.apps " + ns + "/nginx-deployment: already exists"} {
		if !strings.Contains(warnings, want) {
			t.Errorf("policy none: warnings lack %q:\n%s", want, warnings)
		}
	}
	if strings.Contains(warnings, "untouched:") || res.Unchanged == 0 {
		t.Errorf("policy none: the object equal to its backup is not unchanged: unchanged %d, warnings\n%s", res.Unchanged, warnings)
	}
	if got := must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})); got.Data["mode"] != "unsafe" {
		t.Errorf("policy none overwrote: %v", got.Data)
	}

	// update: brought back, each listed; the label added since stays.
	update := func(s *arkv1.RestoreSpec) { s.ExistingResourcePolicy = arkv1.ExistingResourcePolicyUpdate }
	res, log = runRealRestore(t, newRealRestorer(t, Options{}), newRestore("policy-update", update), contents)
	if res.Results.ErrorCount() != 0 || res.Results.WarningCount() != 0 {
		t.Fatalf("errors %v warnings %v\n%s", res.Results.Errors, res.Results.Warnings, log)
	}
	if res.Updated != 2 {
		t.Errorf("updated %d, want 2: %v", res.Updated, res.Results.Updated)
	}
	updated := strings.Join(res.Results.Updated[ns], "\n")
	for _, want := range []string{"configmaps " + ns + "/settings: updated to its backed-up state (data", "deployments.apps " + ns + "/nginx-deployment: updated to its backed-up state (", "spec"} {
		if !strings.Contains(updated, want) {
			t.Errorf("updated lack %q:\n%s", want, updated)
		}
	}
	got := must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{}))
	if got.Data["mode"] != "safe" || got.Labels["added-later"] != "yes" || got.Labels[format.RestoreNameLabel] != "policy-update" {
		t.Errorf("settings after update: data %v labels %v", got.Data, got.Labels)
	}
	owned := false
	for _, mf := range got.ManagedFields {
		owned = owned || (mf.Manager == FieldManager && mf.Operation == metav1.ManagedFieldsOperationApply)
	}
	if !owned {
		t.Errorf("no apply by field manager %q: %+v", FieldManager, got.ManagedFields)
	}
	if d := must[*appsv1.Deployment](t)(kube.AppsV1().Deployments(ns).Get(ctx, "nginx-deployment", metav1.GetOptions{})); *d.Spec.Replicas != 2 {
		t.Errorf("deployment replicas %d, want the backup's 2", *d.Spec.Replicas)
	}
	unchangedCM := must[*corev1.ConfigMap](t)(kube.CoreV1().ConfigMaps(ns).Get(ctx, "untouched", metav1.GetOptions{}))
	if _, ok := unchangedCM.Labels[format.RestoreNameLabel]; ok {
		t.Errorf("an object equal to its backup was written: %v", unchangedCM.Labels)
	}

	// Again: all equal now.
	res, log = runRealRestore(t, newRealRestorer(t, Options{}), newRestore("policy-update-2", update), contents)
	if res.Results.ErrorCount() != 0 || res.Results.WarningCount() != 0 || res.Updated != 0 || res.Unchanged == 0 {
		t.Fatalf("second update: errors %v warnings %v updated %v unchanged %d\n%s", res.Results.Errors, res.Results.Warnings, res.Results.Updated, res.Unchanged, log)
	}
}

// Issue 16, item 5: preserveNodePorts keeps a Service's node port when it is
// free, and when it is taken restores the Service with a new one and a
// warning.
func TestIntegrationRestorePreserveNodePorts(t *testing.T) {
	ctx := context.Background()
	kube := testCluster.Client()
	src := testCluster.NewNamespace(t)
	svc := must[*corev1.Service](t)(kube.CoreV1().Services(src).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
			Ports: []corev1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}))
	port := svc.Spec.Ports[0].NodePort
	contents := backupWithEngine(t, arkv1.BackupSpec{IncludedNamespaces: []string{src}})
	preserve := func(dst string) *arkv1.Restore {
		return newRestore("np-"+dst, func(s *arkv1.RestoreSpec) {
			s.NamespaceMapping = map[string]string{src: dst}
			s.PreserveNodePorts = ptr.To(true)
		})
	}

	// The source still holds the port: a new one, with a warning.
	taken := targetNamespace(t, "np-taken")
	res, log := runRealRestore(t, newRealRestorer(t, Options{}), preserve(taken), contents)
	if res.Results.ErrorCount() != 0 {
		t.Fatalf("errors %v\n%s", res.Results.Errors, log)
	}
	got := must[*corev1.Service](t)(kube.CoreV1().Services(taken).Get(ctx, "web", metav1.GetOptions{}))
	if p := got.Spec.Ports[0].NodePort; p == 0 || p == port {
		t.Errorf("node port %d while the source holds %d", p, port)
	}
	if w := strings.Join(res.Results.Warnings[taken], "\n"); !strings.Contains(w, fmt.Sprintf("services %s/web: node ports not kept, the cluster chose new ones (nodePort %d)", taken, port)) {
		t.Errorf("warnings:\n%s", w)
	}

	// Free: kept.
	if err := kube.CoreV1().Services(src).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	free := targetNamespace(t, "np-free")
	res, log = runRealRestore(t, newRealRestorer(t, Options{}), preserve(free), contents)
	if res.Results.ErrorCount() != 0 || res.Results.WarningCount() != 0 {
		t.Fatalf("errors %v warnings %v\n%s", res.Results.Errors, res.Results.Warnings, log)
	}
	if p := must[*corev1.Service](t)(kube.CoreV1().Services(free).Get(ctx, "web", metav1.GetOptions{})).Spec.Ports[0].NodePort; p != port {
		t.Errorf("node port %d, want the backup's %d", p, port)
	}
}

// Issue 16, item 6: a backup written by Velero may hold Velero's own objects
// (group velero.io, its CRDs installed): they are never restored; the rest is.
func TestIntegrationRestoreSkipsVeleroObjects(t *testing.T) {
	ctx := context.Background()
	if err := testCluster.ApplyCRDs(ctx, "testdata/velero-crds"); err != nil {
		t.Fatal(err)
	}
	src := testCluster.NewNamespace(t)
	dst := targetNamespace(t, "velero-dst")
	contents := makeTarball(t,
		file("metadata/version", []byte("1.1.0\n")),
		item(t, "backups.velero.io", obj("velero.io/v1", "Backup", src, "nightly", map[string]any{"spec": map[string]any{"includedNamespaces": []any{"*"}}})),
		item(t, "schedules.velero.io", obj("velero.io/v1", "Schedule", src, "daily", map[string]any{"spec": map[string]any{"schedule": "0 1 * * *"}})),
		item(t, "configmaps", cm(src, "app-config")),
	)
	res, log := runRealRestore(t, newRealRestorer(t, Options{}), newRestore("velero-own", func(s *arkv1.RestoreSpec) {
		s.NamespaceMapping = map[string]string{src: dst}
	}), contents)
	if res.Results.ErrorCount() != 0 || res.Skipped != 2 {
		t.Fatalf("errors %v skipped %d\n%s", res.Results.Errors, res.Skipped, log)
	}
	must[*corev1.ConfigMap](t)(testCluster.Client().CoreV1().ConfigMaps(dst).Get(ctx, "app-config", metav1.GetOptions{}))
	for _, r := range []string{"backups", "schedules"} {
		l, err := testCluster.Dynamic().Resource(schemaGVR("velero.io", "v1", r)).Namespace(dst).List(ctx, metav1.ListOptions{})
		if err != nil || len(l.Items) != 0 {
			t.Errorf("velero %s in %s: %v %v", r, dst, l, err)
		}
	}
	if !strings.Contains(log, "Velero's own resources are not restored") {
		t.Errorf("log lacks the reason:\n%s", log)
	}
}
